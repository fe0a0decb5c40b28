"""The two-tower retrieval module and its in-batch sampled softmax loss.

Each tower maps an id (and, optionally, that entity's feature row through a
small dense network) to a unit vector; a user's score for an item is the
cosine of their vectors divided by a temperature. In training,
``forward(users, items)`` returns the ``(B, B)`` logits of every user of the
batch against every positive item of the batch (the other rows' positives
are the sampled negatives), less ``log q`` of each item when a popularity
``log_q`` is given (the sampling-bias correction of Yi et al., 2019).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._ncf_modules import dense_tower

__all__ = ["InBatchSoftmaxLoss", "TwoTowerModule"]


class _Normalize(torch.autograd.Function):
    """``F.normalize(x, dim=-1)`` with its backward in one expression.

    The gradient ``(dy - y (y . dy)) / |x|`` (``dy / eps`` where the norm
    is clamped to ``eps``) takes about half the passes of autograd through
    the division, the clamp and the norm (tested equal to it).
    """

    @staticmethod
    def forward(ctx, x, eps=1e-12):
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min_(eps)
        y = x / norm
        ctx.save_for_backward(y, norm)
        ctx.eps = eps
        return y

    @staticmethod
    def backward(ctx, grad):
        y, norm = ctx.saved_tensors
        dot = (y * grad).sum(-1, keepdim=True)
        clamped = norm <= ctx.eps
        if clamped.any():
            dot.masked_fill_(clamped, 0.0)
        return (grad - y * dot).div_(norm), None


def normalize(x):
    """Unit rows of ``x`` (zero rows stay zero), as ``F.normalize(x, dim=-1)``."""
    return _Normalize.apply(x) if torch.is_grad_enabled() and x.requires_grad \
        else F.normalize(x, dim=-1)


class _Tower(nn.Module):
    """Id embedding plus a dense network over a fixed feature table, normalised."""

    def __init__(self, n_rows, n_factors, features, hidden_layers, init_std, sparse):
        super().__init__()
        self.ids = nn.Embedding(n_rows, n_factors, sparse=sparse)
        nn.init.normal_(self.ids.weight, std=init_std)
        self.register_buffer("features", features)
        self.net = None
        if features is not None:
            sizes = (features.shape[1], *hidden_layers)
            self.net = nn.Sequential(dense_tower(sizes), nn.Linear(sizes[-1], n_factors))

    def forward(self, rows=None, features=None, id_dropout=0.0):
        """Unit vectors of table ``rows``, or of new entities given by ``features`` alone."""
        if rows is None:
            return normalize(self.net(features))
        vectors = self.ids(rows)
        if id_dropout:
            keep = torch.rand(len(rows), 1, device=vectors.device) >= id_dropout
            vectors = vectors * keep
        if self.net is not None:
            vectors = vectors + self.net(self.features[rows])
        return normalize(vectors)


class TwoTowerModule(nn.Module):
    """A user tower and an item tower scored by cosine / temperature.

    Parameters
    ----------
    n_users, n_items : int
        Sizes of the id tables.
    n_factors : int, default=64
        Dimension of the output vectors (and of the id embeddings).
    user_features : torch.Tensor of shape (n_users, n_user_features), default=None
        Feature row of each user (a buffer), None for ids only.
    item_features : torch.Tensor of shape (n_items, n_item_features), default=None
        Feature row of each item, None for ids only.
    hidden_layers : sequence of int, default=(64,)
        Dense layers of the feature networks (before their linear output).
    temperature : float, default=0.1
        Divides the cosine scores.
    log_q : torch.Tensor of shape (n_items,), default=None
        Log sampling probability of each item as an in-batch negative
        (its share of the training rows); subtracted from the logits.
    id_dropout : float, default=0.0
        In training, the share of rows whose id embedding is zeroed, so that
        the feature networks learn to place items (and users) on their own.
    init_std : float, default=0.1
        Standard deviation of the initial id embeddings.
    sparse : bool, default=False
        Whether the id embeddings give sparse gradients.
    """

    def __init__(self, n_users, n_items, n_factors=64, *, user_features=None,
                 item_features=None, hidden_layers=(64,), temperature=0.1, log_q=None,
                 id_dropout=0.0, init_std=0.1, sparse=False):
        super().__init__()
        self.user_tower = _Tower(n_users, n_factors, user_features, hidden_layers,
                                 init_std, sparse)
        self.item_tower = _Tower(n_items, n_factors, item_features, hidden_layers,
                                 init_std, sparse)
        self.temperature = float(temperature)
        self.id_dropout = float(id_dropout)
        self.register_buffer("log_q", log_q)

    def forward(self, users, items):
        dropout = self.id_dropout if self.training else 0.0
        u = self.user_tower(users, id_dropout=dropout)
        v = self.item_tower(items, id_dropout=dropout)
        # another row's positive that is this row's positive too is no
        # negative: -inf there, folded with -log q_item into the constant term
        # of one product, (u . v) / temperature + offset; the offset needs no
        # gradient, so the mask costs no pass over the logits in backward
        same = items.unsqueeze(0) == items.unsqueeze(1)
        same.fill_diagonal_(False)
        offset = u.new_zeros(()) if self.log_q is None else -self.log_q[items]
        offset = torch.where(same, float("-inf"), offset)
        return torch.addmm(offset, u, v.T, alpha=1 / self.temperature)

    @torch.no_grad()
    def score_all(self, users):
        """Cosine / temperature of ``users`` over every item, ``(len(users), n_items)``."""
        items = torch.arange(self.item_tower.ids.num_embeddings, device=users.device)
        return self.user_tower(users) @ self.item_tower(items).T / self.temperature


class _DiagonalCrossEntropy(torch.autograd.Function):
    """Mean of ``-w_r log softmax(logits_r)[r]``: row ``r``'s positive is column ``r``.

    ``F.cross_entropy`` with targets ``arange(B)``, with a backward that
    writes ``(softmax - I) * w / B`` in two passes over the ``(B, B)``
    logits instead of building the one-hot gradient and running the
    generic log-softmax backward (tested equal to it).
    """

    @staticmethod
    def forward(ctx, logits, weights):
        log_p = torch.log_softmax(logits, dim=1)
        ctx.save_for_backward(log_p, weights)
        loss = -log_p.diagonal()
        return (loss if weights is None else loss * weights).mean()

    @staticmethod
    def backward(ctx, grad):
        log_p, weights = ctx.saved_tensors
        scale = grad / log_p.shape[0]
        scale = scale if weights is None else (scale * weights).unsqueeze(1)
        grad_logits = log_p.exp().mul_(scale)
        grad_logits.diagonal().sub_(scale if weights is None else scale.squeeze(1))
        return grad_logits, None


class InBatchSoftmaxLoss(nn.Module):
    """Softmax cross-entropy of each row's own positive among the batch's items."""

    def forward(self, logits, weights=None):
        return _DiagonalCrossEntropy.apply(logits, weights)

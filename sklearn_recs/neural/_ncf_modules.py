"""The neural collaborative filtering module (He et al., 2017): GMF, MLP, NeuMF.

One :class:`NCF` module holds either branch or both, so that the three
models of the paper share their code and NeuMF can load the weights of a
fitted GMF and MLP (the paper's pre-training). It follows the protocol of
:mod:`._modules`: ``forward(users, items)`` with ``items`` of shape ``(B,)``
or ``(B, K)`` returns scores of the shape of ``items`` (and a per-row L2
penalty in training mode), and ``score_all(users)`` scores the catalogue.
"""

from __future__ import annotations

import torch
from torch import nn

from ..utils._topk import memory_share

__all__ = ["NCF"]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}


def dense_tower(sizes, *, dropout=0.0, activation="relu", batch_norm=False):
    """``Linear -> [BatchNorm] -> activation -> [Dropout]`` for each step of ``sizes``.

    Parameters
    ----------
    sizes : sequence of int
        Input width followed by the width of each layer.
    dropout : float, default=0.0
        Dropout rate after each activation.
    activation : {"relu", "tanh", "sigmoid", "gelu"}, default="relu"
        Non-linearity after each layer.
    batch_norm : bool, default=False
        Whether to normalise each layer's output (over the batch).

    Returns
    -------
    tower : torch.nn.Sequential
        Maps ``(..., sizes[0])`` to ``(..., sizes[-1])``.
    """
    layers = []
    for width_in, width_out in zip(sizes[:-1], sizes[1:]):
        layers.append(nn.Linear(width_in, width_out))
        if batch_norm:
            layers.append(_BatchNormLastDim(width_out))
        layers.append(_ACTIVATIONS[activation]())
        if dropout:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class _BatchNormLastDim(nn.BatchNorm1d):
    """BatchNorm1d over the last dimension of an input of any rank."""

    def forward(self, x):
        shape = x.shape
        return super().forward(x.reshape(-1, shape[-1])).reshape(shape)


class NCF(nn.Module):
    """Generalised matrix factorisation and/or an MLP over id embeddings.

    The GMF branch is the element-wise product ``p_u * q_i`` of
    ``n_factors``-dimensional embeddings; the MLP branch passes the
    concatenation of ``mlp_factors``-dimensional embeddings through a dense
    tower of ``hidden_layers``. A linear layer maps the branch outputs
    (concatenated, for NeuMF) to one score: a logit for ranking, or a
    rating, ``global_mean + z`` or ``low + (high - low) * sigmoid(z)`` with
    ``y_range=(low, high)``.

    Parameters
    ----------
    n_users, n_items : int
        Sizes of the user and item tables.
    n_factors : int, default=8
        Dimension of the GMF embeddings; 0 leaves the GMF branch out.
    mlp_factors : int, default=32
        Dimension of each MLP embedding (the tower's input is twice that).
    hidden_layers : sequence of int, default=(32, 16, 8)
        Widths of the MLP tower; empty leaves the MLP branch out.
    dropout : float, default=0.0
        Dropout rate in the tower.
    activation : {"relu", "tanh", "sigmoid", "gelu"}, default="relu"
        Non-linearity of the tower.
    batch_norm : bool, default=False
        Whether the tower normalises each layer.
    alpha : float, default=0.0
        Per-occurrence L2 strength on the embeddings of the rows in a batch.
    global_mean : float, default=0.0
        Offset of a linear rating output (a buffer, not trained).
    y_range : tuple of float, default=None
        ``(low, high)``: squash the output into this range with a scaled
        sigmoid.
    init_std : float, default=0.01
        Standard deviation of the normal initial embeddings.
    pretrained : tuple of dict, default=None
        ``(gmf_state, mlp_state)``, the state dicts of a fitted GMF and MLP
        module: the branches start from them and the output layer from
        their halves (NeuMF pre-training, ``alpha = 0.5``).
    sparse : bool, default=False
        Whether the embeddings give sparse gradients.
    """

    def __init__(self, n_users, n_items, n_factors=8, mlp_factors=32,
                 hidden_layers=(32, 16, 8), *, dropout=0.0, activation="relu",
                 batch_norm=False, alpha=0.0, global_mean=0.0, y_range=None,
                 init_std=0.01, pretrained=None, sparse=False):
        super().__init__()
        hidden_layers = tuple(hidden_layers)
        self.alpha = float(alpha)
        self.y_range = None if y_range is None else tuple(float(v) for v in y_range)
        self.gmf_user = self.gmf_item = self.mlp_user = self.mlp_item = self.tower = None
        width = 0
        if n_factors:
            self.gmf_user = nn.Embedding(n_users, n_factors, sparse=sparse)
            self.gmf_item = nn.Embedding(n_items, n_factors, sparse=sparse)
            width += n_factors
        if hidden_layers:
            self.mlp_user = nn.Embedding(n_users, mlp_factors, sparse=sparse)
            self.mlp_item = nn.Embedding(n_items, mlp_factors, sparse=sparse)
            self.tower = dense_tower((2 * mlp_factors, *hidden_layers), dropout=dropout,
                                     activation=activation, batch_norm=batch_norm)
            width += hidden_layers[-1]
        for table in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            if table is not None:
                nn.init.normal_(table.weight, std=init_std)
        self.output = nn.Linear(width, 1)
        self.register_buffer("global_mean", torch.tensor(float(global_mean)))
        if pretrained is not None:
            self._load_branches(*pretrained)

    def _load_branches(self, gmf_state, mlp_state):
        own = {k: v for k, v in gmf_state.items() if not k.startswith("output.")}
        own.update({k: v for k, v in mlp_state.items()
                    if not k.startswith("output.") and k != "global_mean"})
        self.load_state_dict(own, strict=False)
        with torch.no_grad():
            self.output.weight.copy_(0.5 * torch.cat(
                [gmf_state["output.weight"], mlp_state["output.weight"]], dim=1))
            self.output.bias.copy_(0.5 * (gmf_state["output.bias"] + mlp_state["output.bias"]))

    def _branches(self, users, items):
        """Concatenated branch outputs for users ``(B,)`` and items ``(B,)`` or ``(B, K)``."""
        parts, squares = [], 0.0
        for user_table, item_table in ((self.gmf_user, self.gmf_item),
                                       (self.mlp_user, self.mlp_item)):
            if user_table is None:
                continue
            p = user_table(users)                             # (B, d)
            q = item_table(items)                             # (B, d) or (B, K, d)
            if items.dim() == 2:
                p = p.unsqueeze(1).expand(-1, items.shape[1], -1)
            if self.training and self.alpha:
                squares = squares + p.square().sum(-1) + q.square().sum(-1)
            if user_table is self.gmf_user:
                parts.append(p * q)
            else:
                parts.append(self.tower(torch.cat([p, q], dim=-1)))
        return torch.cat(parts, dim=-1), squares

    def _squash(self, z):
        """The score of the output layer's ``z``: a logit or rating (see ``y_range``)."""
        if self.y_range is not None:
            low, high = self.y_range
            return low + (high - low) * torch.sigmoid(z)
        return z + self.global_mean

    def forward(self, users, items):
        hidden, squares = self._branches(users, items)
        scores = self._squash(self.output(hidden).squeeze(-1))
        if not self.training:
            return scores
        penalty = self.alpha * squares if self.alpha else torch.zeros_like(scores)
        if items.dim() == 2:
            penalty = penalty.sum(-1) if self.alpha else penalty[:, 0]
        return scores, penalty

    @torch.no_grad()
    def score_items(self, users, items, *, max_pairs=2**14):
        """Scores of ``users`` ``(U,)`` over candidates ``items`` ``(C,)``, shape ``(U, C)``.

        The same scores as ``forward`` on every pair, computed without
        building the pairs: the output layer is linear, so the GMF branch's
        part of it is one matrix product ``(p_u * h_gmf) @ Q^T``, and the
        tower's first layer splits into a user half and an item half, each
        computed once (``W [p; q] = W_u p + W_i q``). Only the tower's later
        layers run per pair, on blocks of at most ``max_pairs`` pairs (fewer
        when this call's share of ``working_memory`` is smaller; at least one
        user), so memory stays ``O(max_pairs * width)`` whatever ``U * C``.
        """
        weight = self.output.weight[0]
        n_gmf = 0 if self.gmf_user is None else self.gmf_user.embedding_dim
        if n_gmf:
            user_gmf = self.gmf_user(users) * weight[:n_gmf]          # (U, d)
            item_gmf = self.gmf_item(items)                          # (C, d)
        if self.tower is not None:
            first, rest = self.tower[0], self.tower[1:]
            width = self.mlp_user.embedding_dim
            user_mlp = torch.addmm(first.bias, self.mlp_user(users), first.weight[:, :width].T)
            item_mlp = self.mlp_item(items) @ first.weight[:, width:].T  # (C, h1)
            tower_weight = weight[n_gmf:]
        step = max(1, self._pairs_per_block(max_pairs) // max(len(items), 1))
        blocks = []
        for start in range(0, len(users), step):
            block = slice(start, start + step)
            z = self.output.bias.expand(min(step, len(users) - start), len(items))
            if n_gmf:
                z = torch.addmm(z, user_gmf[block], item_gmf.T)
            if self.tower is not None:
                hidden = rest(user_mlp[block].unsqueeze(1) + item_mlp)  # (u, C, h_last)
                z = z + hidden @ tower_weight
            blocks.append(self._squash(z))
        return torch.cat(blocks) if blocks else torch.empty((0, len(items)))

    def _pairs_per_block(self, max_pairs):
        """``max_pairs``, capped by the working-memory share: the tower's
        activations (float32, an output and its activation per layer)."""
        if self.tower is None:
            return max_pairs
        widths = sum(layer.out_features for layer in self.tower if isinstance(layer, nn.Linear))
        return min(max_pairs, int(memory_share() * 2**20) // (2 * 4 * widths))

    def score_all(self, users):
        """Scores of ``users`` over the whole catalogue, shape ``(len(users), n_items)``."""
        table = self.gmf_item if self.gmf_item is not None else self.mlp_item
        return self.score_items(users, torch.arange(table.num_embeddings, device=users.device))

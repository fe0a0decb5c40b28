"""PyTorch modules and losses of the neural recommenders (nn.Modules only).

The protocol that the training net (:mod:`._net`) relies on, so that any
module (matrix factorisation here; NCF or two-tower models later) trains
with the same loop:

- ``forward(users, items)`` takes ``users`` of shape ``(B,)`` and ``items``
  of shape ``(B,)`` (one item per row: rating regression) or ``(B, K)``
  (column 0 the positive, columns 1.. sampled negatives: ranking losses),
  and returns scores of the shape of ``items``. In training mode it may
  return ``(scores, penalty)`` instead, ``penalty`` of shape ``(B,)`` being
  each row's regularisation term (already multiplied by the module's
  regularisation strengths); the net adds ``penalty.mean()`` to the loss.
- ``score_all(users)`` returns ``(len(users), n_items)`` scores over the
  whole catalogue (used by the validation NDCG callback).

The losses take ``(scores, weights)``; ``weights`` of shape ``(B,)`` or None.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BPRLoss", "BCELoss", "BiasedMF", "MSELoss"]


class BiasedMF(nn.Module):
    """Biased matrix factorisation ``s(u, i) = mu + b_u + b_i + p_u . q_i``.

    Parameters
    ----------
    n_users, n_items : int
        Sizes of the user and item tables.
    n_factors : int, default=64
        Dimension of the factors.
    reg : float, default=0.0
        Per-occurrence L2 strength on the factors of the rows in a batch.
    reg_bias : float, default=0.0
        Per-occurrence L2 strength on the biases of the rows in a batch.
    global_mean : float, default=0.0
        The constant ``mu`` (a buffer, not trained).
    user_bias, item_bias : bool, default=True
        Whether to learn user and item biases (a pairwise loss cannot learn
        a user bias: it cancels out).
    init_std : float, default=0.1
        Standard deviation of the normal initial factors (biases start at 0).
    sparse : bool, default=True
        Whether the embeddings produce sparse gradients (for sparse-aware
        optimisers: the update then costs O(batch), not O(table)).
    """

    def __init__(self, n_users, n_items, n_factors=64, *, reg=0.0, reg_bias=0.0,
                 global_mean=0.0, user_bias=True, item_bias=True, init_std=0.1,
                 sparse=True):
        super().__init__()
        self.reg = float(reg)
        self.reg_bias = float(reg_bias)
        self.user_factors = nn.Embedding(n_users, n_factors, sparse=sparse)
        self.item_factors = nn.Embedding(n_items, n_factors, sparse=sparse)
        nn.init.normal_(self.user_factors.weight, std=init_std)
        nn.init.normal_(self.item_factors.weight, std=init_std)
        self.user_bias = nn.Embedding(n_users, 1, sparse=sparse) if user_bias else None
        self.item_bias = nn.Embedding(n_items, 1, sparse=sparse) if item_bias else None
        for table in (self.user_bias, self.item_bias):
            if table is not None:
                nn.init.zeros_(table.weight)
        self.register_buffer("global_mean", torch.tensor(float(global_mean)))

    def forward(self, users, items):
        p = self.user_factors(users)                      # (B, d)
        q = self.item_factors(items)                      # (B, d) or (B, K, d)
        pairwise = items.dim() == 2
        if pairwise:
            scores = torch.bmm(q, p.unsqueeze(-1)).squeeze(-1)
        else:
            scores = (p * q).sum(-1)
        scores = scores + self.global_mean
        penalty = None
        if self.training:
            sq = p.square().sum(-1)
            sq = sq + (q.square().sum((-2, -1)) if pairwise else q.square().sum(-1))
            penalty = self.reg * sq
        if self.user_bias is not None:
            bu = self.user_bias(users).squeeze(-1)        # (B,)
            scores = scores + (bu.unsqueeze(-1) if pairwise else bu)
            if penalty is not None:
                penalty = penalty + self.reg_bias * bu.square()
        if self.item_bias is not None:
            bi = self.item_bias(items).squeeze(-1)        # (B,) or (B, K)
            scores = scores + bi
            if penalty is not None:
                sq = bi.square()
                penalty = penalty + self.reg_bias * (sq.sum(-1) if pairwise else sq)
        return scores if penalty is None else (scores, penalty)

    @torch.no_grad()
    def score_all(self, users):
        """Scores of ``users`` over the whole catalogue, shape ``(len(users), n_items)``."""
        scores = self.user_factors(users) @ self.item_factors.weight.T + self.global_mean
        if self.user_bias is not None:
            scores += self.user_bias(users)
        if self.item_bias is not None:
            scores += self.item_bias.weight.T
        return scores


class MSELoss(nn.Module):
    """Mean squared error, optionally weighted per row."""

    def forward(self, scores, target, weights=None):
        err = (scores - target).square()
        return err.mean() if weights is None else (err * weights).mean()


class BPRLoss(nn.Module):
    """Bayesian personalised ranking: ``-log sigmoid(s_pos - s_neg)``.

    ``scores`` has shape ``(B, 1 + n_negatives)``, column 0 the positive;
    the loss averages over the negatives of a row, then over rows (weighted
    by the confidence ``weights`` where given).
    """

    def forward(self, scores, weights=None):
        loss = -F.logsigmoid(scores[:, :1] - scores[:, 1:]).mean(-1)
        return loss.mean() if weights is None else (loss * weights).mean()


class BCELoss(nn.Module):
    """Binary cross-entropy on logits: the positive labelled 1, negatives 0.

    Each row's loss is ``softplus(-s_pos) + sum_j softplus(s_neg_j)`` (the
    NCF objective); confidence ``weights`` scale the positive term.
    """

    def forward(self, scores, weights=None):
        pos = F.softplus(-scores[:, 0])
        if weights is not None:
            pos = pos * weights
        return (pos + F.softplus(scores[:, 1:]).sum(-1)).mean()

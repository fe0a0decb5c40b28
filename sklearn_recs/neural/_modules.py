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

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from scipy.sparse.linalg import LinearOperator, eigsh
from threadpoolctl import threadpool_limits
from torch import nn

from ._kernels import (as_array, biased_dot_backward, biased_dot_forward, implicit_step,
                       implicit_vectors)

__all__ = ["BPRLoss", "BCELoss", "BiasedMF", "MSELoss", "SampledSoftmaxLoss", "implicit_deflation"]


class _BiasedDot(torch.autograd.Function):
    """Scores and per-row L2 penalty of biased MF, with row-sparse gradients.

    Each table row holds ``n_factors`` factors, then the row's bias when it
    has one. One fused forward/backward replaces an autograd graph over the
    look-ups: the backward writes each table's gradient straight from the
    table rows (a sparse COO tensor on the touched rows, or a dense one for
    optimisers without sparse support), so a step costs O(batch), not
    O(table), and one table update carries both factors and bias. On a CPU
    both passes are numba kernels (:mod:`._kernels`, one pass over the rows,
    no temporaries); on other devices, torch operations. ``user_step`` and
    ``item_step`` (one factor per table row, or None) scale each row's
    gradient: a diagonal preconditioner, applied in the backward.
    ``implicit_sums`` (the users' implicit terms ``s_u``, or None) is added
    to ``p_u`` in the scores, not penalised; its gradient is not returned
    but added to ``implicit_grad`` (accumulated between the implicit steps of
    :meth:`BiasedMF.implicit_step`).
    """

    @staticmethod
    def forward(ctx, users, items, user_table, item_table, n_factors, alpha, alpha_bias,
                sparse, user_step=None, item_step=None, implicit_sums=None,
                implicit_grad=None):
        pairwise = items.dim() == 2
        ctx.save_for_backward(users, items, user_table, item_table, user_step, item_step,
                              implicit_sums, implicit_grad)
        ctx.n_factors, ctx.alpha, ctx.alpha_bias, ctx.sparse = n_factors, alpha, alpha_bias, sparse
        ctx.pairwise = pairwise
        grid = items if pairwise else items.unsqueeze(1)
        if not _use_kernels(user_table):
            scores, penalty = _torch_forward(users, grid, user_table, item_table, n_factors,
                                             alpha, alpha_bias, implicit_sums)
        else:
            scores = user_table.new_empty(grid.shape)
            penalty = user_table.new_empty(len(users))
            arrays = [as_array(t) for t in (users, grid, user_table, item_table)]
            dtype = arrays[2].dtype.type
            biased_dot_forward(*arrays, n_factors, dtype(alpha), dtype(alpha_bias),
                               *_user_vectors(users, user_table, implicit_sums),
                               as_array(scores), as_array(penalty))
        return scores if pairwise else scores[:, 0], penalty

    @staticmethod
    def backward(ctx, grad_scores, grad_penalty):
        (users, items, user_table, item_table, user_step, item_step, implicit_sums,
         implicit_grad) = ctx.saved_tensors
        grid = items if ctx.pairwise else items.unsqueeze(1)
        grad_scores = grad_scores if ctx.pairwise else grad_scores.unsqueeze(1)
        columns = grid.reshape(-1)
        args = (users, grid, user_table, item_table, ctx.n_factors, ctx.alpha, ctx.alpha_bias)
        sparse = (_sparse_gradient(ctx.sparse, len(users), user_table),
                  _sparse_gradient(ctx.sparse, len(columns), item_table))
        steps = (user_step, item_step)
        none = (None,) * 8  # no gradient for the other inputs
        if not _use_kernels(user_table):
            *grads, grad_sums = _torch_backward(*args, implicit_sums, grad_scores,
                                                grad_penalty)
            if implicit_grad is not None:
                implicit_grad.index_add_(0, users, grad_sums)
            grads = [_rows_grad(rows, _scaled(grad, step, rows), table.shape, sparse_)
                     for rows, grad, table, sparse_, step in zip(
                         (users, columns), grads, (user_table, item_table), sparse, steps)]
            return (None, None, *grads, *none)
        # a sparse gradient gets one value row per batch row; a dense one the
        # table's rows, where repeats add up
        slots = [torch.arange(len(rows)) if sparse_ else rows
                 for rows, sparse_ in zip((users, columns), sparse)]
        grads = [table.new_zeros((len(rows), table.shape[1]) if sparse_ else table.shape)
                 for table, rows, sparse_ in zip((user_table, item_table), slots, sparse)]
        arrays = [as_array(t) for t in (users, grid, user_table, item_table)]
        dtype = arrays[2].dtype.type
        biased_dot_backward(*arrays, ctx.n_factors, dtype(ctx.alpha), dtype(ctx.alpha_bias),
                            *_user_vectors(users, user_table, implicit_sums),
                            *map(as_array, (grad_scores.contiguous(),
                                            grad_penalty.contiguous(), *slots, *grads)),
                            arrays[2][:0] if implicit_grad is None else as_array(implicit_grad))
        grads = [_sparse_rows(rows, _scaled(grad, step, rows), table.shape) if sparse_
                 else _scaled(grad, step)
                 for rows, grad, table, sparse_, step in zip(
                     (users, columns), grads, (user_table, item_table), sparse, steps)]
        return (None, None, *grads, *none)


def _user_vectors(users, user_table, implicit_sums):
    """``(vectors, rows)`` of the kernels: row ``b``'s user vector is ``vectors[rows[b]]``.

    Without an implicit term, the user table's rows; with one, ``p_u + s_u``
    gathered for the batch.
    """
    users = as_array(users)
    if implicit_sums is None:
        return as_array(user_table), users
    return (implicit_vectors(users, as_array(user_table), as_array(implicit_sums)),
            np.arange(len(users)))


def _sparse_gradient(sparse, n_lookups, table):
    """Whether the gradient of ``table`` is sparse: always with ``sparse=True``;
    with ``"auto"`` when the table has more rows than the batch looks up (a
    dense one then costs no more than the batch, and a step on it less)."""
    return sparse is True or (sparse == "auto" and table.shape[0] > n_lookups)


def _scaled(grad, step, rows=None):
    """``grad`` with each table row's gradient times its ``step`` (in place).

    ``grad`` holds one value row per entry of ``rows``, or (``rows`` None)
    the table's rows; ``step`` None leaves it as it is.
    """
    if step is None:
        return grad
    return grad.mul_((step if rows is None else step[rows]).unsqueeze(1))


def _use_kernels(table):
    """Whether the numba kernels compute on ``table`` (a CPU tensor)."""
    return table.device.type == "cpu"


def _torch_forward(users, items, user_table, item_table, n_factors, alpha, alpha_bias,
                   implicit_sums=None):
    """The forward in torch operations, ``items`` of shape ``(B, K)`` (off-CPU devices)."""
    user_rows = user_table.index_select(0, users)                         # (B, d [+1])
    item_rows = item_table.index_select(0, items.reshape(-1)).view(*items.shape, -1)
    p, q = user_rows[:, :n_factors], item_rows[..., :n_factors]
    x = p if implicit_sums is None else p + implicit_sums.index_select(0, users)
    scores = (q * x.unsqueeze(1)).sum(-1)                                 # (B, K)
    penalty = alpha * (_square_norm(p) + _square_norm(q).sum(1))          # (B,)
    if user_table.shape[1] > n_factors:
        bu = user_rows[:, n_factors]
        scores += bu.unsqueeze(1)
        penalty += alpha_bias * bu.square()
    if item_table.shape[1] > n_factors:
        bi = item_rows[..., n_factors]
        scores += bi
        penalty += alpha_bias * bi.square().sum(1)
    return scores, penalty


def _torch_backward(users, items, user_table, item_table, n_factors, alpha, alpha_bias,
                    implicit_sums, grad_scores, grad_penalty):
    """Value rows of the user and item gradients, the latter in ``items.reshape(-1)``
    order, and the gradient rows of the users' implicit sums (the scores' part of
    the user gradient)."""
    d = n_factors
    user_rows = user_table.index_select(0, users)
    item_rows = item_table.index_select(0, items.reshape(-1)).view(*items.shape, -1)
    p, q = user_rows[:, :d], item_rows[..., :d]
    x = p if implicit_sums is None else p + implicit_sums.index_select(0, users)
    shrink = (2 * alpha) * grad_penalty.unsqueeze(-1)                     # (B, 1)
    grad_sums = (grad_scores.unsqueeze(-1) * q).sum(1)
    grad_user = torch.empty_like(user_rows)
    torch.mul(p, shrink, out=grad_user[:, :d]).add_(grad_sums)
    grad_item = torch.empty_like(item_rows)
    torch.mul(q, shrink.unsqueeze(1), out=grad_item[..., :d]).addcmul_(
        grad_scores.unsqueeze(-1), x.unsqueeze(1))
    shrink_bias = (2 * alpha_bias) * grad_penalty
    if user_rows.shape[1] > d:
        torch.add(grad_scores.sum(1), shrink_bias * user_rows[:, d], out=grad_user[:, d])
    if item_rows.shape[-1] > d:
        torch.add(grad_scores, shrink_bias.unsqueeze(1) * item_rows[..., d],
                  out=grad_item[..., d])
    return grad_user, grad_item.view(-1, item_rows.shape[-1]), grad_sums


def _torch_implicit_step(indptr, indices, scale, grad_sums, implicit_factors, shrink, lr,
                         implicit_sums):
    """:func:`._kernels.implicit_step` in torch operations (off-CPU devices)."""
    users = torch.repeat_interleave(torch.arange(len(indptr) - 1, device=indptr.device),
                                    indptr.diff())
    matrix = torch.sparse_coo_tensor(torch.stack([users, indices]), scale[users],
                                     (len(indptr) - 1, len(implicit_factors)),
                                     check_invariants=False)
    grad = torch.sparse.mm(matrix.t(), grad_sums)
    implicit_factors.sub_(lr * grad + (lr * shrink).unsqueeze(1) * implicit_factors)
    implicit_sums.copy_(torch.sparse.mm(matrix, implicit_factors))
    grad_sums.zero_()


#: Users up to which :func:`implicit_deflation` decomposes ``K`` densely.
_DENSE_USERS = 512


def implicit_deflation(matrix, cap, max_directions=8):
    """``(directions, weights, rest)`` capping the spectrum of ``K = matrix matrix^T`` at ``cap``.

    ``matrix`` is the users' rated items, row ``u`` scaled by
    ``|N(u)|^-1/2`` (``N^``), so ``K``'s diagonal is 1 and its off-diagonal
    entries count the items two users share. The implicit step moves the
    sums by ``-lr K g``; replacing ``g`` by ``rest * g + directions
    diag(weights) directions^T g`` makes that ``-lr min(lambda, cap) g``
    along each eigenvector of ``K`` (eigenvalue ``lambda``) that
    ``directions`` holds (the few above ``cap``, found by Lanczos
    iterations, ``eigsh``: a few passes over the ratings) and at most
    ``-lr cap g`` along every other one. When more than ``max_directions``
    eigenvalues exceed ``cap``, the rest of the spectrum is scaled by
    ``rest = cap / lambda_{k+1} < 1`` (``lambda_{k+1}``: the largest one not
    held); otherwise ``rest`` is 1. ``weights`` are ``cap / lambda - rest``.
    Cost: ``eigsh`` for 4 eigenpairs (enough on ml-100k and ml-latest-small:
    3 and 2 eigenvalues above 20, a few milliseconds), then for
    ``max_directions + 1`` when all 4 exceed the cap (0.3 s on 1M synthetic
    ratings, 6 s on 10M, about one epoch's time there).
    """
    n_users = matrix.shape[0]
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    # K's largest row sum bounds its top eigenvalue (its entries are >= 0)
    if n_users == 0 or (matrix @ (matrix.T @ np.ones(n_users))).max() <= cap:
        return np.zeros((n_users, 0)), np.zeros(0), 1.0
    if n_users <= _DENSE_USERS:
        values, vectors = np.linalg.eigh((matrix @ matrix.T).toarray())
        values, vectors = values[::-1][:max_directions + 1], vectors[:, ::-1]
    else:
        transposed = matrix.T.tocsr()
        operator = LinearOperator((n_users, n_users), dtype=np.float64,
                                  matvec=lambda v: matrix @ (transposed @ v))
        limit = min(max_directions + 1, n_users - 1)
        for k in dict.fromkeys((min(4, limit), limit)):  # a few first: often enough
            with threadpool_limits(1, user_api="blas"):  # small: threads cost more
                values, vectors = eigsh(operator, k=k, v0=np.ones(n_users), tol=1e-3)
            values, vectors = values[::-1], vectors[:, ::-1]
            if values[-1] <= cap:
                break
    held = int((values > cap).sum())
    rest = 1.0
    if held == len(values) and held > 1 and values[-1] > cap:
        held -= 1  # the last one bounds the spectrum left
        rest = cap / values[held]
    return vectors[:, :held].copy(), cap / values[:held] - rest, rest  # (positive strides)


def _square_norm(rows):
    """``|row|^2`` along the last axis in one pass (no squared temporary)."""
    return torch.linalg.vector_norm(rows, dim=-1).square_()


def _sparse_rows(rows, values, shape):
    """The sparse gradient of a table whose ``rows`` received ``values`` (uncoalesced)."""
    return torch.sparse_coo_tensor(rows.unsqueeze(0), values, shape, check_invariants=False)


def _rows_grad(rows, values, shape, sparse):
    """Gradient of a table whose ``rows`` received ``values`` (repeats add up)."""
    if sparse:
        return _sparse_rows(rows, values, shape)
    return values.new_zeros(shape).index_add_(0, rows, values)


class BiasedMF(nn.Module):
    """Biased matrix factorisation ``s(u, i) = mu + b_u + b_i + p_u . q_i``.

    The user and item tables (``user_table``, ``item_table``) hold the
    factors in their first ``n_factors`` columns and the bias, when it is
    learnt, in the last one; ``user_factors``, ``item_factors``,
    ``user_bias`` and ``item_bias`` are views of them.

    Parameters
    ----------
    n_users, n_items : int
        Sizes of the user and item tables.
    n_factors : int, default=64
        Dimension of the factors.
    alpha : float, default=0.0
        Per-occurrence L2 strength on the factors of the rows in a batch.
    alpha_bias : float, default=0.0
        Per-occurrence L2 strength on the biases of the rows in a batch.
    global_mean : float, default=0.0
        The constant ``mu`` (a buffer, not trained).
    user_bias, item_bias : bool, default=True
        Whether to learn user and item biases (a pairwise loss cannot learn
        a user bias: it cancels out).
    init_std : float, default=0.1
        Standard deviation of the normal initial factors (biases start at 0).
    sparse : bool or "auto", default=True
        Whether the tables get sparse gradients (for sparse-aware
        optimisers: the update then costs O(batch), not O(table)).
        ``"auto"``: only the tables with more rows than a batch looks up
        (for optimisers whose step is the same on either, SGD and Adagrad).
    user_step, item_step : array-like of shape (n_users,) / (n_items,), default=None
        A factor per table row multiplying that row's gradient (a diagonal
        preconditioner that slows some rows down); None: 1 for every row.
    implicit : scipy.sparse.csr_matrix of shape (n_users, n_items), default=None
        The items ``N(u)`` each user rated (its stored entries): adds the
        SVD++ implicit term ``s_u = |N(u)|^-1/2 sum_{j in N(u)} y_j`` to
        ``p_u`` in the scores. ``s_u`` is cached (``implicit_sums``) and the
        factors ``y_j`` (``implicit_factors``, zero at first) are buffers, not
        parameters: the backward accumulates the gradient in ``s_u``
        (``implicit_grad``) and :meth:`implicit_step` turns it into one step
        on ``y_j`` and new sums, so the term costs two passes over ``N``
        per step taken, not per batch.
    implicit_cap : float, default=None
        With ``implicit``, the largest eigenvalue of ``K = N^ N^T`` (``N^``:
        ``N`` with row ``u`` scaled by ``|N(u)|^-1/2``) that a step of
        :meth:`implicit_step` acts on in full: it moves the sums by ``-lr K
        g`` (``g``: the accumulated gradient in ``s``), and along each
        eigenvector of ``K`` whose eigenvalue ``lambda`` exceeds the cap the
        step is ``-lr cap g`` instead (:func:`implicit_deflation`). None: no
        cap.
    """

    def __init__(self, n_users, n_items, n_factors=64, *, alpha=0.0, alpha_bias=0.0,
                 global_mean=0.0, user_bias=True, item_bias=True, init_std=0.1,
                 sparse=True, user_step=None, item_step=None, implicit=None,
                 implicit_cap=None):
        super().__init__()
        self.n_factors = int(n_factors)
        self.alpha = float(alpha)
        self.alpha_bias = float(alpha_bias)
        self.sparse = sparse if sparse == "auto" else bool(sparse)
        self.user_table = nn.Parameter(torch.empty(n_users, n_factors + bool(user_bias)))
        self.item_table = nn.Parameter(torch.empty(n_items, n_factors + bool(item_bias)))
        with torch.no_grad():
            for table in (self.user_table, self.item_table):
                nn.init.normal_(table, std=init_std)
                table[:, n_factors:] = 0.0
        self.register_buffer("global_mean", torch.tensor(float(global_mean)))
        for name, step in (("user_step", user_step), ("item_step", item_step)):
            self.register_buffer(name, None if step is None
                                 else torch.as_tensor(step, dtype=self.user_table.dtype))
        self._init_implicit(implicit, implicit_cap)

    def _init_implicit(self, implicit, cap):
        dtype = self.user_table.dtype
        buffers = dict.fromkeys(["implicit_indptr", "implicit_indices", "implicit_scale",
                                 "implicit_factors", "implicit_sums", "implicit_grad",
                                 "implicit_directions", "implicit_weights", "implicit_rest"])
        if implicit is not None:
            counts = np.diff(implicit.indptr)
            scale = 1 / np.sqrt(np.maximum(counts, 1))
            buffers.update(
                implicit_indptr=torch.as_tensor(implicit.indptr, dtype=torch.int64),
                implicit_indices=torch.as_tensor(implicit.indices, dtype=torch.int64),
                implicit_scale=torch.as_tensor(scale, dtype=dtype),
                implicit_factors=torch.zeros(implicit.shape[1], self.n_factors, dtype=dtype),
                implicit_sums=torch.zeros(implicit.shape[0], self.n_factors, dtype=dtype),
                implicit_grad=torch.zeros(implicit.shape[0], self.n_factors, dtype=dtype))
            if cap is not None:
                directions, weights, rest = implicit_deflation(
                    sp.diags(scale) @ implicit.astype(bool), cap)
                buffers.update(implicit_directions=torch.as_tensor(directions, dtype=dtype),
                               implicit_weights=torch.as_tensor(weights, dtype=dtype),
                               implicit_rest=torch.tensor(rest, dtype=dtype))
        for name, value in buffers.items():
            self.register_buffer(name, value)

    @property
    def user_factors(self):
        """User factors, shape ``(n_users, n_factors)`` (a view)."""
        return self.user_table[:, :self.n_factors]

    @property
    def item_factors(self):
        """Item factors, shape ``(n_items, n_factors)`` (a view)."""
        return self.item_table[:, :self.n_factors]

    @property
    def user_bias(self):
        """User biases, shape ``(n_users,)`` (a view), or None."""
        return self.user_table[:, self.n_factors] if self.user_table.shape[1] > self.n_factors \
            else None

    @property
    def item_bias(self):
        """Item biases, shape ``(n_items,)`` (a view), or None."""
        return self.item_table[:, self.n_factors] if self.item_table.shape[1] > self.n_factors \
            else None

    @torch.no_grad()
    def implicit_step(self, lr, shrink):
        """One SGD step of rate ``lr`` on ``implicit_factors`` with the gradient
        accumulated since the last one, plus ``shrink[j] * y_j`` (the penalty's
        gradient), and the sums ``s_u`` of the new factors; a no-op without
        an implicit term. With ``implicit_cap``, the accumulated gradient
        ``g`` is first replaced by ``rest * g + V diag(weights) V^T g``
        (:func:`implicit_deflation`), so that the step moves the sums along
        no eigenvector of ``K`` by more than ``lr * cap`` times ``g``."""
        if self.implicit_factors is None:
            return
        if self.implicit_directions is not None:
            grad, directions = self.implicit_grad, self.implicit_directions
            along = directions.T @ grad                                  # (k, d)
            grad.mul_(self.implicit_rest).addmm_(directions,
                                                 self.implicit_weights.unsqueeze(1) * along)
        tensors = (self.implicit_indptr, self.implicit_indices, self.implicit_scale,
                   self.implicit_grad, self.implicit_factors)
        shrink = torch.as_tensor(shrink, dtype=self.implicit_factors.dtype,
                                 device=self.implicit_factors.device)
        if _use_kernels(self.implicit_factors):
            implicit_step(*map(as_array, tensors), as_array(shrink),
                          as_array(self.implicit_factors).dtype.type(lr),
                          as_array(self.implicit_sums))
        else:
            _torch_implicit_step(*tensors, shrink, lr, self.implicit_sums)

    def forward(self, users, items):
        scores, penalty = _BiasedDot.apply(
            users, items, self.user_table, self.item_table, self.n_factors, self.alpha,
            self.alpha_bias, self.sparse, self.user_step, self.item_step,
            self.implicit_sums, self.implicit_grad if self.training else None)
        scores = scores + self.global_mean
        return (scores, penalty) if self.training else scores

    @torch.no_grad()
    def score_all(self, users):
        """Scores of ``users`` over the whole catalogue, shape ``(len(users), n_items)``."""
        factors = self.user_factors[users]
        if self.implicit_sums is not None:
            factors = factors + self.implicit_sums[users]
        scores = factors @ self.item_factors.T + self.global_mean
        if self.user_bias is not None:
            scores += self.user_bias[users].unsqueeze(1)
        if self.item_bias is not None:
            scores += self.item_bias
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


class SampledSoftmaxLoss(nn.Module):
    """Cross-entropy of the positive against its sampled negatives.

    Each row's loss is ``-log softmax(scores)[0] = logsumexp(scores) -
    s_pos``: a softmax over the catalogue approximated by the positive and
    ``n_negatives`` sampled items (uniform samples need no correction).
    Confidence ``weights`` scale each row's loss.
    """

    def forward(self, scores, weights=None):
        loss = torch.logsumexp(scores, dim=1) - scores[:, 0]
        return loss.mean() if weights is None else (loss * weights).mean()

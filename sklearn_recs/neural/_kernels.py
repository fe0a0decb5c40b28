"""numba kernels of the biased-MF forward and backward on CPU tensors.

The fused :class:`~._modules._BiasedDot` on a CPU computes a batch's
scores, per-row penalties and gradients here, one pass over the rows with
no temporary per operation: the torch version materialises about ten
``(batch, n_factors)`` tensors per step, and on a CPU those, not the
arithmetic, were most of a matrix factorisation's fit time. The kernels
read the tables in place (numpy views of the tensors) and are sequential,
so a batch gives the same floats on every run.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["biased_dot_backward", "biased_dot_forward", "implicit_step", "implicit_vectors"]

# Reassociation lets the dot products vectorise; no assumption about NaN or
# infinity (a diverging fit must still show a non-finite loss).
_FASTMATH = {"reassoc", "contract"}


@numba.njit(nogil=True, cache=True, fastmath=_FASTMATH)
def biased_dot_forward(users, items, user_table, item_table, n_factors, alpha, alpha_bias,
                       vectors, vector_rows, scores, penalty):
    """Fill ``scores[b, k]`` (``x_b . q_i + b_u + b_i``) and ``penalty[b]``.

    ``items`` has shape ``(B, K)``; a table's column ``n_factors``, when it
    exists, is the bias. Row ``b`` scores with the user vector ``x_b =
    vectors[vector_rows[b]]``: ``p_u`` itself (``user_table`` and ``users``)
    or ``p_u + s_u`` with an implicit term (the batch's rows); the penalty
    is on ``p_u``. ``alpha`` and ``alpha_bias`` come in the tables' dtype,
    so that float32 tables are summed in float32 (vectorised).
    """
    user_bias = user_table.shape[1] > n_factors
    item_bias = item_table.shape[1] > n_factors
    for b in range(items.shape[0]):
        p = user_table[users[b]]
        x = vectors[vector_rows[b]]  # a table row, as p: a buffer kept the loops scalar
        row_penalty = alpha * np.float32(0)  # float64 when the tables are
        user_norm = np.float32(0)
        offset = np.float32(0)
        if user_bias:
            offset = p[n_factors]
            row_penalty += alpha_bias * offset * offset
        for k in range(items.shape[1]):
            q = item_table[items[b, k]]
            dot = np.float32(0)
            norm = np.float32(0)
            user_norm = np.float32(0)  # |p|^2 again: one loop vectorises, two did not
            for f in range(n_factors):
                dot += x[f] * q[f]
                norm += q[f] * q[f]
                user_norm += p[f] * p[f]
            row_penalty += alpha * norm
            dot += offset
            if item_bias:
                dot += q[n_factors]
                row_penalty += alpha_bias * q[n_factors] * q[n_factors]
            scores[b, k] = dot
        penalty[b] = row_penalty + alpha * user_norm


@numba.njit(nogil=True, cache=True, fastmath=_FASTMATH)
def biased_dot_backward(users, items, user_table, item_table, n_factors, alpha, alpha_bias,
                        vectors, vector_rows, grad_scores, grad_penalty, user_slots,
                        item_slots, grad_user, grad_item, grad_implicit):
    """Add each row's gradient to ``grad_user[user_slots[b]]`` and
    ``grad_item[item_slots[b * K + k]]`` (zero-initialised by the caller),
    and, with an implicit term (``grad_implicit`` has rows), that of
    ``s_u`` to ``grad_implicit[u]``; ``vectors[vector_rows[b]]`` is row
    ``b``'s user vector, as in :func:`biased_dot_forward`.

    Slots equal to the table rows give dense table gradients (repeats add
    up); slots ``0 .. B - 1`` give one value row per batch row (the values of
    a sparse gradient).
    """
    n_rows, n_cols = items.shape
    for b in range(n_rows):
        p = user_table[users[b]]
        x = vectors[vector_rows[b]]
        g_user = grad_user[user_slots[b]]
        shrink = alpha * grad_penalty[b]
        shrink += shrink  # d(alpha |x|^2)/dx = 2 alpha x
        for f in range(n_factors):
            g_user[f] += shrink * p[f]
        for k in range(n_cols):
            q = item_table[items[b, k]]
            g_item = grad_item[item_slots[b * n_cols + k]]
            g = grad_scores[b, k]
            for f in range(n_factors):
                g_user[f] += g * q[f]
                g_item[f] += shrink * q[f] + g * x[f]
        if grad_implicit.shape[0]:  # d score / d s_u = d score / d p_u = q_i
            g_sum = grad_implicit[users[b]]
            for k in range(n_cols):
                q = item_table[items[b, k]]
                g = grad_scores[b, k]
                for f in range(n_factors):
                    g_sum[f] += g * q[f]
    # the biases in a loop of their own: inside the one above, they kept it
    # from vectorising
    d = n_factors
    if user_table.shape[1] > d:
        for b in range(n_rows):
            g = grad_scores[b, 0]
            for k in range(1, n_cols):
                g += grad_scores[b, k]
            shrink = alpha_bias * grad_penalty[b]
            grad_user[user_slots[b], d] += g + (shrink + shrink) * user_table[users[b], d]
    if item_table.shape[1] > d:
        for b in range(n_rows):
            shrink = alpha_bias * grad_penalty[b]
            shrink += shrink
            for k in range(n_cols):
                grad_item[item_slots[b * n_cols + k], d] += (
                    grad_scores[b, k] + shrink * item_table[items[b, k], d])


@numba.njit(nogil=True, cache=True, fastmath=_FASTMATH)
def implicit_vectors(users, user_table, implicit_sums):
    """``p_u + s_u`` for each row of the batch, shape ``(B, n_factors)``."""
    n_factors = implicit_sums.shape[1]
    out = np.empty((len(users), n_factors), implicit_sums.dtype)
    for b in range(len(users)):
        p = user_table[users[b]]
        s = implicit_sums[users[b]]
        x = out[b]
        for f in range(n_factors):
            x[f] = p[f] + s[f]
    return out


@numba.njit(nogil=True, cache=True, fastmath=_FASTMATH)
def implicit_step(indptr, indices, scale, grad_sums, implicit_factors, shrink, lr,
                  implicit_sums):
    """One SGD step on the implicit factors ``y_j``, then the sums ``s_u`` again.

    ``s_u = scale[u] * sum_{j in N(u)} y_j`` with ``N(u)`` the columns
    ``indices[indptr[u]:indptr[u + 1]]``; ``grad_sums[u]`` is the loss's
    gradient in ``s_u``, so ``y_j`` gets ``sum_{u: j in N(u)} scale[u] *
    grad_sums[u]``, plus ``shrink[j] * y_j`` (the penalty). ``grad_sums`` is
    zeroed for the next accumulation.
    """
    n_users, n_factors = implicit_sums.shape
    grad = np.zeros_like(implicit_factors)
    for u in range(n_users):
        g = grad_sums[u]
        c = scale[u]
        for n in range(indptr[u], indptr[u + 1]):
            row = grad[indices[n]]
            for f in range(n_factors):
                row[f] += c * g[f]
    for j in range(implicit_factors.shape[0]):
        y = implicit_factors[j]
        rate = lr * shrink[j]
        for f in range(n_factors):
            y[f] -= lr * grad[j, f] + rate * y[f]
    for u in range(n_users):
        s = implicit_sums[u]
        s[:] = 0
        for n in range(indptr[u], indptr[u + 1]):
            y = implicit_factors[indices[n]]
            for f in range(n_factors):
                s[f] += y[f]
        c = scale[u]
        for f in range(n_factors):
            s[f] *= c
    grad_sums[:] = 0


def as_array(tensor):
    """The numpy view of a CPU tensor (detached: the kernels are the autograd)."""
    return tensor.detach().numpy()


"""Each row's top ``k`` of the Gram matrix ``x @ x.T``, from its upper triangle.

The kernel of :func:`~sklearn_recs.utils._similarity.pairwise_similarity`
for the inner-product similarities ("cosine" on unit rows, "dot") when each
row keeps its ``k`` best. ``x @ x.T`` is symmetric, so a block of rows
``a:b`` computes only the entries after the diagonal (``G[i, j]`` for
``j > i``), and offers each to both of its rows. Each row keeps its
candidates in a buffer with a threshold (see :class:`_Kept`), so the full
matrix is never stored: memory is ``n_rows * 2k`` entries per thread plus
one block of rows.

A block's entries are summed from two parts, as in ``_BlockProduct``: the
columns that many rows hold (the heavy users of a power-law catalogue, who
cost the square of their length in a sparse product) by one dense product
(BLAS), the others by a sparse scatter (numba) into the block, one row at a
time. The rows are processed by decreasing length: the scatter then writes
mostly near the start of a row (the long rows), which stays in cache.

Ties: of equal entries at a row's cut, the lower (original) columns are
kept, whatever the order in which the entries arrive."""

from __future__ import annotations

from contextlib import nullcontext

import numba
import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs
from threadpoolctl import threadpool_limits

from ._sparse_topk import _select
from ._threads import thread_map

__all__ = ["gram_topk"]

# The rows of a block hold at most this many entries (float32; measured: a
# block that stays in cache beats one large product), but at least
# _BLOCK_ROWS rows (for BLAS).
_BLOCK_ENTRIES = 2**20
_BLOCK_ROWS = 64
# Bytes of the buffers of the rows offered to at once (a share of L2).
_TILE_BYTES = 2**19
# A row's buffer holds this many times k candidates.
_BUFFER_FACTOR = 2


def gram_topk(x, k, *, dense_share, working_memory, n_jobs=None):
    """Each row's ``k`` largest positive entries of ``x @ x.T``, off the diagonal.

    Parameters
    ----------
    x : scipy.sparse.csr_matrix of shape (n_rows, n_columns), float32
        With no duplicate entries.
    k : int
        Entries kept per row, ``1 <= k < n_rows``.
    dense_share : float
        Columns holding more than this share of the rows are multiplied as
        one dense product (BLAS); the others by the sparse scatter.
    working_memory : float
        MiB for one block of rows (each thread holds one).
    n_jobs : int, default=None
        Threads; None means 1, -1 all processors. The result does not
        depend on it (up to BLAS's float32 rounding, which may depend on its
        own threads: they are limited to 1 per block when ``n_jobs > 1``).

    Returns
    -------
    similarity : scipy.sparse.csr_matrix of shape (n_rows, n_rows), float32
        Positive entries only, column indices sorted. Of equal entries at a
        row's cut, the lower columns are kept.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_recs.utils._gram_topk import gram_topk
    >>> x = sp.csr_matrix([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], dtype="float32")
    >>> gram_topk(x, 1, dense_share=0.5, working_memory=1).toarray()
    array([[0., 1., 0.],
           [1., 0., 0.],
           [1., 0., 0.]], dtype=float32)
    """
    n_rows = x.shape[0]
    x = sp.csr_matrix(x, dtype=np.float32)
    step = int(working_memory * 2**20) // (4 * max(n_rows, 1))
    step = max(1, min(step, max(_BLOCK_ENTRIES // max(n_rows, 1), _BLOCK_ROWS), n_rows))
    # The rows by decreasing length: the scatter then writes mostly to the
    # first columns of a row (the long rows), which stay in cache.
    original = np.argsort(-np.diff(x.indptr), kind="stable").astype(np.int32)
    factors = _Factors(x[original], dense_share)
    dense = factors.dense
    starts = np.arange(0, n_rows, step)
    n_threads = max(1, min(effective_n_jobs(n_jobs), len(starts)))
    tile = max(1, _TILE_BYTES // (8 * _BUFFER_FACTOR * k))
    # Thread t takes blocks t, t + n_threads, ... (the blocks shrink along the
    # triangle: interleaving balances the threads), the last ones first: a
    # row's best entries tend to come from rows of a length close to its own,
    # so its threshold rises early and later entries rarely enter its buffer.
    kept = [_Kept(n_rows, k) for _ in range(n_threads)]

    def run(thread):
        for start in starts[thread::n_threads][::-1]:
            stop = min(start + step, n_rows)
            block = dense[start:stop] @ dense[start:].T
            _scatter_light(block, start, stop, *factors.sparse)
            _offer_block(block, start, stop, tile, original, *kept[thread].arrays)

    # (one BLAS thread per block when the blocks run in threads)
    with threadpool_limits(1) if n_threads > 1 else nullcontext():
        thread_map(run, range(n_threads), n_threads)
    for other in kept[1:]:
        _merge(*kept[0].arrays, *other.arrays[:3])
    _cut_long(*kept[0].arrays)
    rows = np.empty_like(original)  # (back to the original order; the columns are already)
    rows[original] = np.arange(n_rows, dtype=np.int32)
    return _to_csr(rows, *kept[0].arrays[:3])


class _Factors:
    """The two parts of ``x``: its heavy columns dense, and the light ones' sparse arrays.

    ``dense``: the rows x the columns holding more than ``dense_share`` of
    the rows; ``sparse``: what ``_scatter_light`` reads (which columns are
    heavy, ``x`` and ``x.T`` in CSR, sorted).
    """

    def __init__(self, x, dense_share):
        x.sort_indices()
        heavy = np.bincount(x.indices, minlength=x.shape[1]) > x.shape[0] * dense_share
        self.dense = np.ascontiguousarray(x[:, np.flatnonzero(heavy)].toarray())
        xt = x.T.tocsr()
        xt.sort_indices()
        self.sparse = (heavy, x.indptr, x.indices, x.data, xt.indptr, xt.indices, xt.data)


class _Kept:
    """Each row's candidates for its ``k`` best: a buffer of ``_BUFFER_FACTOR * k``, a threshold.

    An entry enters a row's buffer when it ranks before the row's
    threshold (value, column): greater, or equal and of a lower column.
    When a buffer fills, it is cut back to its ``k`` best and the threshold
    becomes the ``k``-th of them, so an entry costs one comparison, and an
    entry that enters one write (not a heap's sift). Until the first cut
    the threshold is (0, ``n_rows``): any positive entry enters.
    """

    def __init__(self, n_rows, k):
        capacity = _BUFFER_FACTOR * k
        self.arrays = (np.empty((n_rows, capacity), dtype=np.float32),  # values
                       np.empty((n_rows, capacity), dtype=np.int32),  # columns
                       np.zeros(n_rows, dtype=np.int32),  # sizes
                       np.zeros(n_rows, dtype=np.float32),  # thresholds
                       np.full(n_rows, n_rows, dtype=np.int32),  # their columns
                       k)


@numba.njit(nogil=True, cache=True)
def _cut(row_values, row_columns, size, k, thresholds, threshold_columns, row):
    """Keep the ``k`` best of a buffer's ``size`` entries; the ``k``-th is the new threshold.

    Returns the new size, ``k``. Of the entries equal to the ``k``-th
    value, the lowest columns are kept.
    """
    value_k = _select(row_values[:size].copy(), size, size - k)
    above = 0
    n_tied = 0
    column_k = -1  # the last column kept at value_k
    for slot in range(size):
        if row_values[slot] > value_k:
            above += 1
        elif row_values[slot] == value_k:
            n_tied += 1
            column_k = max(column_k, row_columns[slot])
    if n_tied > k - above:  # (ties at the cut: the lowest columns among them)
        tied = np.empty(n_tied, dtype=row_columns.dtype)
        n_tied = 0
        for slot in range(size):
            if row_values[slot] == value_k:
                tied[n_tied] = row_columns[slot]
                n_tied += 1
        column_k = _select(tied, n_tied, k - above - 1)
    kept = 0
    for slot in range(size):
        value, column = row_values[slot], row_columns[slot]
        if value > value_k or (value == value_k and column <= column_k):
            row_values[kept] = value
            row_columns[kept] = column
            kept += 1
    thresholds[row] = value_k
    threshold_columns[row] = column_k
    return kept


@numba.njit(nogil=True, cache=True)
def _scatter_light(block, start, stop, heavy, x_ptr, x_idx, x_data, xt_ptr, xt_idx, xt_data):
    """Add the light columns' products to the block of rows ``start:stop``.

    ``block[i - start, j - start]`` holds the heavy columns' part of
    ``G[i, j]`` for ``j >= start``; only ``j > i`` is completed.
    """
    for i in range(start, stop):
        row = block[i - start]
        for p in range(x_ptr[i], x_ptr[i + 1]):
            rater = x_idx[p]
            if heavy[rater]:
                continue
            weight = x_data[p]
            # The rows of this rater after i (its row list is sorted and holds i).
            low, high = xt_ptr[rater], xt_ptr[rater + 1]
            while low < high:
                middle = (low + high) // 2
                if xt_idx[middle] <= i:
                    low = middle + 1
                else:
                    high = middle
            for q in range(low, xt_ptr[rater + 1]):  # (unsigned: no wraparound test)
                row[np.uint64(xt_idx[q] - start)] += weight * xt_data[q]


@numba.njit(nogil=True, cache=True)
def _offer_block(block, start, stop, tile, original, values, columns, sizes, thresholds,
                 threshold_columns, k):
    """Offer each entry ``G[i, j]``, ``j > i``, of the block to rows i and j.

    Tile by tile of ``tile`` columns, so that the buffers of the rows offered
    to stay in cache. The buffers hold the ``original`` column indices.
    """
    n_rows, capacity = values.shape
    for first in range(start, n_rows, tile):
        last = min(first + tile, n_rows)
        for i in range(start, stop):
            row = block[i - start]
            for j in range(max(first, i + 1), last):
                value = row[j - start]
                # (most entries enter neither buffer: one test skips them)
                if value < min(thresholds[i], thresholds[j]) or value <= 0:
                    continue
                for side in range(2):
                    target, source = (i, j) if side == 0 else (j, i)
                    # (inline, not by functions: a call that takes arrays costs
                    # their reference counts, at every entry)
                    threshold = thresholds[target]
                    if value < threshold or (value == threshold and original[source]
                                             >= threshold_columns[target]):
                        continue
                    size = sizes[target]
                    values[target, size] = value
                    columns[target, size] = original[source]
                    size += 1
                    if size == capacity:
                        size = _cut(values[target], columns[target], size, k, thresholds,
                                    threshold_columns, target)
                    sizes[target] = size


@numba.njit(nogil=True, cache=True)
def _merge(values, columns, sizes, thresholds, threshold_columns, k, other_values,
           other_columns, other_sizes):
    """Each row's buffer joined with its other buffer, cut to the ``k`` best when longer."""
    joined_values = np.empty(2 * values.shape[1], dtype=values.dtype)
    joined_columns = np.empty(2 * values.shape[1], dtype=columns.dtype)
    for row in range(sizes.shape[0]):
        size, other = sizes[row], other_sizes[row]
        joined_values[:size] = values[row, :size]
        joined_values[size:size + other] = other_values[row, :other]
        joined_columns[:size] = columns[row, :size]
        joined_columns[size:size + other] = other_columns[row, :other]
        size += other
        if size > k:
            size = _cut(joined_values, joined_columns, size, k, thresholds, threshold_columns,
                        row)
        values[row, :size] = joined_values[:size]
        columns[row, :size] = joined_columns[:size]
        sizes[row] = size


@numba.njit(nogil=True, cache=True)
def _cut_long(values, columns, sizes, thresholds, threshold_columns, k):
    """Cut every buffer longer than ``k`` to its ``k`` best."""
    for row in range(sizes.shape[0]):
        if sizes[row] > k:
            sizes[row] = _cut(values[row], columns[row], sizes[row], k, thresholds,
                              threshold_columns, row)


@numba.njit(nogil=True, cache=True)
def _finish(rows, values, columns, sizes):
    """CSR arrays of the first ``sizes`` entries of the rows ``rows`` (in that order), by column."""
    n_rows = rows.shape[0]
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    for out in range(n_rows):
        indptr[out + 1] = indptr[out] + sizes[rows[out]]
    indices = np.empty(indptr[-1], dtype=np.int32)
    data = np.empty(indptr[-1], dtype=np.float32)
    for out in range(n_rows):
        row = rows[out]
        size = sizes[row]
        order = np.argsort(columns[row, :size])
        for slot in range(size):
            indices[indptr[out] + slot] = columns[row, order[slot]]
            data[indptr[out] + slot] = values[row, order[slot]]
    return indptr, indices, data


def _to_csr(rows, values, columns, sizes):
    """The first ``sizes`` entries of the rows ``rows`` (in that order) as a CSR matrix."""
    n_rows = len(rows)
    indptr, indices, data = _finish(rows, values, columns, sizes)
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_rows))

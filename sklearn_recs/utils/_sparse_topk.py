"""Top-k per row of a product of sparse matrices, without the dense product.

Scoring by a sparse item-item matrix (ItemKNN, UserKNN, sparse linear
models) gives each user a sparse row of scores, ``user_rows @ matrix``.
:func:`topk_sparse_product` ranks those rows as
:func:`~sklearn_recs.utils._topk.topk` ranks the dense rows (unstored scores
are 0, excluded entries ``-inf``, ties by the lower column), but touches only
the stored scores: each row's scores are summed into one dense accumulator
(the row's items times their rows of ``matrix``, as scipy's sparse product
sums them, so the scores are the same floats) and only the columns it
reached are ranked, by a bounded heap. A row that reaches much of the
catalogue ranks every column, but first takes the maximum of each block of
``_BLOCK`` columns: the ``k``-th largest of those maxima is a floor under
its ``k``-th best score, so only the blocks and entries at or above it are
looked at. The kernel is compiled by numba and releases the GIL; memory is
one accumulator per thread, whatever the number of rows.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs

from ._threads import thread_map

__all__ = ["rows_of", "topk_sparse_product"]

# Rows ranked per task when threads share the work (small enough to balance
# the load, large enough that the accumulator's allocation does not count).
_ROWS_PER_TASK = 2048
# A row whose products reach more than this share of the columns scans
# every column (a list of the columns it reached costs a branch per product).
_DENSE_SHARE = 0.25
# Columns per block of a row that scans every column: the blocks' maxima
# give a floor under the row's k-th best score (see _rank_dense_row).
_BLOCK = 32
# Up to this many kept, the best entries are kept sorted by insertion (a
# few moves each, no heap): fewer branches for the usual top-10 lists.
_INSERTION_K = 32


def topk_sparse_product(rows, matrix, k, *, exclude=None, working_memory=None, n_jobs=None):
    """Return the ``k`` largest entries per row of ``rows @ matrix``, best first.

    The result equals ``topk(scores, k)`` with ``scores`` the dense product,
    ``-inf`` where ``exclude`` stores an entry: ties are ordered by column
    index, unstored products count as 0.

    Parameters
    ----------
    rows : scipy.sparse matrix of shape (n_rows, n_inner)
        Left factor (e.g. the users' interaction rows).
    matrix : scipy.sparse matrix of shape (n_inner, n_columns)
        Right factor (e.g. an item-item similarity or weight matrix).
    k : int
        How many to keep, ``1 <= k <= n_columns``.
    exclude : scipy.sparse matrix of shape (n_rows, n_columns), default=None
        Its stored entries (whatever their value) are left out, as ``-inf``
        (e.g. the users' seen items).
    working_memory : float, default=None
        Unused: the memory is ``n_columns`` scores per thread plus the
        result. Accepted for the callers that pass scikit-learn's setting.
    n_jobs : int, default=None
        Threads ranking rows at once; None means 1, -1 all processors.
        The result does not depend on it.

    Returns
    -------
    indices : ndarray of shape (n_rows, k)
        Column indices, best first.
    values : ndarray of shape (n_rows, k)
        The matching scores (float64); ``-inf`` where a row has fewer than
        ``k`` columns left.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_recs.utils._sparse_topk import topk_sparse_product
    >>> rows = sp.csr_matrix([[1.0, 0.0], [0.0, 2.0]])
    >>> matrix = sp.csr_matrix([[0.0, 0.5, 0.2, 0.0], [0.3, 0.0, 0.0, 0.1]])
    >>> topk_sparse_product(rows, matrix, 2)
    (array([[1, 2],
           [0, 3]]), array([[0.5, 0.2],
           [0.6, 0.2]]))
    >>> topk_sparse_product(rows, matrix, 2, exclude=sp.csr_matrix([[0, 1, 0, 0], [0, 0, 0, 0]]))[0]
    array([[2, 0],
           [0, 3]])
    """
    rows = sp.csr_matrix(rows)
    matrix = sp.csr_matrix(matrix)
    # The scores' dtype is that of scipy's product (float32 factors sum in float32).
    dtype = np.result_type(rows.dtype, matrix.dtype)
    if dtype not in (np.float32, np.float64):
        dtype = np.dtype(np.float64)
    n_rows, n_columns = rows.shape[0], matrix.shape[1]
    if exclude is None:
        exclude = sp.csr_matrix((n_rows, n_columns))
    exclude = sp.csr_matrix(exclude)
    # (The index arrays as they are, int32 or int64: numba compiles each.)
    factors = (rows.indptr, rows.indices, rows.data.astype(dtype, copy=False),
               matrix.indptr, matrix.indices, matrix.data.astype(dtype, copy=False),
               exclude.indptr, exclude.indices)
    indices = np.empty((n_rows, k), dtype=np.intp)
    values = np.empty((n_rows, k), dtype=np.float64)
    n_jobs = effective_n_jobs(n_jobs)
    step = _ROWS_PER_TASK if n_jobs > 1 else max(n_rows, 1)
    dense_products = int(_DENSE_SHARE * n_columns)

    def rank(start):
        stop = min(start + step, n_rows)
        _rank_rows(*factors, start, stop, n_columns, dense_products, k, _BLOCK, _INSERTION_K,
                   indices, values)

    thread_map(rank, range(0, n_rows, step), n_jobs)
    return indices, values


def rows_of(matrix, codes):
    """``matrix[codes]``, or ``matrix`` itself when ``codes`` lists every row in order.

    Ranking every user asks for all the rows; a sparse matrix's fancy
    indexing copies them (about a tenth of a top-10 ranking of MovieLens
    100k). The result is only read.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from sklearn_recs.utils._sparse_topk import rows_of
    >>> matrix = sp.csr_matrix(np.eye(3))
    >>> rows_of(matrix, np.arange(3)) is matrix
    True
    >>> rows_of(matrix, np.array([2, 0])).toarray()
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    codes = np.asarray(codes)
    if codes.ndim == 1 and len(codes) == matrix.shape[0] and (
            codes == np.arange(len(codes))).all():
        return matrix
    return matrix[codes]


@numba.njit(nogil=True, cache=True, inline="always")
def _worse(score_a, column_a, score_b, column_b):
    """Whether (score_a, column_a) ranks after (score_b, column_b)."""
    return score_a < score_b or (score_a == score_b and column_a > column_b)


@numba.njit(nogil=True, cache=True)
def _sift_down(heap_scores, heap_columns, size, position):
    """Restore the heap (its worst entry at the root) below ``position``."""
    while True:
        child = 2 * position + 1
        if child >= size:
            return
        if child + 1 < size and _worse(heap_scores[child + 1], heap_columns[child + 1],
                                       heap_scores[child], heap_columns[child]):
            child += 1
        if not _worse(heap_scores[child], heap_columns[child],
                      heap_scores[position], heap_columns[position]):
            return
        heap_scores[child], heap_scores[position] = heap_scores[position], heap_scores[child]
        heap_columns[child], heap_columns[position] = heap_columns[position], heap_columns[child]
        position = child


@numba.njit(nogil=True, cache=True)
def _heap_push(heap_scores, heap_columns, size, capacity, score, column):
    """Offer an entry to a heap of the ``capacity`` best; return the new size."""
    if size < capacity:
        position = size
        heap_scores[position] = score
        heap_columns[position] = column
        while position > 0:  # sift up
            parent = (position - 1) // 2
            if not _worse(heap_scores[position], heap_columns[position],
                          heap_scores[parent], heap_columns[parent]):
                break
            heap_scores[position], heap_scores[parent] = heap_scores[parent], heap_scores[position]
            heap_columns[position], heap_columns[parent] = (heap_columns[parent],
                                                            heap_columns[position])
            position = parent
        return size + 1
    if _worse(heap_scores[0], heap_columns[0], score, column):
        heap_scores[0] = score
        heap_columns[0] = column
        _sift_down(heap_scores, heap_columns, size, 0)
    return size


@numba.njit(nogil=True, cache=True)
def _drain(heap_scores, heap_columns, size, out_columns, out_values, offset):
    """Write the heap's entries best first at ``out[offset:offset + size]``."""
    for last in range(size - 1, -1, -1):
        out_values[offset + last] = heap_scores[0]
        out_columns[offset + last] = heap_columns[0]
        heap_scores[0] = heap_scores[last]
        heap_columns[0] = heap_columns[last]
        _sift_down(heap_scores, heap_columns, last, 0)


@numba.njit(nogil=True, cache=True)
def _insert(values, columns, size, capacity, score, column):
    """Offer an entry to the sorted ``capacity`` best (best first); return the new size.

    Entries come in column order, so one equal to a kept score goes after it.
    """
    if size == capacity and score <= values[capacity - 1]:
        return size
    position = size if size < capacity else capacity - 1
    while position > 0 and values[position - 1] < score:
        values[position] = values[position - 1]
        columns[position] = columns[position - 1]
        position -= 1
    values[position] = score
    columns[position] = column
    return size + 1 if size < capacity else size


@numba.njit(nogil=True, cache=True)
def _block_maxima(scores, block, maxima):
    """``maxima[b]``: the largest of ``scores[b * block:(b + 1) * block]``."""
    n_columns = scores.shape[0]
    for b in range(maxima.shape[0]):
        best = -np.inf
        for column in range(b * block, min(b * block + block, n_columns)):
            score = np.float64(scores[np.uint64(column)])  # (unsigned: no wraparound check)
            best = score if score > best else best
        maxima[b] = best


@numba.njit(nogil=True, cache=True)
def _rank_dense_row(scores, k, block, insertion_k, maxima, scratch, heap_scores, heap_columns,
                    columns, values):
    """Rank every column of ``scores`` into ``columns[:k]``, ``values[:k]``.

    The ``k``-th largest of the block maxima is a floor: ``k`` blocks hold
    an entry at least that large, so the ``k`` best are no smaller. Only the
    blocks whose maximum reaches it are scanned, in column order, and only
    their entries at or above it are offered to the best ``k`` (sorted by
    insertion for ``k <= insertion_k``, else a heap), as a scan of every
    column would offer them.
    """
    n_blocks = maxima.shape[0]
    floor = -np.inf  # (fewer blocks than k: every block is scanned)
    if k <= n_blocks:
        _block_maxima(scores, block, maxima)
        size = 0
        for b in range(n_blocks):
            size = _insert(scratch, heap_columns, size, k, maxima[b], b) if k <= insertion_k \
                else _heap_push(scratch, heap_columns, size, k, maxima[b], b)
        floor = scratch[k - 1] if k <= insertion_k else scratch[0]
    size = 0
    for b in range(n_blocks):
        if maxima[b] < floor:
            continue
        for column in range(b * block, min(b * block + block, scores.shape[0])):
            score = np.float64(scores[column])
            if score < floor:
                continue
            if k <= insertion_k:
                size = _insert(values, columns, size, k, score, column)
            elif size < k or score > heap_scores[0]:
                size = _heap_push(heap_scores, heap_columns, size, k, score, column)
    if k > insertion_k:
        _drain(heap_scores, heap_columns, size, columns, values, 0)


@numba.njit(nogil=True, cache=True, inline="always")
def _accumulate(scores, weight, mat_idx, mat_data, begin, end):
    """``scores[mat_idx[q]] += weight * mat_data[q]`` for ``q`` in ``begin:end``."""
    # Unsigned positions and columns: numba checks every signed index for a
    # negative value (wraparound), which cost a third of the loop's time.
    for q in range(np.uint64(begin), np.uint64(end)):
        scores[np.uint64(mat_idx[q])] += weight * mat_data[q]


@numba.njit(nogil=True, cache=True)
def _rank_rows(row_ptr, row_idx, row_data, mat_ptr, mat_idx, mat_data, ex_ptr, ex_idx,
               start, stop, n_columns, dense_products, k, block, insertion_k, out_columns,
               out_values):
    """Rank rows ``start:stop`` of the product into ``out_*`` (see topk_sparse_product)."""
    scores = np.zeros(n_columns, dtype=row_data.dtype)
    reached = np.zeros(n_columns, dtype=np.bool_)
    touched = np.empty(n_columns, dtype=np.int64)
    heap_scores = np.empty(k, dtype=np.float64)
    heap_columns = np.empty(k, dtype=np.int64)
    maxima = np.empty(-(-n_columns // block), dtype=np.float64)
    scratch = np.empty(k, dtype=np.float64)
    for row in range(start, stop):
        # Scores: the row's entries times their rows of the matrix, in
        # stored order (scipy's order of summation). A row that reaches
        # about the whole catalogue scans it instead of listing the
        # columns it reached (a branch per product).
        n_products = 0
        for p in range(row_ptr[row], row_ptr[row + 1]):
            n_products += mat_ptr[row_idx[p] + 1] - mat_ptr[row_idx[p]]
        dense = n_products > dense_products
        n_touched = 0
        for p in range(row_ptr[row], row_ptr[row + 1]):
            inner = row_idx[p]
            if dense:
                _accumulate(scores, row_data[p], mat_idx, mat_data, mat_ptr[inner],
                            mat_ptr[inner + 1])
                continue
            for q in range(np.uint64(mat_ptr[inner]), np.uint64(mat_ptr[inner + 1])):
                column = np.uint64(mat_idx[q])  # (unsigned, as in _accumulate)
                if not reached[column]:
                    reached[column] = True
                    touched[n_touched] = column
                    n_touched += 1
                scores[column] += row_data[p] * mat_data[q]
        # Excluded columns score -inf (no product is infinite).
        for p in range(ex_ptr[row], ex_ptr[row + 1]):
            scores[ex_idx[p]] = -np.inf
        columns = out_columns[row]
        values = out_values[row]
        if dense:
            _rank_dense_row(scores, k, block, insertion_k, maxima, scratch, heap_scores,
                            heap_columns, columns, values)
            scores[:] = 0
            continue
        # 1. Positive scores, by a heap of the k best.
        size = 0
        for t in range(n_touched):
            column = touched[t]
            score = np.float64(scores[column])
            # (The heap is called only for an entry that enters it: most do not.)
            if score > 0 and (size < k or not _worse(score, column, heap_scores[0],
                                                      heap_columns[0])):
                size = _heap_push(heap_scores, heap_columns, size, k, score, column)
        _drain(heap_scores, heap_columns, size, columns, values, 0)
        filled = size
        # 2. Zero scores (unreached or summed to 0), by column.
        column = 0
        while filled < k and column < n_columns:
            if scores[column] == 0:
                columns[filled] = column
                values[filled] = 0.0
                filled += 1
            column += 1
        # 3. Negative scores, by a heap of the best left.
        if filled < k:
            size = 0
            for t in range(n_touched):
                column = touched[t]
                score = np.float64(scores[column])
                if -np.inf < score < 0:
                    size = _heap_push(heap_scores, heap_columns, size, k - filled, score,
                                      column)
            _drain(heap_scores, heap_columns, size, columns, values, filled)
            filled += size
        # 4. Excluded columns, -inf, by column.
        column = 0
        while filled < k:
            if scores[column] == -np.inf:
                columns[filled] = column
                values[filled] = -np.inf
                filled += 1
            column += 1
        for t in range(n_touched):
            scores[touched[t]] = 0
            reached[touched[t]] = False
        for p in range(ex_ptr[row], ex_ptr[row + 1]):
            scores[ex_idx[p]] = 0


def top_positive(dense, k):
    """Each row's ``k`` largest positive entries: ``(columns, values)``, best first.

    Equal entries are ordered by column; a row with fewer than ``k``
    positive entries ends with column ``-1`` and value 0. One pass over
    each row: the entries above the current threshold are appended to a
    buffer of ``4 * k``, which is cut back to its ``k`` best (raising the
    threshold) whenever it fills, so most entries cost one comparison.

    Parameters
    ----------
    dense : ndarray of shape (n_rows, n_columns)
        The scores (float32 or float64).
    k : int
        How many to keep, ``k >= 1``.

    Returns
    -------
    columns : ndarray of shape (n_rows, k)
        Column indices (int64), best first; -1 in unused slots.
    values : ndarray of shape (n_rows, k)
        The entries, in ``dense``'s dtype; 0 in unused slots.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.utils._sparse_topk import top_positive
    >>> top_positive(np.array([[0.5, -1.0, 0.5, 2.0], [0.0, 0.0, 0.0, 0.1]]), 2)
    (array([[ 3,  0],
           [ 3, -1]]), array([[2. , 0.5],
           [0.1, 0. ]]))
    """
    dense = np.asarray(dense)
    columns = np.empty((dense.shape[0], k), dtype=np.int64)
    values = np.empty((dense.shape[0], k), dtype=dense.dtype)
    _top_positive_rows(dense, k, columns, values)
    return columns, values


@numba.njit(nogil=True, cache=True)
def _select(values, size, rank):
    """The ``rank``-th smallest of ``values[:size]`` (quickselect, in place)."""
    low, high = 0, size - 1
    while low < high:
        pivot = values[(low + high) // 2]
        i, j = low, high
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if rank <= j:
            high = j
        elif rank >= i:
            low = i
        else:
            break
    return values[rank]


@numba.njit(nogil=True, cache=True)
def _cut(buffer_values, buffer_columns, size, k, scratch):
    """Keep the ``k`` best of the buffer's ``size`` entries, in their order; return their threshold.

    The threshold is the ``k``-th largest value; of the entries equal to
    it, the first ones (lower columns) are kept.
    """
    scratch[:size] = buffer_values[:size]
    threshold = _select(scratch, size, size - k)
    above = 0
    for i in range(size):
        above += buffer_values[i] > threshold
    at_threshold = k - above
    kept = 0
    for i in range(size):
        value = buffer_values[i]
        if value > threshold or (value == threshold and at_threshold > 0):
            if value == threshold:
                at_threshold -= 1
            buffer_values[kept] = value
            buffer_columns[kept] = buffer_columns[i]
            kept += 1
    return threshold


@numba.njit(nogil=True, cache=True)
def _top_positive_rows(dense, k, out_columns, out_values):
    """Rank each row of ``dense`` into ``out_*`` (see top_positive)."""
    capacity = 4 * k
    buffer_values = np.empty(capacity, dtype=np.float64)
    buffer_columns = np.empty(capacity, dtype=np.int64)
    scratch = np.empty(capacity, dtype=np.float64)
    for row in range(dense.shape[0]):
        entries = dense[row]
        size = 0
        threshold = 0.0  # in column order: an entry equal to the threshold comes too late
        for column in range(entries.shape[0]):
            value = np.float64(entries[column])
            if value > threshold:
                buffer_values[size] = value
                buffer_columns[size] = column
                size += 1
                if size == capacity:
                    threshold = _cut(buffer_values, buffer_columns, size, k, scratch)
                    size = k
        if size > k:
            _cut(buffer_values, buffer_columns, size, k, scratch)
            size = k
        # Best first (an insertion sort: the buffer is in column order, so
        # ties stay by column).
        for slot in range(size):
            _insert(out_values[row], out_columns[row], slot, k, buffer_values[slot],
                    buffer_columns[slot])
        out_columns[row, size:] = -1
        out_values[row, size:] = 0

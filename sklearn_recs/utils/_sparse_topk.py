"""Top-k per row of a product of sparse matrices, without the dense product.

Scoring by a sparse item-item matrix (ItemKNN, UserKNN, sparse linear
models) gives each user a sparse row of scores, ``user_rows @ matrix``.
:func:`topk_sparse_product` ranks those rows as
:func:`~sklearn_recs.utils._topk.topk` ranks the dense rows (unstored scores
are 0, excluded entries ``-inf``, ties by the lower column), but touches only
the stored scores: memory and time follow the product's size, not
``n_rows * n_columns``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs
from sklearn import get_config

from ._threads import thread_map
from ._topk import topk

__all__ = ["topk_sparse_product"]

# Bytes held per stored score while one block is ranked: the product and
# its copy with the exclusions (float64 + int32 each), the positive scores
# and their padded layout.
_BYTES_PER_SCORE = 48
# Blocks whose product stores more than this share of its entries are ranked
# dense (faster than the sparse path there).
_DENSE_SHARE = 0.25
# Entries per group when a row's top scores are searched among its groups'
# maxima first (see _segment_topk).
_GROUP = 16


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
        MiB for the blocks of rows ranked at once (shared by the threads);
        scikit-learn's ``working_memory`` by default.
    n_jobs : int, default=None
        Threads ranking blocks at once; None means 1, -1 all processors.
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
    n_rows = rows.shape[0]
    indices = np.empty((n_rows, k), dtype=np.intp)
    values = np.empty((n_rows, k), dtype=np.float64)
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    n_jobs = effective_n_jobs(n_jobs)
    # Each thread ranks one block at a time (the ranking is exact: block
    # sizes do not change it).
    budget = max(1, int(working_memory * 2**20 / n_jobs) // _BYTES_PER_SCORE)
    # A row's stored products: at most the sum of its rows of `matrix`.
    work = np.minimum(matrix.shape[1], np.bincount(
        np.repeat(np.arange(n_rows), np.diff(rows.indptr)),
        weights=np.diff(matrix.indptr)[rows.indices], minlength=n_rows))

    def rank(block):
        product = sp.csr_matrix(rows[block] @ matrix, dtype=np.float64)
        if product.nnz > _DENSE_SHARE * product.shape[0] * product.shape[1]:
            scores = product.toarray()
            if exclude is not None:
                excluded = sp.csr_matrix(exclude[block])
                scores[np.repeat(np.arange(scores.shape[0]), np.diff(excluded.indptr)),
                       excluded.indices] = -np.inf
            indices[block], values[block] = topk(scores, k)
            return
        product.sort_indices()
        if exclude is not None:
            excluded = sp.csr_matrix(exclude[block], dtype=np.float64, copy=True)
            excluded.sort_indices()
            excluded.data[:] = -np.inf
            product = product + excluded
        indices[block], values[block] = _topk_stored(product, k, budget)

    thread_map(rank, _row_blocks(work, budget), n_jobs)
    return indices, values


def _row_blocks(work, budget):
    """Consecutive row ranges whose ``work`` sums to about ``budget`` (>= 1 row)."""
    bounds = np.searchsorted(np.cumsum(work), np.arange(budget, work.sum(), budget))
    edges = np.unique(np.concatenate([[0], bounds + 1, [len(work)]]))
    return [slice(start, stop) for start, stop in zip(edges[:-1], edges[1:])]


def _topk_stored(scores, k, budget):
    """``topk(scores.toarray(), k)`` for a CSR with sorted indices.

    Rows with at least ``k`` positive scores are ranked on those alone
    (:func:`_segment_topk`); the others (whose lists end with unstored
    zeros, negative or excluded columns) are made dense.
    """
    n_rows = scores.shape[0]
    indices = np.empty((n_rows, k), dtype=np.intp)
    values = np.empty((n_rows, k), dtype=np.float64)
    positive = scores.data > 0
    row_of = np.repeat(np.arange(n_rows), np.diff(scores.indptr))
    counts = np.bincount(row_of[positive], minlength=n_rows)
    short = np.flatnonzero(counts < k)
    if short.size:
        step = max(1, budget // max(scores.shape[1], 1))
        for start in range(0, short.size, step):
            part = short[start:start + step]
            indices[part], values[part] = topk(scores[part].toarray(), k)
    long = np.flatnonzero(counts >= k)
    if long.size:
        keep = positive & (counts >= k)[row_of]
        best, values[long] = _segment_topk(scores.data[keep], counts[long], k, budget)
        indices[long] = scores.indices[keep][best]
    return indices, values


def _segment_topk(data, counts, k, budget):
    """Top ``k`` of each segment of ``data`` (rows of ``counts >= k`` entries).

    Returns the positions in ``data`` (best first, ties by position) and
    the values. Each row is cut into groups of ``_GROUP`` entries; the
    ``k``-th largest group maximum bounds the row's ``k``-th largest value
    from below, so only the entries that reach it are ranked.
    """
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n_groups = -(-counts // _GROUP)
    grouped = np.flatnonzero(n_groups >= k)
    if grouped.size and 2 * n_groups[grouped].sum() <= counts[grouped].sum():
        group_starts = (np.repeat(starts - _GROUP * np.concatenate([[0], np.cumsum(n_groups)[:-1]]),
                                  n_groups) + _GROUP * np.arange(n_groups.sum()))
        maxima = np.maximum.reduceat(data, group_starts)
        bound = np.full(len(counts), -np.inf)
        of_grouped = np.repeat(n_groups >= k, n_groups)
        _, kth = _packed_topk(maxima[of_grouped], n_groups[grouped], k, budget)
        bound[grouped] = kth[:, -1]
        survive = data >= np.repeat(bound, counts)
        positions = np.flatnonzero(survive)
        best, values = _packed_topk(data[survive], np.add.reduceat(survive.astype(np.intp), starts), k, budget)
        return positions[best], values
    return _packed_topk(data, counts, k, budget)


def _packed_topk(data, counts, k, budget):
    """:func:`topk` of each segment of ``data``, rows packed by length.

    Rows are taken in order of length, in blocks of at most ``budget``
    entries (or one row) padded with ``-inf`` to their longest row.
    """
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    best = np.empty((len(counts), k), dtype=np.intp)
    values = np.empty((len(counts), k), dtype=data.dtype)
    order = np.argsort(counts, kind="stable")
    lengths = counts[order]
    start = 0
    while start < order.size:
        # Rows by increasing length: a block is as wide as its last row, at
        # most twice its first (little padding).
        fits = ((np.arange(1, order.size - start + 1) * lengths[start:] <= budget)
                & (lengths[start:] <= 2 * lengths[start]))
        stop = start + max(1, int(fits.sum()))
        block = order[start:stop]
        position = np.arange(lengths[stop - 1])
        inside = position < counts[block][:, None]
        take = np.where(inside, starts[block][:, None] + position, 0)
        top, values[block] = topk(np.where(inside, data[take], -np.inf), k)
        best[block] = np.take_along_axis(take, top, axis=1)
        start = stop
    return best, values

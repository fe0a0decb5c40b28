"""Block-wise top-k selection by ``argpartition``."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np
from sklearn import get_config

# Bytes per candidate score held at once while ranking one block: the scores
# (float64), argpartition's indices (int64), a cumulative count of ties
# (int64) and two boolean masks.
_BYTES_PER_SCORE = 8 + 8 + 8 + 2
# Bytes per slot of a row's prefix in ``topk_shared``: two boolean masks and
# a cumulative count (int64).
_BYTES_PER_SHARED_SLOT = 1 + 1 + 8


# Calls in flight (recommend, predict) sharing the process's working memory.
_active_calls = 0
_active_lock = threading.Lock()


@contextmanager
def shared_working_memory():
    """Count the calling ``recommend`` or ``predict`` among those sharing the budget.

    Concurrent calls (threads serving requests) split scikit-learn's
    ``working_memory`` between them instead of each taking all of it: see
    :func:`memory_share`.

    Examples
    --------
    >>> from sklearn_recs.utils._topk import memory_share, shared_working_memory
    >>> with shared_working_memory():
    ...     memory_share() > 0
    True
    """
    global _active_calls
    with _active_lock:
        _active_calls += 1
    try:
        yield
    finally:
        with _active_lock:
            _active_calls -= 1


def memory_share() -> float:
    """MiB one block of work may hold now: ``working_memory`` over the calls in flight.

    Callers ask again for each block, so that a call started alone shrinks
    its blocks when others join: the process holds about one budget in all.

    Examples
    --------
    >>> from sklearn import config_context
    >>> from sklearn_recs.utils._topk import memory_share
    >>> with config_context(working_memory=64):
    ...     memory_share()
    64.0
    """
    return get_config()["working_memory"] / max(1, _active_calls)


def block_size(n_columns: int, working_memory: float | None = None) -> int:
    """Rows of an ``(rows, n_columns)`` score block that fit the memory budget.

    Parameters
    ----------
    n_columns : int
        Candidates scored per row.
    working_memory : float, default=None
        Budget in MiB; defaults to this call's share of scikit-learn's
        ``working_memory`` setting (see :func:`memory_share`).

    Returns
    -------
    rows : int
        At least 1.

    Examples
    --------
    >>> from sklearn_recs.utils._topk import block_size
    >>> block_size(1000, working_memory=1)
    40
    """
    if working_memory is None:
        working_memory = memory_share()
    budget = int(working_memory * 2**20)
    return max(1, budget // (max(n_columns, 1) * _BYTES_PER_SCORE))


def topk(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the column indices and values of the ``k`` largest scores per row.

    Each row is ranked best first; equal scores are ordered by column index
    (the lower index first), so the result does not depend on how the rows
    were batched.

    Parameters
    ----------
    scores : ndarray of shape (n_rows, n_columns)
        Scores; ``-inf`` marks excluded entries.
    k : int
        How many to keep, ``1 <= k <= n_columns``.

    Returns
    -------
    indices : ndarray of shape (n_rows, k)
        Column indices, best first.
    values : ndarray of shape (n_rows, k)
        The matching scores.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.utils._topk import topk
    >>> topk(np.array([[0.1, 0.9, 0.5, 0.9]]), 3)
    (array([[1, 3, 2]]), array([[0.9, 0.9, 0.5]]))
    """
    n_columns = scores.shape[1]
    if k < n_columns:
        part = np.argpartition(scores, n_columns - k, axis=1)[:, n_columns - k:]
    else:
        part = np.broadcast_to(np.arange(n_columns), scores.shape)
    values = np.take_along_axis(scores, part, axis=1)
    if k < n_columns:
        _prefer_lower_index_at_cut(scores, part, values, k)
    # Primary key: score, descending; secondary: column index, ascending.
    order = np.lexsort((part, -values), axis=1)
    return (np.take_along_axis(part, order, axis=1),
            np.take_along_axis(values, order, axis=1))


def _prefer_lower_index_at_cut(scores, part, values, k):
    """Where ties straddle the cut, keep the tied columns of lowest index.

    ``argpartition`` picks arbitrary members of a tie at the k-th score;
    rows where more columns reach that score than fit are redone exactly:
    every column above it, then the lowest-index columns equal to it.
    Updates ``part`` and ``values`` in place.
    """
    cut = values.min(axis=1)[:, None]
    rows = np.flatnonzero(np.count_nonzero(scores >= cut, axis=1) > k)
    if rows.size == 0:
        return
    sub, cut = scores[rows], cut[rows]
    above = sub > cut
    tied = sub == cut
    room = k - np.count_nonzero(above, axis=1)
    keep = above | (tied & (np.cumsum(tied, axis=1) <= room[:, None]))
    part[rows] = np.nonzero(keep)[1].reshape(len(rows), k)
    values[rows] = np.take_along_axis(sub, part[rows], axis=1)


def topk_shared(scores: np.ndarray, k: int, exclude=None,
                working_memory: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top ``k`` of one score row shared by every row, less each row's exclusions.

    Equal to ``topk`` of the dense ``(n_rows, n_columns)`` matrix that
    repeats ``scores`` with each row's excluded columns set to ``-inf``, but
    without building it: the columns are ordered once, and each row takes the
    first ``k`` of that order it does not exclude. A row that excludes so
    many columns that fewer than ``k`` remain is not ranked here (its
    ``-inf`` slots follow the dense ``topk`` rules): it is returned in
    ``short`` for the caller to rank densely.

    Parameters
    ----------
    scores : ndarray of shape (n_columns,)
        Finite scores, the same for every row.
    k : int
        How many to keep, ``1 <= k <= n_columns``.
    exclude : scipy.sparse.csr_matrix of shape (n_rows, n_columns), default=None
        Row ``r`` lists the columns to leave out of row ``r``; None for a
        single row that excludes nothing.
    working_memory : float, default=None
        Budget in MiB for one block of rows; defaults to scikit-learn's
        ``working_memory`` setting.

    Returns
    -------
    indices : ndarray of shape (n_rows, k)
        Column indices, best first (rows in ``short`` hold zeros).
    values : ndarray of shape (n_rows, k)
        The matching scores (rows in ``short`` hold ``scores[0]``).
    short : ndarray of int
        The rows with fewer than ``k`` columns left.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from sklearn_recs.utils._topk import topk_shared
    >>> exclude = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 0, 0]]))
    >>> indices, values, short = topk_shared(np.array([0.1, 0.9, 0.5, 0.9]), 2, exclude)
    >>> indices
    array([[3, 2],
           [1, 3]])
    """
    scores = np.asarray(scores, dtype=np.float64)
    n_columns = scores.size
    order = np.argsort(-scores, kind="stable")  # ties: the lower column first
    if exclude is None:
        return order[None, :k], scores[order[None, :k]], np.empty(0, dtype=np.intp)
    rank = np.empty(n_columns, dtype=np.intp)
    rank[order] = np.arange(n_columns)
    n_rows = exclude.shape[0]
    counts = np.diff(exclude.indptr)
    indices = np.zeros((n_rows, k), dtype=np.intp)
    # Rows sorted by how many columns they exclude, so that a block's width
    # (k plus its largest exclusion count) wastes little on padding.
    by_count = np.argsort(counts, kind="stable")
    widths = np.minimum(n_columns, k + counts[by_count])  # non-decreasing
    if working_memory is None:
        working_memory = memory_share()
    budget = int(working_memory * 2**20) // _BYTES_PER_SHARED_SLOT
    short = []
    start = 0
    while start < n_rows:
        # The most rows from ``start`` whose block (as wide as its last row)
        # fits the budget and is at most twice as wide as its first row.
        cost = np.arange(1, n_rows - start + 1) * widths[start:]
        stop = start + max(1, min(int(np.searchsorted(cost, budget, side="right")),
                                  int(np.searchsorted(widths[start:], 2 * widths[start],
                                                      side="right"))))
        rows = by_count[start:stop]
        width = int(widths[stop - 1])
        sub = exclude[rows]
        r = np.repeat(np.arange(len(rows)), np.diff(sub.indptr))
        c = rank[sub.indices]
        free = np.ones((len(rows), width), dtype=bool)
        free[r[c < width], c[c < width]] = False
        taken = free & (np.cumsum(free, axis=1) <= k)
        full = np.count_nonzero(taken, axis=1) == k
        short.append(rows[~full])
        indices[rows[full]] = order[np.nonzero(taken[full])[1].reshape(-1, k)]
        start = stop
    return indices, scores[indices], np.sort(np.concatenate(short))

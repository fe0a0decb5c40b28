"""Block-wise top-k selection by ``argpartition``."""

from __future__ import annotations

import numpy as np
from sklearn import get_config

# Bytes per candidate score held at once while ranking one block: the scores
# (float64), argpartition's indices (int64), a cumulative count of ties
# (int64) and two boolean masks.
_BYTES_PER_SCORE = 8 + 8 + 8 + 2


def block_size(n_columns: int, working_memory: float | None = None) -> int:
    """Rows of an ``(rows, n_columns)`` score block that fit the memory budget.

    Parameters
    ----------
    n_columns : int
        Candidates scored per row.
    working_memory : float, default=None
        Budget in MiB; defaults to scikit-learn's ``working_memory`` setting
        (``sklearn.set_config(working_memory=...)``).

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
        working_memory = get_config()["working_memory"]
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

"""Threads over blocks of work, for the C loops that release the GIL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from joblib import effective_n_jobs

__all__ = ["thread_map"]


def thread_map(function, items, n_jobs=None):
    """``[function(item) for item in items]``, on ``n_jobs`` threads.

    Parameters
    ----------
    function : callable
        Called once per item; it should spend its time in code that releases
        the GIL (numpy, scipy.sparse, torch) for the threads to help.
    items : sequence
        The work items.
    n_jobs : int, default=None
        Threads; None means 1 (no thread), -1 all processors (scikit-learn's
        convention).

    Returns
    -------
    results : list
        In the order of ``items``.

    Examples
    --------
    >>> from sklearn_recs.utils._threads import thread_map
    >>> thread_map(lambda x: x * x, [1, 2, 3], n_jobs=2)
    [1, 4, 9]
    """
    n_jobs = min(effective_n_jobs(n_jobs), len(items))
    if n_jobs <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(n_jobs) as pool:
        return list(pool.map(function, items))

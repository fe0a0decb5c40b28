"""Recommend for many users on any joblib backend: threads, processes, Dask."""

from __future__ import annotations

from typing import Any

import numpy as np
from joblib.parallel import get_active_backend
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from .validation import _is_per_user_exclude, check_ids, check_k

__all__ = ["recommend_in_parallel"]


def _recommend_block(estimator, users, top_n, recommend_params):
    return estimator.recommend(users, top_n, **recommend_params)


def _shipped_once(estimator):
    """The estimator, or a Dask future of it held by every worker.

    Under joblib's Dask backend the fitted model is broadcast to the
    workers once (``client.scatter``), and each task receives the future,
    which Dask resolves to the worker's own copy; joblib would otherwise
    pickle the model into every batch of tasks.
    """
    backend, _ = get_active_backend()
    client = getattr(backend, "client", None)
    if client is None:
        return estimator
    return client.scatter(estimator, broadcast=True, hash=False)


def recommend_in_parallel(estimator: Any, users: Any, top_n: int = 10, *,
                          block_size: int = 1000, n_jobs: int | None = None,
                          **recommend_params: Any) -> Any:
    """Recommend for many users, in blocks run in parallel by joblib.

    ``users`` is cut into consecutive blocks of ``block_size`` users; each
    block is one call of ``estimator.recommend`` on a joblib worker, and the
    blocks are put back together in order, so the result is the result of
    ``estimator.recommend(users, top_n, **recommend_params)``.

    It runs on the active joblib backend: processes (loky, the default for
    ``n_jobs > 1``), threads (``joblib.parallel_backend("threading")``), or
    a Dask cluster (``joblib.parallel_backend("dask")`` with a
    ``dask.distributed.Client``). With Dask the fitted model is sent to each
    worker once (broadcast with ``client.scatter``), not once per block;
    with loky, joblib memory-maps the model's arrays larger than 1 MB, so
    they are written to disk once and the rest is pickled per batch of tasks.

    Parameters
    ----------
    estimator : fitted recommender
        A fitted estimator with a ``recommend`` method, such as any
        estimator of sklearn_recs.
    users : array-like of shape (n_users,)
        User ids, as for ``recommend``.
    top_n : int, default=10
        Length of each list.
    block_size : int, default=1000
        Users per task. Smaller blocks balance the load over more workers;
        each task has a fixed overhead (milliseconds with processes, more on
        a cluster). Inside a block, ``recommend`` still scores users in
        memory-sized chunks (scikit-learn's ``working_memory``).
    n_jobs : int, default=None
        Number of parallel jobs. None means 1 unless in a
        ``joblib.parallel_backend`` context (all the Dask workers' threads
        for the Dask backend); -1 means all processors.
    **recommend_params : dict
        Passed to every block's ``recommend``: ``exclude_seen``, ``items``,
        ``exclude``, ``return_scores``. A per-user ``exclude`` (one list of
        item ids per user, in the order of ``users``) is cut into the
        blocks' lists; a flat list goes to every block.

    Returns
    -------
    recommended : ndarray of shape (n_users, min(top_n, n_candidates))
        Item ids, best first, row ``i`` for ``users[i]``.
    scores : ndarray of shape (n_users, min(top_n, n_candidates))
        Only with ``return_scores=True``.

    See Also
    --------
    sklearn_recs.base.RecommenderMixin.recommend : The same, in one process.

    Notes
    -----
    Warnings raised while recommending, such as the ``ColdStartWarning`` for
    users unseen at fit, are raised by each block where it runs: in the
    calling process with threads, in the worker's log with processes (as for
    scikit-learn's own joblib-parallel functions). Find unseen users
    beforehand with ``numpy.isin(users, estimator.users_)``.

    Examples
    --------
    >>> import joblib
    >>> from sklearn_recs.neighbors import ItemKNN
    >>> from sklearn_recs.utils import recommend_in_parallel
    >>> from sklearn_recs.utils._testing import tiny_ratings
    >>> X, y = tiny_ratings()
    >>> model = ItemKNN().fit(X, y)
    >>> users = model.users_
    >>> with joblib.parallel_backend("threading"):  # 4 blocks, 2 threads
    ...     lists = recommend_in_parallel(model, users, top_n=3, block_size=8,
    ...                                   n_jobs=2)
    >>> lists.shape
    (30, 3)
    >>> bool((lists == model.recommend(users, top_n=3)).all())
    True

    On a Dask cluster (``pip install "sklearn_recs[dask]"``)::

        from dask.distributed import Client
        client = Client("scheduler-address:8786")
        with joblib.parallel_backend("dask"):
            lists = recommend_in_parallel(model, all_users, top_n=100)
    """
    check_is_fitted(estimator)
    if not callable(getattr(estimator, "recommend", None)):
        raise TypeError(
            f"recommend_in_parallel: {type(estimator).__name__} has no recommend() "
            "method; pass a fitted recommender such as those of sklearn_recs."
        )
    users = check_ids(users, what="user ids", estimator="recommend_in_parallel")
    top_n = check_k(top_n, name="top_n", estimator="recommend_in_parallel")
    block_size = check_k(block_size, name="block_size", estimator="recommend_in_parallel")
    exclude = recommend_params.pop("exclude", None)
    per_user = _is_per_user_exclude(exclude)
    if per_user and len(exclude) != users.size:
        raise ValueError(
            f"recommend_in_parallel: exclude has {len(exclude)} lists but {users.size} "
            "users were given; pass one list of item ids per user, or a flat list "
            "of item ids to exclude for every user."
        )
    if users.size == 0:
        return estimator.recommend(users, top_n, exclude=exclude, **recommend_params)
    shipped = _shipped_once(estimator)
    starts = range(0, users.size, block_size)
    blocks = Parallel(n_jobs=n_jobs)(
        delayed(_recommend_block)(
            shipped, users[start:start + block_size], top_n,
            {**recommend_params,
             "exclude": list(exclude[start:start + block_size]) if per_user else exclude})
        for start in starts)
    if recommend_params.get("return_scores", False):
        return (np.concatenate([ranked for ranked, _ in blocks]),
                np.concatenate([scores for _, scores in blocks]))
    return np.concatenate(blocks)

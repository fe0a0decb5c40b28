"""The sampled "1 + 99" ranking protocol of the NCF paper, as an opt-in."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..exceptions import ColdStartWarning
from ..utils._stack import user_stacklevel
from ..utils._topk import block_size
from ..utils.validation import check_interactions, check_k
from ._scorer import _final_recommender

__all__ = ["sampled_ranking_score"]


def _sample_negatives(row_users, forbidden, n_items, n_negatives, rng):
    """``n_negatives`` distinct items per row, none in ``forbidden``.

    ``forbidden`` holds the sorted keys ``user * n_items + item`` to avoid.
    """
    out = np.empty((len(row_users), n_negatives), dtype=np.intp)
    step = block_size(n_items)
    for start in range(0, len(row_users), step):
        users = row_users[start:start + step]
        keys = rng.random_sample((len(users), n_items))
        candidates = users[:, None].astype(np.int64) * n_items + np.arange(n_items)
        pos = np.minimum(np.searchsorted(forbidden, candidates), len(forbidden) - 1)
        keys[forbidden[pos] == candidates] = np.inf
        out[start:start + step] = np.argpartition(keys, n_negatives - 1, axis=1)[:, :n_negatives]
        if np.isinf(np.take_along_axis(keys, out[start:start + step], axis=1)).any():
            raise ValueError(
                f"sampled_ranking_score: some users have fewer than n_negatives="
                f"{n_negatives} items they never interacted with; use a smaller "
                "n_negatives."
            )
    return out


def sampled_ranking_score(estimator: Any, X: Any, y: Any = None, *, metric: str = "ndcg",
                          k: int = 10, n_negatives: int = 99,
                          random_state: Any = None) -> float:
    """Rank each held-out item among sampled negatives (NCF's "1 + 99" protocol).

    For each test row ``(user, item)``, ``n_negatives`` distinct items the
    user interacted with neither at fit (``estimator.interactions_``) nor in
    ``X`` are drawn uniformly; the estimator's ``predict`` scores the held-out
    item and the negatives, and the row scores a hit if the held-out item
    ranks in the top ``k`` (ties count against it). This is the leave-one-out
    evaluation of He et al. (2017), given so that their numbers can be
    reproduced.

    .. warning::
       Sampled metrics are not full-ranking metrics, and they can rank
       models differently from the full-catalogue evaluation they stand for
       (Krichene and Rendle, 2020): a model that wins among 100 candidates
       can lose among all items. Select and report models with the full
       ranking (:func:`make_ranking_scorer`, the package's default); use this
       only to set numbers beside published sampled ones.

    The signature ``(estimator, X, y)`` is the scorer protocol, so
    ``functools.partial(sampled_ranking_score, metric="hit_rate")`` works as
    ``scoring=`` in ``GridSearchCV``.

    Parameters
    ----------
    estimator : fitted recommender
        Needs ``predict``, ``users_``, ``items_`` and ``interactions_``; or a
        fitted ``Pipeline`` ending in such a recommender (``X`` then goes
        through its transformers first).
    X : array-like of shape (n_samples, n_columns >= 2)
        Held-out (user id, item id) rows, typically one per user
        (:class:`~sklearn_recs.model_selection.LeaveLastOut`). Rows with a
        user or item unseen at fit are left out, with a
        :class:`ColdStartWarning`.
    y : None
        Ignored.
    metric : {"ndcg", "hit_rate"}, default="ndcg"
        NDCG@k (``1 / log2(rank + 2)`` for a hit at 0-based ``rank``) or
        hit rate@k, averaged over the test rows.
    k : int, default=10
        Cut-off.
    n_negatives : int, default=99
        Negatives sampled per test row.
    random_state : int, RandomState instance or None, default=None
        Seeds the negatives.

    Returns
    -------
    score : float
        The mean over the test rows.

    References
    ----------
    .. [1] X. He, L. Liao, H. Zhang, L. Nie, X. Hu and T.-S. Chua, "Neural
       collaborative filtering", WWW 2017.
    .. [2] W. Krichene and S. Rendle, "On sampled metrics for item
       recommendation", KDD 2020.

    Examples
    --------
    >>> from sklearn_recs.baselines import Popularity
    >>> from sklearn_recs.metrics import sampled_ranking_score
    >>> X = [[0, 0], [0, 1], [1, 0], [1, 2], [2, 0], [2, 1], [3, 3]]
    >>> model = Popularity().fit(X)
    >>> X_test = [[3, 0]]  # the most popular item among 2 sampled negatives
    >>> sampled_ranking_score(model, X_test, metric="hit_rate", k=1,
    ...                       n_negatives=2, random_state=0)
    1.0
    """
    if metric not in ("ndcg", "hit_rate"):
        raise ValueError(
            f"sampled_ranking_score: metric={metric!r} is invalid; use 'ndcg' or 'hit_rate'."
        )
    k = check_k(k, estimator="sampled_ranking_score")
    n_negatives = check_k(n_negatives, name="n_negatives", estimator="sampled_ranking_score")
    check_is_fitted(estimator)
    estimator, X = _final_recommender(estimator, X)
    users, items, _ = check_interactions(X, estimator="sampled_ranking_score")
    user_codes = pd.Index(estimator.users_).get_indexer(users)
    item_codes = pd.Index(estimator.items_).get_indexer(items)
    known = (user_codes >= 0) & (item_codes >= 0)
    if not known.all():
        warnings.warn(
            f"sampled_ranking_score: {int((~known).sum())} of {len(known)} test rows have "
            "a user or item unseen at fit; they were left out.", ColdStartWarning,
            stacklevel=user_stacklevel())
    user_codes, item_codes = user_codes[known], item_codes[known]
    n_items = len(estimator.items_)
    train = estimator.interactions_.tocoo()
    forbidden = np.unique(np.r_[train.row.astype(np.int64) * n_items + train.col,
                                user_codes.astype(np.int64) * n_items + item_codes])
    negatives = _sample_negatives(user_codes, forbidden, n_items, n_negatives,
                                  check_random_state(random_state))
    candidates = np.column_stack([item_codes, negatives])
    pairs = pd.DataFrame({
        "user": np.repeat(estimator.users_[user_codes], candidates.shape[1]),
        "item": estimator.items_[candidates.ravel()],
    })
    scores = estimator.predict(pairs).reshape(candidates.shape)
    rank = (scores[:, 1:] >= scores[:, :1]).sum(1)
    hit = rank < k
    gain = hit / np.log2(rank + 2.0) if metric == "ndcg" else hit.astype(float)
    return float(gain.mean()) if len(gain) else float("nan")

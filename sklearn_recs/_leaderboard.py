"""Evaluate several recommenders under one protocol and tabulate the results.

This is the engine of ``python -m sklearn_recs evaluate``: the protocols
are the splitters of :mod:`sklearn_recs.model_selection`, the metrics those
of :mod:`sklearn_recs.metrics`, and every model is fitted and evaluated on
exactly the same splits.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Iterable

import numpy as np
import pandas as pd
from sklearn.base import clone

from .exceptions import ColdStartWarning, DataWarning
from .metrics import (
    average_precision_at_k_score,
    coverage_score,
    hit_rate_at_k_score,
    mean_absolute_error,
    ndcg_at_k_score,
    precision_at_k_score,
    recall_at_k_score,
    reciprocal_rank_at_k_score,
    root_mean_squared_error,
)
from .model_selection import LeaveLastOut, PerUserKFold, PerUserShuffleSplit
from .utils.validation import check_interactions

PROTOCOLS = ("holdout", "folds", "leave-last-out")

_RANKING_METRICS = {
    "precision": precision_at_k_score,
    "recall": recall_at_k_score,
    "ndcg": ndcg_at_k_score,
    "map": average_precision_at_k_score,
    "hit_rate": hit_rate_at_k_score,
    "mrr": reciprocal_rank_at_k_score,
}


def is_rating_model(estimator: Any) -> bool:
    """Whether ``estimator`` learns from explicit ratings (its ``y`` is required)."""
    return estimator.__sklearn_tags__().target_tags.required


def make_splits(X: Any, protocol: str, *, folds: list | None = None,
                random_state: int | None = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) row indices of a protocol.

    Parameters
    ----------
    X : DataFrame of shape (n_samples, >= 3)
        User ids, item ids and timestamps (column 2).
    protocol : {"holdout", "folds", "leave-last-out"}
        ``"holdout"``: a per-user random 80/20 split; ``"folds"``: the given
        ``folds`` (ml-100k's canonical u1..u5) or a per-user 5-fold split;
        ``"leave-last-out"``: each user's latest interaction is the test set.
    folds : list of (train, test) index pairs, default=None
        Predefined folds for ``"folds"``.
    random_state : int, default=0
        Seed of the random splits.

    Returns
    -------
    splits : list of (ndarray, ndarray)
        Row positions of each split.
    """
    if protocol == "holdout":
        cv = PerUserShuffleSplit(n_splits=1, test_size=0.2, random_state=random_state)
    elif protocol == "folds":
        if folds is not None:
            return [(np.asarray(tr), np.asarray(te)) for tr, te in folds]
        cv = PerUserKFold(n_splits=5, random_state=random_state)
    elif protocol == "leave-last-out":
        cv = LeaveLastOut(n=1, time_column=2)
    else:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}.")
    return list(cv.split(X))


def evaluate_split(estimator: Any, X_train, y_train, X_test, y_test, *, k: int = 10,
                   relevance_threshold: float | None = None,
                   fit_params: dict | None = None) -> dict[str, float]:
    """Fit a clone of ``estimator`` on one split and measure it on the test part.

    Rating models are fitted on the ratings and also scored by RMSE and MAE;
    implicit models are fitted on the interactions alone (``y=None``). Every
    model ranks the whole catalogue, less the user's training items, for
    each test user with relevant test items (all test items, or those rated
    ``>= relevance_threshold``). ``fit_params`` go to ``fit`` (for
    example ``item_features`` for a content model).

    Returns
    -------
    scores : dict
        Metric name to value, plus ``fit_s`` and ``recommend_s`` (seconds).
    """
    model = clone(estimator)
    rating = is_rating_model(model)
    start = time.perf_counter()
    model.fit(X_train, y_train if rating else None, **(fit_params or {}))
    result: dict[str, float] = {"fit_s": time.perf_counter() - start}
    users, items, y = check_interactions(X_test, y_test)
    if rating:
        y_pred = model.predict(X_test)
        result["rmse"] = root_mean_squared_error(y, y_pred)
        result["mae"] = mean_absolute_error(y, y_pred)
    relevant = np.ones(len(users), dtype=bool)
    if relevance_threshold is not None:
        relevant = y >= relevance_threshold
    truth = pd.Series(items[relevant]).groupby(users[relevant], sort=True).agg(list)
    start = time.perf_counter()
    recommended, scores = model.recommend(truth.index.to_numpy(), n_items=k,
                                          return_scores=True)
    result["recommend_s"] = time.perf_counter() - start
    ranked = [row[np.isfinite(s)] for row, s in zip(recommended, scores)]
    for name, metric in _RANKING_METRICS.items():
        result[f"{name}@{k}"] = metric(truth.tolist(), ranked, k=k)
    result[f"coverage@{k}"] = coverage_score(ranked, model.n_items_, k=k)
    return result


def leaderboard(estimators: dict[str, Any], X, y, *, protocol: str = "holdout",
                k: int = 10, folds: list | None = None,
                relevance_threshold: float | None = None, random_state: int | None = 0,
                fit_params: dict[str, dict] | None = None,
                progress: bool = False) -> pd.DataFrame:
    """Evaluate named estimators on the same splits; one row per estimator.

    Parameters
    ----------
    estimators : dict of str to estimator
        Unfitted recommenders, by display name.
    X : DataFrame of shape (n_samples, >= 3)
        User ids, item ids and timestamps.
    y : array-like of shape (n_samples,)
        Ratings.
    protocol : {"holdout", "folds", "leave-last-out"}, default="holdout"
        See :func:`make_splits`.
    k : int, default=10
        Length of the recommendation lists.
    folds : list of (train, test) index pairs, default=None
        Predefined folds for ``protocol="folds"``.
    relevance_threshold : float, default=None
        Rating from which a test item counts as relevant; None counts all.
    random_state : int, default=0
        Seed of the random splits.
    fit_params : dict of str to dict, default=None
        Extra fit parameters of some estimators, by display name.
    progress : bool, default=False
        Show a progress bar on stderr.

    Returns
    -------
    table : DataFrame
        Mean of each metric over the splits, one row per estimator, sorted by
        NDCG@k.

    Examples
    --------
    >>> from sklearn_recs._leaderboard import leaderboard
    >>> from sklearn_recs.baselines import BiasBaseline, Popularity
    >>> from sklearn_recs.utils._testing import tiny_ratings
    >>> X, y = tiny_ratings()
    >>> table = leaderboard({"bias": BiasBaseline(), "popularity": Popularity()},
    ...                     X, y)
    >>> table.index.tolist(), "ndcg@10" in table.columns
    (['bias', 'popularity'], True)
    """
    splits = make_splits(X, protocol, folds=folds, random_state=random_state)
    X = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
    y = np.asarray(y, dtype=np.float64)
    rows = []
    jobs: Iterable = [(name, est, split) for name, est in estimators.items()
                      for split in splits]
    if progress:
        from tqdm.auto import tqdm

        jobs = tqdm(list(jobs), desc=f"evaluate ({protocol})", unit="fit")
    for name, estimator, (train, test) in jobs:
        if progress:
            jobs.set_postfix_str(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ColdStartWarning)
            warnings.simplefilter("ignore", DataWarning)
            scores = evaluate_split(estimator, X.iloc[train], y[train], X.iloc[test],
                                    y[test], k=k, relevance_threshold=relevance_threshold,
                                    fit_params=(fit_params or {}).get(name))
        rows.append({"model": name, **scores})
    table = pd.DataFrame(rows).groupby("model", sort=False).mean()
    columns = [c for c in ("rmse", "mae") if c in table.columns]
    columns += [f"{m}@{k}" for m in _RANKING_METRICS] + [f"coverage@{k}", "fit_s",
                                                         "recommend_s"]
    return table[columns].sort_values(f"ndcg@{k}", ascending=False)

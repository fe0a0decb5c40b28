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

from .base import _predicts_ratings
from .exceptions import ColdStartWarning, DataWarning
from .metrics import (
    average_precision_at_k_score,
    coverage_score,
    mean_absolute_error,
    ndcg_at_k_score,
    precision_at_k_score,
    recall_at_k_score,
    root_mean_squared_error,
)
from .model_selection import LeaveLastOut, PerUserKFold, PerUserShuffleSplit
from .utils.validation import check_interactions

PROTOCOLS = ("holdout", "folds", "leave-last-out")

# The metrics of the ranking table: column prefix -> (label, function).
_RANKING_METRICS = {
    "ndcg": ("NDCG", ndcg_at_k_score),
    "map": ("MAP", average_precision_at_k_score),
    "precision": ("precision", precision_at_k_score),
    "recall": ("recall", recall_at_k_score),
}
_PROTOCOL_TEXT = {
    "holdout": "per-user random 80/20 holdout",
    "folds": "5 folds (ml-100k: the canonical u1..u5; else per-user), mean over folds",
    "leave-last-out": "leave-last-out (each user's latest interaction is the test set)",
}
TASKS = ("rating", "ranking")


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
    example ``item_features`` for a content model). Test users and items
    unseen at fit get each model's documented fallback, silently: a split
    always has some.

    Returns
    -------
    scores : dict
        Metric name to value, plus ``fit_s``, ``recommend_s`` and, for rating
        models, ``predict_s`` (seconds).
    """
    model = clone(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        warnings.simplefilter("ignore", DataWarning)
        return _evaluate_fitted(model, X_train, y_train, X_test, y_test, k=k,
                                relevance_threshold=relevance_threshold,
                                fit_params=fit_params)


def _evaluate_fitted(model, X_train, y_train, X_test, y_test, *, k, relevance_threshold,
                     fit_params):
    start = time.perf_counter()
    model.fit(X_train, y_train if is_rating_model(model) else None, **(fit_params or {}))
    result: dict[str, float] = {"fit_s": time.perf_counter() - start}
    users, items, y = check_interactions(X_test, y_test)
    if _predicts_ratings(model):
        start = time.perf_counter()
        y_pred = model.predict(X_test)
        result["predict_s"] = time.perf_counter() - start
        result["rmse"] = root_mean_squared_error(y, y_pred)
        result["mae"] = mean_absolute_error(y, y_pred)
    relevant = np.ones(len(users), dtype=bool)
    if relevance_threshold is not None:
        relevant = y >= relevance_threshold
    truth = pd.Series(items[relevant]).groupby(users[relevant], sort=True).agg(list)
    start = time.perf_counter()
    recommended, scores = model.recommend(truth.index.to_numpy(), top_n=k,
                                          return_scores=True)
    result["recommend_s"] = time.perf_counter() - start
    ranked = [row[np.isfinite(s)] for row, s in zip(recommended, scores)]
    for name, (_, metric) in _RANKING_METRICS.items():
        result[f"{name}@{k}"] = metric(truth.tolist(), ranked, k=k)
    result[f"coverage@{k}"] = coverage_score(ranked, model.n_items_, k=k)
    return result


def leaderboard(estimators: dict[str, Any], X, y, *, protocol: str = "holdout",
                k: int = 10, folds: list | None = None,
                relevance_threshold: float | None = None, random_state: int | None = 0,
                fit_params: dict[str, dict] | None = None,
                progress: bool = False) -> dict[str, pd.DataFrame]:
    """Evaluate named estimators on the same splits: one table per task.

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
    tables : dict of str to DataFrame
        The mean of each metric over the splits, one row per model.
        ``"rating"``: the models that predict ratings, by RMSE and MAE
        (lower is better), best RMSE first. ``"ranking"``: every model, by
        NDCG@k, MAP@k, precision@k, recall@k and catalogue coverage@k
        (greater is better), best NDCG first; its ``feedback`` column says
        which rows are rating models ranking by predicted rating
        (``"explicit"``). Both have the fit and prediction seconds.

    Examples
    --------
    >>> from sklearn_recs._leaderboard import leaderboard
    >>> from sklearn_recs.baselines import BiasBaseline, Popularity
    >>> from sklearn_recs.utils._testing import tiny_ratings
    >>> X, y = tiny_ratings()
    >>> tables = leaderboard({"bias": BiasBaseline(), "popularity": Popularity()},
    ...                      X, y)
    >>> tables["rating"].index.tolist(), tables["rating"].columns.tolist()
    (['bias'], ['rmse', 'mae', 'fit_s', 'predict_s'])
    >>> tables["ranking"]["feedback"].sort_index().tolist()
    ['explicit', 'implicit']
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
        scores = evaluate_split(estimator, X.iloc[train], y[train], X.iloc[test], y[test],
                                k=k, relevance_threshold=relevance_threshold,
                                fit_params=(fit_params or {}).get(name))
        rows.append({"model": name, **scores})
    table = pd.DataFrame(rows).groupby("model", sort=False).mean()
    ranking_columns = [f"{name}@{k}" for name in _RANKING_METRICS] + [f"coverage@{k}"]
    ranking = table[ranking_columns + ["fit_s", "recommend_s"]].copy()
    table = table.reindex(columns=[*table.columns.difference(["rmse", "mae", "predict_s"]),
                                   "rmse", "mae", "predict_s"])  # none if no rating model
    predicts_ratings = table["rmse"].notna()
    ranking.insert(0, "feedback", np.where(predicts_ratings, "explicit", "implicit"))
    rating = table.loc[predicts_ratings, ["rmse", "mae", "fit_s", "predict_s"]]
    return {"rating": rating.sort_values("rmse", kind="stable"),
            "ranking": ranking.sort_values(f"ndcg@{k}", ascending=False, kind="stable")}


def legend(task: str, *, protocol: str, k: int,
           relevance_threshold: float | None = None) -> str:
    """The line printed above a leaderboard table: protocol, k, which way is best.

    Parameters
    ----------
    task : {"rating", "ranking"}
        The table.
    protocol : str
        The evaluation protocol (see :func:`make_splits`).
    k : int
        Length of the recommendation lists.
    relevance_threshold : float, default=None
        Rating from which a test item counts as relevant.

    Returns
    -------
    str
        One line.

    Examples
    --------
    >>> from sklearn_recs._leaderboard import legend
    >>> legend("rating", protocol="holdout", k=10)
    'Rating prediction: per-user random 80/20 holdout; RMSE ↓ MAE ↓ (lower is better); fit_s, predict_s: seconds.'
    """
    where = _PROTOCOL_TEXT[protocol]
    if task == "rating":
        return (f"Rating prediction: {where}; RMSE ↓ MAE ↓ (lower is better); "
                "fit_s, predict_s: seconds.")
    relevant = ("every test item relevant" if relevance_threshold is None
                else f"test items rated >= {relevance_threshold:g} relevant")
    metrics = " ".join(f"{label}@{k} ↑" for label, _ in _RANKING_METRICS.values())
    return (f"Top-{k} ranking of the full catalogue less each user's training items: "
            f"{where}; {relevant}; {metrics} coverage@{k} ↑ (greater is better); "
            "feedback=explicit rows are "
            "rating models ranking by predicted rating; fit_s, recommend_s: seconds.")

"""Scorers that evaluate a recommender's top-k lists on held-out interactions.

A scorer is a callable ``scorer(estimator, X, y) -> float`` (greater is
better), the protocol of ``scoring=`` in ``GridSearchCV``,
``RandomizedSearchCV`` and ``cross_validate``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import get_scorer as _sklearn_get_scorer
from sklearn.metrics import get_scorer_names as _sklearn_get_scorer_names
from sklearn.pipeline import Pipeline

from ..utils._params import store_params
from ..utils._stack import user_stacklevel
from ..utils.validation import _check_bool, check_interactions, check_k
from . import _ranking

__all__ = ["RankingScorer", "get_scorer", "get_scorer_names", "make_ranking_scorer"]

_RANKING_METRICS: dict[str, Callable[..., Any]] = {
    "precision": _ranking.precision_at_k_score,
    "recall": _ranking.recall_at_k_score,
    "map": _ranking.average_precision_at_k_score,
    "ndcg": _ranking.ndcg_at_k_score,
    "hit_rate": _ranking.hit_rate_at_k_score,
    "mrr": _ranking.reciprocal_rank_at_k_score,
}

_NAME_AT_K = re.compile(r"(?P<metric>[a-z_]+)@(?P<k>\d+)")


def _final_recommender(estimator: Any, X: Any) -> tuple[Any, Any]:
    """The recommender that ends a fitted ``Pipeline``, and ``X`` transformed for it.

    A ``Pipeline`` (nested ones too) is unwrapped: ``X`` goes through its
    fitted transformers (a column selector, a feature join), as in
    ``Pipeline.predict``, and its last step is scored. Anything else is
    returned as it is.
    """
    while isinstance(estimator, Pipeline):
        if len(estimator) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    return estimator, X


class RankingScorer:
    """Score a recommender's top-k lists against held-out interactions.

    Create it with :func:`make_ranking_scorer`, or with :func:`get_scorer`
    from a name such as ``"ndcg@10"``. Calling it on a fitted recommender
    and test data ``(X, y)`` returns the mean of a ranking metric over the
    test users.

    Parameters
    ----------
    metric : str or callable
        A name in ``{"precision", "recall", "map", "ndcg", "hit_rate",
        "mrr"}``, or a function with the signature of the ranking metrics,
        ``metric(y_true, y_pred, *, k) -> float``.
    k : int
        Length of the recommendation lists evaluated.
    relevance_threshold : float or None
        Test rows with ``y >= relevance_threshold`` are relevant; None (or
        ``y=None``) makes every test row relevant.
    exclude_seen : bool
        Passed to ``recommend``: whether the training items of each user are
        left out of their list.

    See Also
    --------
    make_ranking_scorer : Build a scorer.

    Examples
    --------
    >>> from sklearn_recs.metrics import make_ranking_scorer
    >>> make_ranking_scorer("ndcg", k=10)
    make_ranking_scorer('ndcg', k=10)
    """

    def __init__(
        self,
        metric: str | Callable[..., Any],
        k: int,
        relevance_threshold: float | None,
        exclude_seen: bool,
    ) -> None:
        store_params(self, locals())

    def __call__(self, estimator: Any, X: Any, y: Any = None) -> float:
        """Return the metric's mean over the test users of ``X``.

        Parameters
        ----------
        estimator : object
            A fitted recommender with a ``recommend`` method, or a fitted
            ``Pipeline`` ending in one: ``X`` then goes through the
            pipeline's transformers first.
        X : array-like of shape (n_samples, n_columns >= 2)
            Test interactions: user ids in column 0, item ids in column 1
            (after the pipeline's transformers, if any).
        y : array-like of shape (n_samples,), default=None
            Test ratings or weights, compared with ``relevance_threshold``.

        Returns
        -------
        float
            The metric's mean over the users with at least one relevant test
            row (NaN, with a warning, when there is none).

        See Also
        --------
        make_ranking_scorer : Build a scorer, with an example of a call.
        """
        estimator, X = _final_recommender(estimator, X)
        if not callable(getattr(estimator, "recommend", None)):
            raise TypeError(
                f"{self!r} needs an estimator with a recommend() method; "
                f"{type(estimator).__name__} has none. Use a recommender from "
                "sklearn_recs, or a rating metric such as "
                "'neg_root_mean_squared_error' for a plain regressor."
            )
        users, items, values = check_interactions(X, y, estimator="make_ranking_scorer")
        if self.relevance_threshold is not None and values is not None:
            relevant = values >= self.relevance_threshold
            users, items = users[relevant], items[relevant]
        if users.size == 0:
            warnings.warn(
                f"{self!r}: no test row has y >= {self.relevance_threshold}, so "
                "there is nothing to score; returning nan. Lower the threshold "
                "or check the test split.",
                UndefinedMetricWarning,
                stacklevel=user_stacklevel(),
            )
            return float("nan")
        user_codes, test_users = pd.factorize(users)
        order = np.argsort(user_codes, kind="stable")
        boundaries = np.cumsum(np.bincount(user_codes, minlength=len(test_users)))[:-1]
        y_true = np.split(items[order], boundaries)

        recommended, scores = estimator.recommend(
            test_users, top_n=self.k, exclude_seen=self.exclude_seen,
            return_scores=True,
        )
        recommended = np.asarray(recommended)
        valid = np.asarray(scores, dtype=np.float64) != -np.inf
        if valid.all():
            y_pred = recommended
        else:  # drop the -inf slots: they are not recommendations
            y_pred = np.split(recommended[valid], np.cumsum(valid.sum(axis=1))[:-1])
        return float(self._metric_function(y_true, y_pred, k=self.k))

    @property
    def _metric_function(self) -> Callable[..., Any]:
        return _RANKING_METRICS[self.metric] if isinstance(self.metric, str) else self.metric

    def __repr__(self) -> str:
        metric = (repr(self.metric) if isinstance(self.metric, str)
                  else getattr(self.metric, "__name__", repr(self.metric)))
        options = f", k={self.k}"
        if self.relevance_threshold is not None:
            options += f", relevance_threshold={self.relevance_threshold!r}"
        if not self.exclude_seen:
            options += ", exclude_seen=False"
        return f"make_ranking_scorer({metric}{options})"


def make_ranking_scorer(
    metric: str | Callable[..., Any],
    *,
    k: int = 10,
    relevance_threshold: float | None = None,
    exclude_seen: bool = True,
) -> RankingScorer:
    """Make a scorer from a ranking metric, for model selection.

    The scorer ``scorer(estimator, X, y)`` groups the test rows of ``X`` by
    user, keeps the relevant ones (``y >= relevance_threshold`` when both are
    given, else all), asks the fitted estimator once for the top ``k`` of
    every test user with a relevant row, via ``estimator.recommend(users,
    top_n=k, exclude_seen=exclude_seen, return_scores=True)``, drops the
    slots scored ``-inf`` (a user with fewer than ``k`` candidates), and
    returns the metric's mean over those users. Relevance is binary: each
    relevant test row is one relevant item. Test users unknown to the
    estimator get its fallback ranking (and its ``ColdStartWarning``).

    Greater is better for every metric, so the scorer works unchanged as
    ``scoring=`` or inside a ``scoring={...}`` dict with ``refit=`` in
    ``GridSearchCV``, ``RandomizedSearchCV`` and ``cross_validate``. A
    fitted ``Pipeline`` ending in a recommender is scored through its
    transformers, like ``Pipeline.predict``.

    Pass the scorer object, not a string: ``scoring="ndcg@10"`` given to
    scikit-learn is rejected ("not a valid scoring value"). scikit-learn
    resolves strings from its own fixed registry, which has no public way
    to add names, and its scorers call ``predict``, ``predict_proba`` or
    ``decision_function`` on each test row, whereas a ranking metric needs
    each user's top-k list from ``recommend`` over the whole catalogue. So
    ``"ndcg@10"`` is understood by :func:`get_scorer` of this package
    (``scoring=get_scorer("ndcg@10")``), not by scikit-learn's.

    Parameters
    ----------
    metric : {"precision", "recall", "map", "ndcg", "hit_rate", "mrr"} or \
            callable
        The ranking metric: a name (see :func:`precision_at_k_score` and the
        other ``*_at_k_score`` functions), or a function with their
        signature ``metric(y_true, y_pred, *, k) -> float``. Pass a
        module-level function, not a lambda, if the scorer must be pickled
        (as joblib's parallel backends do).
    k : int, default=10
        Length of the recommendation lists evaluated.
    relevance_threshold : float, default=None
        Minimum ``y`` of a relevant test row, e.g. 4 for 1-5 star ratings.
        None makes every test row relevant.
    exclude_seen : bool, default=True
        Whether each user's training items are left out of their list: keep
        True when the test rows are disjoint from the training rows.

    Returns
    -------
    RankingScorer
        A picklable callable ``scorer(estimator, X, y=None) -> float``.

    See Also
    --------
    get_scorer : Build a scorer from a name such as ``"ndcg@10"``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from sklearn_recs.metrics import make_ranking_scorer
    >>> class FixedRanking(BaseEstimator):
    ...     def fit(self, X, y=None):
    ...         return self
    ...     def recommend(self, users, top_n=10, *, exclude_seen=True,
    ...                   items=None, return_scores=False):
    ...         ids = np.tile([10, 20, 30], (len(users), 1))[:, :top_n]
    ...         return ids, -np.arange(ids.shape[1]) * np.ones_like(ids)
    >>> scorer = make_ranking_scorer("precision", k=2, relevance_threshold=4)
    >>> scorer
    make_ranking_scorer('precision', k=2, relevance_threshold=4)
    >>> X_test = [[1, 10], [1, 30], [2, 20], [2, 10]]
    >>> y_test = [5, 5, 4, 1]  # relevant: user 1 -> {10, 30}, user 2 -> {20}
    >>> scorer(FixedRanking().fit(X_test), X_test, y_test)  # (1/2 + 1/2) / 2
    0.5
    """
    if isinstance(metric, str):
        if metric not in _RANKING_METRICS:
            raise ValueError(
                f"metric={metric!r} is not a ranking metric; use one of "
                f"{sorted(_RANKING_METRICS)} or a callable "
                "metric(y_true, y_pred, *, k)."
            )
    elif not callable(metric):
        raise TypeError(
            f"metric must be a name in {sorted(_RANKING_METRICS)} or a callable; "
            f"got {metric!r}."
        )
    k = check_k(k, estimator="make_ranking_scorer")
    if relevance_threshold is not None and (
        isinstance(relevance_threshold, bool) or not isinstance(relevance_threshold, Real)
    ):
        raise TypeError(
            f"make_ranking_scorer: relevance_threshold={relevance_threshold!r} is "
            "invalid; pass a number (e.g. 4 for 1-5 ratings) or None."
        )
    if relevance_threshold is not None and not np.isfinite(relevance_threshold):
        raise ValueError(
            f"make_ranking_scorer: relevance_threshold={relevance_threshold!r} is "
            "invalid; pass a finite number (e.g. 4 for 1-5 ratings) or None."
        )
    exclude_seen = _check_bool(exclude_seen, "exclude_seen", "make_ranking_scorer")
    return RankingScorer(metric, k, relevance_threshold, exclude_seen)


def get_scorer(scoring: Any) -> Any:
    """Get a scorer from a name: ``"<metric>@<k>"`` or any scikit-learn name.

    Parameters
    ----------
    scoring : str, callable or None
        ``"<metric>@<k>"`` with a metric in ``{"precision", "recall", "map",
        "ndcg", "hit_rate", "mrr"}`` and a positive int ``k`` (``"ndcg@10"``,
        ``"map@20"``) gives a :class:`RankingScorer` with every test row
        relevant; use :func:`make_ranking_scorer` for a relevance threshold.
        Anything else goes to :func:`sklearn.metrics.get_scorer`
        (``"neg_root_mean_squared_error"``, a callable, None).

    Returns
    -------
    callable or None
        The scorer.

    See Also
    --------
    get_scorer_names : The valid names.

    Examples
    --------
    >>> from sklearn_recs.metrics import get_scorer
    >>> get_scorer("ndcg@5")
    make_ranking_scorer('ndcg', k=5)
    >>> get_scorer("neg_root_mean_squared_error")
    make_scorer(root_mean_squared_error, greater_is_better=False, ...)
    """
    if not isinstance(scoring, str):
        return _sklearn_get_scorer(scoring)
    match = _NAME_AT_K.fullmatch(scoring)
    if match is not None:
        if match["metric"] not in _RANKING_METRICS:
            raise ValueError(
                f"{scoring!r} is not a valid ranking scorer name: use "
                f"'<metric>@<k>' with a metric in {sorted(_RANKING_METRICS)}, "
                "e.g. 'ndcg@10'."
            )
        return make_ranking_scorer(match["metric"], k=int(match["k"]))
    try:
        return _sklearn_get_scorer(scoring)
    except ValueError as exc:
        raise ValueError(
            f"{scoring!r} is not a valid scoring value. Use a ranking scorer "
            "name such as 'ndcg@10' (metrics: "
            f"{', '.join(sorted(_RANKING_METRICS))}; any k >= 1) or a "
            "scikit-learn scorer name; sklearn_recs.metrics.get_scorer_names() "
            "lists them."
        ) from exc


def get_scorer_names() -> list[str]:
    """Get the names of all scorers that :func:`get_scorer` accepts.

    The ranking scorers are listed with ``k=10`` (``"ndcg@10"``); any
    positive ``k`` is accepted (``"ndcg@5"``).

    Returns
    -------
    list of str
        Sorted scorer names: the ranking ones, then scikit-learn's.

    See Also
    --------
    get_scorer : Get a scorer from its name.

    Examples
    --------
    >>> from sklearn_recs.metrics import get_scorer_names
    >>> [name for name in get_scorer_names() if "@" in name]
    ['hit_rate@10', 'map@10', 'mrr@10', 'ndcg@10', 'precision@10', 'recall@10']
    """
    return sorted(f"{name}@10" for name in _RANKING_METRICS) + _sklearn_get_scorer_names()

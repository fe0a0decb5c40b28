"""Plot a ranking metric against the list length k, scikit-learn's Display style.

:class:`RankingMetricDisplay` follows scikit-learn's plotting API
(``PrecisionRecallDisplay``, ``ValidationCurveDisplay``): build it with
``from_estimator`` or ``from_predictions``, which compute the values and
call ``plot``; pass the same ``ax`` to draw several models on one axes.
matplotlib is imported only when plotting: it is not a dependency of the
package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..utils._docs import fill_doc
from ..utils.validation import check_k
from ._scorer import _RANKING_METRICS, make_ranking_scorer

__all__ = ["RankingMetricDisplay"]

_LABELS = {
    "precision": "Precision",
    "recall": "Recall",
    "map": "MAP",
    "ndcg": "NDCG",
    "hit_rate": "Hit rate",
    "mrr": "MRR",
}


def _metric_function(metric: str | Callable[..., Any]) -> Callable[..., Any]:
    if isinstance(metric, str):
        if metric not in _RANKING_METRICS:
            raise ValueError(
                f"RankingMetricDisplay: metric={metric!r} is not a ranking metric; "
                f"use one of {sorted(_RANKING_METRICS)} or a callable "
                "metric(y_true, y_pred, *, k)."
            )
        return _RANKING_METRICS[metric]
    if not callable(metric):
        raise TypeError(
            f"RankingMetricDisplay: metric must be a name in {sorted(_RANKING_METRICS)}"
            f" or a callable; got {metric!r}."
        )
    return metric


def _check_ks(ks: Iterable[int]) -> np.ndarray:
    if isinstance(ks, str) or not isinstance(ks, Iterable):
        raise TypeError(
            f"RankingMetricDisplay: ks={ks!r} is invalid; pass the list lengths "
            "to evaluate, e.g. range(1, 21)."
        )
    values = np.array([check_k(k, name="ks", estimator="RankingMetricDisplay")
                       for k in ks], dtype=np.intp)
    if values.size == 0:
        raise ValueError(
            "RankingMetricDisplay: ks is empty; pass at least one list length, "
            "e.g. range(1, 21)."
        )
    return values


def _pyplot(caller: str):
    """matplotlib.pyplot, imported on first use, with an install hint."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which sklearn_recs does not install: "
            "pip install matplotlib."
        ) from exc
    return plt


def _metric_label(metric: str | Callable[..., Any]) -> str:
    if isinstance(metric, str):
        return _LABELS[metric]
    return getattr(metric, "__name__", "metric")


# The end of the docstrings of both constructors.
_PLOT_PARAMETERS = """ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        **kwargs : dict
            Passed to ``ax.plot``.

        Returns
        -------
        display : RankingMetricDisplay
            The display, plotted."""


def _with_plot_parameters(method):
    return fill_doc(method, plot_parameters=_PLOT_PARAMETERS)


class _Capture:
    """A stand-in metric that keeps the lists a ranking scorer builds."""

    def __call__(self, y_true, y_pred, *, k):
        self.y_true, self.y_pred = y_true, y_pred
        return 0.0


class RankingMetricDisplay:
    """Ranking metric at k for k = 1, 2, ...: a curve per model.

    The curve shows how a metric such as NDCG@k or recall@k grows with the
    length ``k`` of the recommendation lists. Create it with
    :meth:`from_estimator` (a fitted recommender and test interactions) or
    :meth:`from_predictions` (ranked lists and relevant items); pass the
    same ``ax`` to compare several models on one axes. All attributes are
    stored, so :meth:`plot` can redraw the curve.

    Each value is the package's own metric function at that ``k`` (for
    example :func:`ndcg_at_k_score`), computed from one list of length
    ``max(ks)`` per user: the top ``k`` of that list is the list of length
    ``k``.

    Parameters
    ----------
    ks : array-like of shape (n_ks,)
        The list lengths.
    values : array-like of shape (n_ks,)
        The metric at each ``k`` (mean over users).
    metric : str or callable
        The metric's name (``"ndcg"``...) or function, for the axis label.
    name : str, default=None
        Name of the model, for the legend. None shows no legend entry.

    Attributes
    ----------
    ks : ndarray of shape (n_ks,)
        The list lengths.
    values : ndarray of shape (n_ks,)
        The metric at each ``k``.
    metric : str or callable
        The metric.
    name : str or None
        Name of the model.
    line_ : matplotlib Line2D
        The curve.
    ax_ : matplotlib Axes
        The axes of the curve.
    figure_ : matplotlib Figure
        The figure of the axes.

    See Also
    --------
    make_ranking_scorer : The same metric at one ``k``, for model selection.
    ndcg_at_k_score : One of the metrics plotted.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_recs.metrics import RankingMetricDisplay
    >>> y_true = [[1, 2], [3]]
    >>> y_pred = [[1, 5, 2], [4, 3, 6]]
    >>> display = RankingMetricDisplay.from_predictions(
    ...     y_true, y_pred, metric="recall", ks=[1, 2, 3], name="model")
    >>> display.values  # user 1 finds item 1, then 2; user 2 finds 3 at rank 2
    array([0.25, 0.75, 1.  ])
    """

    def __init__(self, *, ks, values, metric, name=None):
        self.ks = np.asarray(ks)
        self.values = np.asarray(values, dtype=np.float64)
        self.metric = metric
        self.name = name

    def plot(self, ax=None, *, name=None, **kwargs):
        """Plot the curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        name : str, default=None
            Legend entry; None uses ``self.name``.
        **kwargs : dict
            Passed to ``ax.plot`` (``color``, ``linestyle``...).

        Returns
        -------
        display : RankingMetricDisplay
            The display, with ``line_``, ``ax_`` and ``figure_`` set.
        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        from matplotlib.ticker import MaxNLocator

        if ax is None:
            _, ax = plt.subplots()
        name = self.name if name is None else name
        style = {"marker": "o", "markersize": 3}
        if name is not None:
            style["label"] = name
        style.update(kwargs)
        (self.line_,) = ax.plot(self.ks, self.values, **style)
        label = _metric_label(self.metric)
        ax.set_xlabel("k (length of the recommendation list)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"{label}@k")
        if name is not None:
            ax.legend(loc="best")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    @_with_plot_parameters
    def from_predictions(cls, y_true, y_pred, *, metric="ndcg", ks=range(1, 21),
                         name=None, ax=None, **kwargs):
        """Plot a metric at each k from ranked lists and relevant items.

        Parameters
        ----------
        y_true : sequence of length n_users
            Relevant items of each user: id collections, or ``{item id:
            gain}`` mappings, as for :func:`ndcg_at_k_score`.
        y_pred : array-like of shape (n_users, n_ranked) or sequence of sequences
            Recommended ids of each user, best first, at least ``max(ks)``
            long where the user has that many recommendations.
        metric : {"precision", "recall", "map", "ndcg", "hit_rate", "mrr"} \
                or callable, default="ndcg"
            A ranking metric of this package, or a function with their
            signature ``metric(y_true, y_pred, *, k) -> float``.
        ks : iterable of int, default=range(1, 21)
            List lengths at which the metric is computed.
        name : str, default=None
            Legend entry.
        {plot_parameters}
        """
        _pyplot(f"{cls.__name__}.from_predictions")  # fail before computing
        function = _metric_function(metric)
        ks = _check_ks(ks)
        values = [function(y_true, y_pred, k=int(k)) for k in ks]
        display = cls(ks=ks, values=values, metric=metric, name=name)
        return display.plot(ax=ax, **kwargs)

    @classmethod
    @_with_plot_parameters
    def from_estimator(cls, estimator, X, y=None, *, metric="ndcg", ks=range(1, 21),
                       relevance_threshold=None, exclude_seen=True, name=None,
                       ax=None, **kwargs):
        """Plot a metric at each k of a fitted recommender on test interactions.

        The test rows are grouped by user exactly as
        :func:`make_ranking_scorer` does, and the estimator is asked once
        for the top ``max(ks)`` of every test user: the value at ``k``
        equals ``make_ranking_scorer(metric, k=k, ...)(estimator, X, y)``.

        Parameters
        ----------
        estimator : object
            A fitted recommender with a ``recommend`` method.
        X : array-like of shape (n_samples, n_columns >= 2)
            Test interactions: user ids in column 0, item ids in column 1.
        y : array-like of shape (n_samples,), default=None
            Test ratings or weights, compared with ``relevance_threshold``.
        metric : {"precision", "recall", "map", "ndcg", "hit_rate", "mrr"} \
                or callable, default="ndcg"
            The ranking metric.
        ks : iterable of int, default=range(1, 21)
            List lengths at which the metric is computed.
        relevance_threshold : float, default=None
            Test rows with ``y >= relevance_threshold`` are relevant; None
            makes every test row relevant.
        exclude_seen : bool, default=True
            Whether each user's training items are left out of their list.
        name : str, default=None
            Legend entry; None uses the estimator's class name.
        {plot_parameters}
        """
        _pyplot(f"{cls.__name__}.from_estimator")  # fail before computing
        _metric_function(metric)
        ks = _check_ks(ks)
        capture = _Capture()
        scorer = make_ranking_scorer(capture, k=int(ks.max()),
                                     relevance_threshold=relevance_threshold,
                                     exclude_seen=exclude_seen)
        scorer(estimator, X, y)
        if not hasattr(capture, "y_pred"):
            raise ValueError(
                f"RankingMetricDisplay: no test row has y >= {relevance_threshold}, "
                "so there is nothing to plot. Lower relevance_threshold or check "
                "the test split."
            )
        return cls.from_predictions(
            capture.y_true, capture.y_pred, metric=metric, ks=ks,
            name=type(estimator).__name__ if name is None else name, ax=ax, **kwargs)

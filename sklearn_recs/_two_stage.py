"""Two-stage recommending: a recommender proposes candidates, any scikit-learn
model reranks them (public through :mod:`sklearn_recs.hybrid`)."""

from __future__ import annotations

import inspect
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.special import logit
from sklearn.base import BaseEstimator, _fit_context, clone, is_classifier
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import _routing_enabled, get_routing_for_object

from ._composition import MemberParams
from .base import RecommenderMixin
from .exceptions import DataWarning
from .model_selection import PerUserShuffleSplit, PerUserTemporalSplit
from .model_selection._split import _take
from .utils._docs import shared_doc
from .utils._params import store_params
from .utils._stack import user_stacklevel
from .utils._topk import block_size, topk
from .utils.validation import check_interactions
from ._time_features import TimeStats, interaction_times

__all__ = ["TwoStageRecommender"]


def _pair_scores(model, user_codes, item_codes):
    """Scores of (user, item) code pairs from ``model._score_users`` over the
    catalogue, one block of distinct users at a time."""
    unique, inverse = np.unique(user_codes, return_inverse=True)
    out = np.empty(len(user_codes))
    step = block_size(model.n_items_)
    for start in range(0, len(unique), step):
        block = unique[start:start + step]
        rows = (inverse >= start) & (inverse < start + len(block))
        scores = model._score_users(block, None)
        out[rows] = scores[inverse[rows] - start, item_codes[rows]]
    return out


def _member_scores(member, user_ids, item_ids):
    """``member``'s scores of (user id, item id) pairs, its fallback for
    pairs it does not know (without the cold-start warning)."""
    users = member._user_index.get_indexer(user_ids)
    items = member._item_index.get_indexer(item_ids)
    known = (users >= 0) & (items >= 0)
    out = member._predict_cold(users, items)
    if known.any():
        out[known] = member._predict_pairs(users[known], items[known])
    return out


def _per_user_zscores(scores):
    """Each row's finite scores as z-scores (-inf and NaN as the row's lowest
    less 1), flattened: free of the scale of the scores, which differs
    between the model fitted on the held-in part and the one refit on all."""
    finite = np.isfinite(scores)
    values = np.where(finite, scores, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nanmean(values, axis=1, keepdims=True)
        spread = np.nanstd(values, axis=1, keepdims=True)
        z = (values - centre) / np.where(spread > 1e-12, spread, 1.0)
        low = np.nanmin(z, axis=1, keepdims=True) - 1.0
    z = np.where(finite, z, np.nan_to_num(low, nan=-1.0))
    return np.nan_to_num(z, nan=0.0).ravel()


def _wants(estimator, param):
    """Whether ``estimator.fit`` gets the fit parameter ``param``: where its
    ``fit`` takes it; with metadata routing enabled, where it requests it."""
    if _routing_enabled():
        return bool(get_routing_for_object(estimator).fit.requests.get(param))
    return param in inspect.signature(estimator.fit).parameters


def _check_frame(frame, name, owner):
    """``frame`` (a DataFrame indexed by id, numeric columns) as floats;
    None stays None."""
    if frame is None:
        return None
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{owner}: {name} must be a pandas DataFrame indexed by id (one row per "
            f"id, numeric columns), got {type(frame).__name__}.")
    bad = [column for column in frame.columns
           if not (pd.api.types.is_numeric_dtype(frame[column])
                   or pd.api.types.is_bool_dtype(frame[column]))]
    if bad:
        raise ValueError(
            f"{owner}: {name} columns {bad} are not numeric; encode them first "
            "(e.g. one-hot with pandas.get_dummies) or drop them.")
    if not frame.index.is_unique:
        duplicated = frame.index[frame.index.duplicated()].unique().tolist()[:5]
        raise ValueError(
            f"{owner}: {name} has duplicated ids {duplicated} in its index; give "
            "one row per id.")
    return frame.astype(np.float64)


@shared_doc
class TwoStageRecommender(RecommenderMixin, MemberParams, BaseEstimator):
    """Recommend in two stages: a recommender retrieves, a learned model reranks.

    The generator (any recommender of the package) proposes each user's
    ``n_candidates`` best items they have not interacted with; the
    reranker (any scikit-learn classifier or regressor) orders them from
    features of each (user, candidate) pair: the generator's score and
    rank, the scores of ``feature_recommenders`` (each score as a z-score
    over the user's candidates), the item's popularity and the user's
    activity (their numbers of training interactions over the number of
    interactions), all free of the size of the data, which differs
    between the models that label the reranker's training candidates and
    the models refit on all the data; where ``X`` has interaction times
    (``time_features``), where the item's interactions lie in time against
    the user's; and the columns of optional item and user feature frames
    given to ``fit``. The final score may keep the generator's order in a
    blend (``generator_weight``).

    ``fit`` learns the reranker without leakage: it holds out a share
    (``holdout_size``) of each user's interactions (their latest, with
    ``time_column``; else at random), fits the generator and the feature
    recommenders on the rest, builds candidates and features from those
    models, labels each candidate 1 if it is among the user's held-out
    items (else 0), pools the candidates of ``n_splits`` such holdouts and
    fits the reranker on them. The generator and the feature recommenders
    are then refit on all of ``X`` to serve.

    Parameters
    ----------
    generator : recommender
        Retrieves the candidates; a recommender of this package.
    reranker : estimator
        A scikit-learn classifier (ranks by ``predict_proba`` of class 1,
        else ``decision_function``) or regressor (ranks by ``predict``) of
        the candidates' features. A learning-to-rank model whose ``fit``
        takes ``group`` (the number of candidates of each user, in order)
        gets it; with metadata routing enabled, when it requests it
        (``set_fit_request(group=True)``).
    n_candidates : int, default=100
        Candidates per user.
    feature_recommenders : list of (str, recommender) tuples, default=None
        Further recommenders whose scores of the candidates are features
        (named ``<name>_score``); their parameters are grid-searchable as
        ``<name>__<param>``.
    holdout_size : float or int, default=0.2
        Share (float) or number (int) of each user's interactions held out
        to label the reranker's training candidates.
    n_splits : int, default=5
        Number of independent random holdouts whose labelled candidates
        are pooled to train the reranker: more labels (and ``n_splits``
        fits of the generator and the feature recommenders). Ignored with
        ``time_column`` (each user's latest rows are one holdout). The default was chosen on validation data carved
        from ml-100k's training part (``benchmarks/select_defaults.py``:
        NDCG@10 0.2606 with 5 against 0.2495 with 1).
    time_column : int or str, default=None
        Column of ``X`` with the interactions' times: the held-out
        interactions are each user's latest. None holds out at random.
    time_features : "auto", int, str or None, default="auto"
        Column of ``X`` with the interactions' times (numbers read as
        seconds, or datetimes), from which the time features of each
        (user, candidate) pair are built, in days: the item's median time
        less the user's median time (``time_item_minus_user``) and less
        the user's latest time (``time_item_minus_last``), the user's
        median time less the item's first time (``time_item_age``), and
        the item's share of all the interactions within 1, 7 and 30 days
        of the user's median time (``time_window_share_<n>d``, 0 where the
        window is empty; the others are NaN for items without training
        rows). "auto"
        takes ``time_column`` where given, else a column named
        ``"timestamp"`` of a DataFrame ``X``, else none (an array of the
        same values gets no time features: give the column's position);
        None builds no time features.
    generator_weight : float, default=0.5
        The final score of a candidate is the z-score of the reranker's
        score (the log-odds of class 1 for a classifier) over the user's
        candidates plus ``generator_weight`` times the generator's z-score:
        the blend keeps part of the generator's order, which a pointwise
        reranker re-learns with noise. 0 ranks by the reranker's score
        alone. The default and ``time_features``' were chosen on validation
        data carved from ml-100k's training part
        (``benchmarks/select_defaults.py``: NDCG@10 0.2700 against 0.2607
        without the blend and 0.2682 without time features; EASE 0.2671).
    random_state : int, RandomState instance or None, default=None
        Controls the random holdout.

    Attributes
    ----------
    generator_ : recommender
        The generator fitted on all of ``X``.
    feature_recommenders_ : list of recommenders
        The feature recommenders fitted on all of ``X``.
    reranker_ : estimator or None
        The fitted reranker; None (with a :class:`DataWarning`) where the
        training candidates had a single label, in which case the model
        ranks as its generator.
    feature_names_ : list of str
        The reranker's features, in column order.
    users_ : ndarray of shape (n_users_,)
        User ids seen at fit, sorted.
    items_ : ndarray of shape (n_items_,)
        The generator's catalogue, sorted.
    {catalogue_attributes}

    See Also
    --------
    RankingBlend : A fixed blend of several recommenders' scores.

    Notes
    -----
    A user's candidates never include the items they interacted with at
    fit. Items past the candidates are ranked after them in the
    generator's order (their scores are below every candidate's, and are
    not the reranker's), so lists longer than ``n_candidates``, or
    refilled after ``exclude``, stay complete. Candidates with equal
    reranker scores keep the generator's order (a shift of at most 1e-9 of
    the scores' range). ``predict`` returns the same scores.

    Items (users) missing from the index of ``item_features``
    (``user_features``) get NaN features: a reranker that handles missing
    values, such as
    :class:`~sklearn.ensemble.HistGradientBoostingClassifier`, learns from
    them; others (``LogisticRegression``) raise, so fill the frames first.

    The holdout splits the rows of ``X``: duplicate (user, item) rows are
    aggregated by the models, but they change which rows are held out, so
    the model fitted on data with duplicates is not the one fitted on the
    aggregated rows. Unknown users get the popularity ranking.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_recs.baselines import Popularity
    >>> from sklearn_recs.hybrid import TwoStageRecommender
    >>> from sklearn_recs.linear_model import EASE
    >>> from sklearn_recs.utils._testing import tiny_ratings
    >>> X, _ = tiny_ratings()
    >>> model = TwoStageRecommender(EASE(alpha=10.0), LogisticRegression(),
    ...                             n_candidates=10, random_state=0).fit(X)
    >>> model.feature_names_[:4]
    ['generator_score', 'generator_rank', 'item_popularity', 'user_activity']
    >>> model.feature_names_[4]  # then time features, from X's "timestamp" column
    'time_item_minus_user'
    >>> model.recommend(["u00"], 3).shape
    (1, 3)
    """

    _members = "feature_recommenders"  # the (name, estimator) list of MemberParams

    _parameter_constraints: dict = {
        "generator": [HasMethods(["fit", "recommend"])],
        "reranker": [HasMethods(["fit"])],
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
        "feature_recommenders": [list, None],
        "holdout_size": [Interval(Real, 0, 1, closed="neither"),
                         Interval(Integral, 1, None, closed="left")],
        "n_splits": [Interval(Integral, 1, None, closed="left")],
        "time_column": [Integral, str, None],
        "time_features": [StrOptions({"auto"}), Integral, str, None],
        "generator_weight": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, generator, reranker, *, n_candidates=100, feature_recommenders=None,
                 holdout_size=0.2, n_splits=5, time_column=None, time_features="auto",
                 generator_weight=0.5, random_state=None):
        store_params(self, locals())

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, *, item_features=None, user_features=None):
        """Fit the reranker on held-out interactions, then the generator on all.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_columns >= 2)
            Column 0 holds user ids, column 1 item ids (and ``time_column``
            where given).
        y : array-like of shape (n_samples,), default=None
            Ratings or weights, passed to the generator and the feature
            recommenders.
        item_features : pandas.DataFrame, default=None
            Item side information indexed by item id, numeric columns: each
            column is a reranker feature ``item_<column>`` of the
            candidates (NaN for items missing from the index). Also passed
            to the generator and the feature recommenders whose ``fit``
            takes ``item_features`` (with metadata routing enabled, those
            that request it).
        user_features : pandas.DataFrame, default=None
            User side information indexed by user id, numeric columns: each
            column is a reranker feature ``user_<column>`` (NaN for users
            missing from the index).

        {fit_returns}
        """
        implicit = not get_tags(self).target_tags.required
        check_interactions(X, y, implicit=implicit, y_required=not implicit, estimator=self)
        members = self.feature_recommenders or []
        self._validate_names([name for name, _ in members])
        owner = type(self).__name__
        self._item_frame = _check_frame(item_features, "item_features", owner)
        self._user_frame = _check_frame(user_features, "user_features", owner)
        times = self._interaction_times(X)
        if self.time_column is None:
            cv = PerUserShuffleSplit(n_splits=self.n_splits, test_size=self.holdout_size,
                                     random_state=self.random_state)
        else:  # each user's latest rows: one split, whatever n_splits
            cv = PerUserTemporalSplit(test_size=self.holdout_size,
                                      time_column=self.time_column)
        self.reranker_ = self._fit_reranker(X, y, cv, times)
        self.generator_, self.feature_recommenders_, self._times = self._fit_stage(X, y, times)
        self._fit_interactions(X, y, implicit=implicit,
                               extra_users=self.generator_.users_,
                               extra_items=self.generator_.items_)
        self.feature_names_ = (
            ["generator_score", "generator_rank"]
            + [f"{name}_score" for name, _ in members]
            + ["item_popularity", "user_activity"]
            + ([] if self._times is None else self._times.names())
            + [f"{kind}_{column}" for kind, frame in (("item", self._item_frame),
                                                      ("user", self._user_frame))
               if frame is not None for column in frame.columns])
        return self

    def _fit_reranker(self, X, y, cv, times):
        """The reranker fitted on candidates labelled by the held-out parts of
        ``X`` (the splits of ``cv``, pooled; ``times`` are the rows' times or
        None); None, with a warning, where
        there is nothing to learn (no user to hold out from, or a single
        label)."""
        try:
            splits = list(cv.split(X))
        except ValueError as exc:  # no user with 2 or more interactions
            return self._no_reranker(str(exc))
        features, labels, group = [], [], []
        for train, held_out in splits:
            y_train = None if y is None else _take(np.asarray(y), train)
            stage = self._fit_stage(_take(X, train), y_train,
                                    None if times is None else times[train])
            generator = stage[0]
            held_users, held_items, _ = check_interactions(_take(X, held_out),
                                                           estimator=self)
            held_users = generator._encode_users(held_users)
            held_items = generator._encode_items(held_items, unknown="allow")
            users = np.unique(held_users[held_users >= 0])
            split_features, candidates = self._candidate_features(stage, users)
            positives = pd.MultiIndex.from_arrays([held_users, held_items])
            labels.append(pd.MultiIndex.from_arrays(
                [np.repeat(users, candidates.shape[1]), candidates.ravel()]
            ).isin(positives).astype(np.int64))
            features.append(split_features)
            group.append(np.full(len(users), candidates.shape[1]))
        labels = np.concatenate(labels)
        if not labels.size or labels.min() == labels.max():
            return self._no_reranker(
                f"the {labels.size} training candidates all have the same label; "
                f"raise n_candidates={self.n_candidates} or holdout_size")
        fit_params = {"group": np.concatenate(group)} if _wants(self.reranker, "group") else {}
        return clone(self.reranker).fit(np.concatenate(features), labels, **fit_params)

    @staticmethod
    def _no_reranker(reason):
        warnings.warn(
            f"TwoStageRecommender: no reranker was fit ({reason}); the model ranks "
            "as its generator.",
            DataWarning,
            stacklevel=user_stacklevel(),
        )

    def _fit_stage(self, X, y, times):
        """The generator and the feature recommenders, fitted on ``X, y``
        (with ``item_features`` for those that take it), and the
        :class:`TimeStats` of the rows' ``times`` (None without)."""
        def fitted(estimator):
            params = ({"item_features": self._item_frame}
                      if self._item_frame is not None and _wants(estimator, "item_features")
                      else {})
            return clone(estimator).fit(X, y, **params)
        generator = fitted(self.generator)
        stats = None
        if times is not None:
            users, items, _ = check_interactions(X, estimator=self)
            stats = TimeStats(generator._encode_users(users, unknown="allow"),
                              generator._encode_items(items, unknown="allow"),
                              times, generator.n_users_, generator.n_items_)
        return generator, [fitted(est) for _, est in self.feature_recommenders or []], stats

    def _interaction_times(self, X):
        """The times (seconds) of ``X``'s rows in the ``time_features``
        column; None where there is none."""
        column = self.time_features
        if column == "auto":
            column = self.time_column
            if column is None and isinstance(X, pd.DataFrame) and "timestamp" in X.columns:
                column = "timestamp"
        if column is None:
            return None
        n_columns = X.shape[1] if hasattr(X, "shape") else np.shape(X)[1]
        if (isinstance(X, pd.DataFrame) and isinstance(column, str)
                and column not in X.columns) or (
                not isinstance(column, str) and not -n_columns <= column < n_columns):
            raise ValueError(
                f"{type(self).__name__}: the time column {column!r} (time_features="
                f"{self.time_features!r}, time_column={self.time_column!r}) is not a "
                "column of X; name one of its columns, or set time_features=None.")
        return interaction_times(X, column, owner=type(self).__name__)

    def _candidate_features(self, stage, user_codes):
        """The candidates (generator item codes, ``(n, width)``) of the
        generator's ``user_codes`` and their features, one row per pair."""
        generator, members, times = stage
        width = min(self.n_candidates, generator.n_items_)
        scores = np.array(generator._score_users(user_codes, None), dtype=np.float64)
        np.nan_to_num(scores, copy=False, nan=-np.inf)
        seen = generator.interactions_[user_codes]
        scores[np.repeat(np.arange(len(user_codes)), np.diff(seen.indptr)), seen.indices] = -np.inf
        candidates, candidate_scores = topk(scores, width)
        users = np.repeat(user_codes, width)
        items = candidates.ravel()
        user_ids, item_ids = generator.users_[users], generator.items_[items]
        n_rows = max(generator.interactions_.nnz, 1)
        columns = [_per_user_zscores(candidate_scores),
                   np.tile(np.arange(1.0, width + 1), len(user_codes))]
        columns += [_per_user_zscores(_member_scores(member, user_ids, item_ids)
                                      .reshape(candidates.shape)) for member in members]
        columns += [generator._popularity[items] / n_rows,
                    np.diff(generator.interactions_.indptr)[users] / n_rows]
        if times is not None:
            columns += times.features(users, items)
        side = [frame.reindex(ids).to_numpy() for frame, ids in
                ((self._item_frame, item_ids), (self._user_frame, user_ids))
                if frame is not None]
        return np.column_stack(columns + side), candidates

    def _rerank(self, features):
        """The reranker's scores of ``features``: the log-odds of class 1 for
        a classifier with ``predict_proba``, else its ``decision_function``
        or ``predict``."""
        if is_classifier(self.reranker_) and hasattr(self.reranker_, "predict_proba"):
            proba = self.reranker_.predict_proba(features)[:, -1]
            return logit(np.clip(proba, 1e-15, 1 - 1e-15))
        if hasattr(self.reranker_, "decision_function"):
            return self.reranker_.decision_function(features)
        return self.reranker_.predict(features)

    # -- hooks of RecommenderMixin -------------------------------------------
    def _score_users(self, user_codes, item_codes):
        if self.reranker_ is None:
            return self.generator_._score_users(user_codes, item_codes)
        stage = (self.generator_, self.feature_recommenders_, self._times)
        features, candidates = self._candidate_features(stage, user_codes)
        reranked = np.asarray(self._rerank(features), dtype=np.float64)
        if np.isnan(reranked).any():
            raise ValueError(
                f"TwoStageRecommender: the reranker {self.reranker_!r} returned NaN "
                f"scores for {int(np.isnan(reranked).sum())} of {reranked.size} "
                "candidates; use a reranker that scores every row (one that handles "
                "missing features, such as HistGradientBoostingClassifier, or a "
                "Pipeline that imputes them first).")
        if self.generator_weight:
            reranked = (_per_user_zscores(reranked.reshape(candidates.shape))
                        + self.generator_weight * features[:, 0])
        reranked = reranked.reshape(candidates.shape)
        # Equal scores (frequent with trees) keep the generator's order.
        spread = np.ptp(reranked) if reranked.size else 0.0
        reranked -= (np.arange(candidates.shape[1]) / max(candidates.shape[1], 1)
                     * 1e-9 * max(spread, 1e-12))
        scores = np.array(self.generator_._score_users(user_codes, None), dtype=np.float64)
        # Past the candidates: the generator's order, squeezed below them.
        finite = np.where(np.isfinite(scores), scores, np.nan)
        low, high = np.nanmin(finite, axis=1, keepdims=True), np.nanmax(finite, axis=1,
                                                                         keepdims=True)
        floor = reranked.min(axis=1, keepdims=True) - 2.0
        spread = np.where(high - low > 0, high - low, 1.0)
        scores = np.where(np.isfinite(scores), floor + (scores - low) / spread, scores)
        np.put_along_axis(scores, candidates, reranked, axis=1)
        return scores if item_codes is None else scores[:, item_codes]

    def _predict_pairs(self, user_codes, item_codes):
        return _pair_scores(self, user_codes, item_codes)

    def _predict_cold(self, user_codes, item_codes):
        return self.generator_._predict_cold(user_codes, item_codes)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = None
        tags.regressor_tags = None
        tags.target_tags.required = get_tags(self.generator).target_tags.required
        return tags

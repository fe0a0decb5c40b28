"""Hybrid recommenders: blends of the rankings of several recommenders.

For rating prediction, scikit-learn's own ensembles already combine the
recommenders of this package (they are regressors)::

    VotingRegressor([("content", ContentRecommender()), ("bias", BiasBaseline())])
    StackingRegressor([...], final_estimator=RidgeCV())

:class:`RankingBlend` is the ranking counterpart: a recommender whose score
is a weighted sum of its members' normalised scores, or of their reciprocal
ranks (reciprocal-rank fusion). :class:`TwoStageRecommender` learns the
combination instead: a recommender retrieves candidates, any scikit-learn
classifier or regressor reranks them. :class:`SwitchRecommender` serves
each user by one member, chosen by the size of their history.
"""

from __future__ import annotations

import inspect
from numbers import Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils._metadata_requests import MetadataRouter, MethodMapping
from sklearn.utils import get_tags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import _routing_enabled, process_routing

from ._composition import MemberParams
from ._explain import Explanation, member_terms
from ._switch import SwitchRecommender
from ._two_stage import TwoStageRecommender, _pair_scores
from .base import RecommenderMixin
from .utils._docs import shared_doc
from .utils._params import store_params
from .utils._topk import block_size

__all__ = ["RankingBlend", "SwitchRecommender", "TwoStageRecommender"]


def _centre_spread(scores, how):
    """Per-row centre and spread (1 where none) of a block of scores: the
    normalised scores are ``(scores - centre) / spread``."""
    if how == "zscore":
        centre = scores.mean(axis=1, keepdims=True)
        spread = scores.std(axis=1, keepdims=True)
    else:
        centre = scores.min(axis=1, keepdims=True)
        spread = scores.max(axis=1, keepdims=True) - centre
    return centre, np.where(spread > 1e-12, spread, 1.0)


def _normalise(scores, how):
    """Per-row z-scores or min-max scaling of a block of scores."""
    centre, spread = _centre_spread(scores, how)
    return (scores - centre) / spread


def _reciprocal_ranks(scores, seen, rank_constant):
    """``1 / (rank_constant + rank)`` of each entry of a block of scores.

    Ranks are 1-based, best first, equal scores by column. Within each row
    the entries flagged in ``seen`` (a boolean array of the block's shape)
    are ranked after the others, so the other entries' ranks are their
    ranks in the list without them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.hybrid import _reciprocal_ranks
    >>> _reciprocal_ranks(np.array([[0.2, 0.9, 0.5]]),
    ...                   np.array([[False, True, False]]), 0)
    array([[0.5       , 0.33333333, 1.        ]])
    """
    order = np.argsort(-scores, axis=1, kind="stable")
    order = np.take_along_axis(
        order, np.argsort(np.take_along_axis(seen, order, axis=1), axis=1, kind="stable"),
        axis=1)
    ranks = np.empty(scores.shape)
    np.put_along_axis(ranks, order, np.arange(1.0, scores.shape[1] + 1), axis=1)
    return 1.0 / (rank_constant + ranks)


@shared_doc
class RankingBlend(RecommenderMixin, MemberParams, BaseEstimator):
    """Rank items by a weighted blend of several recommenders' normalised scores.

    Each member is fitted on the same data. For a user, each member scores
    its whole catalogue; the scores are normalised per user over that
    catalogue (``normalization``), so scores on different scales (ratings,
    cosines, counts) become comparable; the blend is their weighted sum.
    ``normalization="rrf"`` (reciprocal-rank fusion) replaces each score by
    ``1 / (rank_constant + rank)``, the item's rank in the member's ranking
    of the items the user has not interacted with, which ignores the
    scale of the scores altogether. An
    item that some members do not know (a cold-start item known only to a
    content model) is scored by the members that know it, with their
    weights renormalised to the same total. The catalogue ``items_`` is the
    union of the members' catalogues.

    Weights and the members' own parameters are grid-searchable:
    ``{"weights": [[1, 0], [0.5, 0.5]], "content__alpha": [...]}``.

    Parameters
    ----------
    estimators : list of (str, estimator) tuples
        The members, named. They must be recommenders of this package.
    weights : array-like of shape (n_estimators,), default=None
        Non-negative weight of each member; None weighs them equally.
    normalization : {"zscore", "minmax", "rrf"}, default="zscore"
        Per-user normalisation of each member's scores over its catalogue:
        mean 0 and standard deviation 1, the range [0, 1], or reciprocal
        ranks ``1 / (rank_constant + rank)`` (Cormack et al., 2009).
    rank_constant : float, default=60
        The constant of reciprocal-rank fusion (used with
        ``normalization="rrf"`` only): the larger, the flatter the weight
        of the top ranks against the lower ones. 60 is the value of the
        original paper.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members, in the order of ``estimators``.
    named_estimators_ : dict
        The fitted members by name.
    users_ : ndarray of shape (n_users_,)
        User ids seen at fit, sorted.
    items_ : ndarray of shape (n_items_,)
        The union of the members' catalogues, sorted.
    n_users_ : int
        Number of users seen at fit.
    n_items_ : int
        Number of items in the catalogue.
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        The training interactions (ratings where ``y`` was given).
    n_features_in_ : int
        Number of columns of ``X`` at fit.

    See Also
    --------
    sklearn.ensemble.VotingRegressor : Averages rating predictions.
    sklearn.ensemble.StackingRegressor : Learns how to combine them.

    Notes
    -----
    Fit parameters such as ``item_features`` go to the members whose
    ``fit`` accepts them; with metadata routing enabled, to the members
    that request them (``set_fit_request(item_features=True)``).

    Scoring a user normalises each member over its whole catalogue, so a
    ranking restricted to ``items=`` is the full ranking filtered, and
    costs the same. ``predict`` returns the blended normalised score of each
    pair (not a rating: use ``VotingRegressor`` for ratings); pairs with an
    unknown user or item score 0.

    With ``"rrf"``, the ranks count only the items the user did not
    interact with at fit (seen items are ranked after them), so
    ``recommend`` with ``exclude_seen=True`` fuses exactly the members' own
    ``recommend`` lists; items equal in score are ranked by id, as in
    ``recommend``.

    ``explain`` gives each member's part of a pair's score (``kind=
    "member"``); with ``"zscore"`` and ``"minmax"`` the part is an affine
    map of the member's score, so a member whose own ``explain`` sums to
    the score it ranks by has its terms given too, scaled (and then the
    exact ones), with a ``"<name>: normalisation"`` row for the shift.
    With ``"rrf"`` the reciprocal ranks are the terms. See :ref:`explain`.

    References
    ----------
    .. [1] G. V. Cormack, C. L. A. Clarke and S. Buettcher, "Reciprocal rank
       fusion outperforms Condorcet and individual rank learning methods",
       SIGIR 2009.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recs.baselines import Popularity
    >>> from sklearn_recs.content import ContentRecommender
    >>> from sklearn_recs.hybrid import RankingBlend
    >>> items = pd.DataFrame({"genres": [["Action"], ["Action"], ["Romance"],
    ...                                  ["Romance"], ["Action"]]},
    ...                      index=[10, 20, 30, 40, 50])
    >>> X = [[1, 10], [2, 10], [2, 30], [3, 30], [3, 40], [4, 30]]
    >>> blend = RankingBlend(estimators=[  # the features alone, blended with popularity
    ...     ("content", ContentRecommender(feedback="implicit", centering="mean")),
    ...     ("pop", Popularity())])
    >>> blend.fit(X, item_features=items).recommend([1], top_n=3)
    array([[20, 50, 30]])

    Each member's part of a score, split into the member's own terms:

    >>> blend.explain(1, 30).round(2)
       user  item                  source    kind  contribution  exact
    0     1    30                 content  member         -0.61  False
    1     1    30  content: normalisation    bias         -0.61   True
    2     1    30                     pop  member          0.61  False
    3     1    30         pop: popularity    bias          1.84   True
    4     1    30      pop: normalisation    bias         -1.22   True
    >>> blend.predict([[1, 30]]).round(2)  # the sum of the exact rows
    array([0.])
    """

    _parameter_constraints: dict = {
        "estimators": [list],
        "weights": ["array-like", None],
        "normalization": [StrOptions({"zscore", "minmax", "rrf"})],
        "rank_constant": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, *, estimators, weights=None, normalization="zscore",
                 rank_constant=60):
        store_params(self, locals())

    def _check_weights(self):
        names = [name for name, _ in self.estimators]
        self._validate_names(names)
        if not self.estimators:
            raise ValueError("RankingBlend: estimators is empty; give at least one "
                             "(name, recommender) pair.")
        if self.weights is None:
            return np.ones(len(names))
        weights = np.asarray(self.weights, dtype=np.float64)
        if weights.shape != (len(names),) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(
                f"RankingBlend: weights={self.weights!r} is invalid; give "
                f"{len(names)} non-negative numbers (one per estimator), not all 0."
            )
        return weights

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **fit_params):
        """Fit every member on ``X, y``.

        {fit_X}.
        y : array-like of shape (n_samples,), default=None
            Ratings or weights, passed to every member.
        **fit_params : dict
            Passed to the members' ``fit`` (see Notes), e.g.
            ``item_features``.

        {fit_returns}
        """
        self._weights = self._check_weights()
        if _routing_enabled():
            routed = process_routing(self, "fit", **fit_params)
            member_params = [routed[name].fit for name, _ in self.estimators]
        else:
            member_params = [
                {key: value for key, value in fit_params.items()
                 if key in inspect.signature(est.fit).parameters}
                for _, est in self.estimators
            ]
        self.estimators_ = [clone(est).fit(X, y, **params)
                            for (_, est), params in zip(self.estimators, member_params)]
        self.named_estimators_ = dict(zip([name for name, _ in self.estimators],
                                          self.estimators_))
        catalogue = np.concatenate([np.asarray(est.items_, dtype=object)
                                    for est in self.estimators_])
        self._fit_interactions(X, y, implicit=y is None,
                               extra_items=pd.Index(catalogue).unique().to_numpy())
        self._member_users = [pd.Index(est.users_).get_indexer(self.users_)
                              for est in self.estimators_]
        self._member_items = [pd.Index(est.items_).get_indexer(self.items_)
                              for est in self.estimators_]
        self._member_columns = [self._item_index.get_indexer(est.items_)
                                for est in self.estimators_]
        return self

    def get_metadata_routing(self):
        """Route fit parameters to the members that request them.

        Returns
        -------
        routing : MetadataRouter
            The routing of ``fit`` to each member's ``fit``.
        """
        router = MetadataRouter(owner=self)
        for name, est in self.estimators:
            router.add(**{name: est},
                       method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        return router

    # -- hooks of RecommenderMixin -------------------------------------------
    def _score_users(self, user_codes, item_codes):
        columns = np.arange(self.n_items_) if item_codes is None else item_codes
        blended = np.zeros((len(user_codes), len(columns)))
        total = np.zeros(len(columns))
        for est, weight, users, items, own in zip(
                self.estimators_, self._weights, self._member_users,
                self._member_items, self._member_columns):
            member_columns = items[columns]
            known = member_columns >= 0
            member_columns = member_columns[known]
            total += weight * known
            step = block_size(est.n_items_)
            for start in range(0, len(user_codes), step):
                rows = slice(start, start + step)
                scores = self._normalised(est._score_users(users[user_codes[rows]], None),
                                          user_codes[rows], own)
                blended[rows, known] += weight * scores[:, member_columns]
        return blended / np.where(total > 0, total, 1.0)

    def _normalised(self, scores, user_codes, member_columns):
        """A member's scores of its catalogue (columns: the blend's item codes
        ``member_columns``) for ``user_codes``, normalised."""
        if self.normalization != "rrf":
            return _normalise(scores, self.normalization)
        seen = self.interactions_[user_codes][:, member_columns].toarray() != 0
        return _reciprocal_ranks(scores, seen, self.rank_constant)

    def _predict_pairs(self, user_codes, item_codes):
        return _pair_scores(self, user_codes, item_codes)

    def _predict_cold(self, user_codes, item_codes):
        return np.zeros(len(user_codes))

    def _explain_terms(self, user_codes, item_codes):
        explanation = Explanation(len(user_codes))
        known = [items[item_codes] >= 0 for items in self._member_items]
        total = sum(weight * mask for weight, mask in zip(self._weights, known))
        total = np.where(total > 0, total, 1.0)
        for (name, _), est, weight, users, items, own, mask in zip(
                self.estimators, self.estimators_, self._weights, self._member_users,
                self._member_items, self._member_columns, known):
            pairs = np.flatnonzero(mask)
            member_users, member_items = users[user_codes[pairs]], items[item_codes[pairs]]
            score, scale, shift = self._normalisation(est, user_codes[pairs], member_users,
                                                      member_items, own)
            share = weight / total[pairs]
            member_terms(explanation, name, est, pairs, member_users, member_items,
                         share * (shift if scale is None else scale * score + shift),
                         score=score, scale=None if scale is None else share * scale,
                         shift=share * shift)
        return explanation.merged()

    def _normalisation(self, member, user_codes, member_users, member_items, own):
        """A member's score of each pair, and the map ``scale * score +
        shift`` to its normalised score (``scale`` None with ``"rrf"``:
        ``shift`` is then the reciprocal rank itself)."""
        users, inverse = np.unique(user_codes, return_inverse=True)
        first = np.zeros(len(users), dtype=np.intp)
        first[inverse[::-1]] = np.arange(len(inverse))[::-1]
        score, scale, shift = (np.empty(len(user_codes)) for _ in range(3))
        step = block_size(member.n_items_)
        # The pairs grouped by user, so that each block of users slices its pairs.
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(0, len(users) + step, step))
        for number, start in enumerate(range(0, len(users), step)):
            rows = order[bounds[number]:bounds[number + 1]]
            block = inverse[rows] - start
            scores = member._score_users(member_users[first[start:start + step]], None)
            score[rows] = scores[block, member_items[rows]]
            if self.normalization == "rrf":
                normalised = self._normalised(scores, users[start:start + step], own)
                shift[rows] = normalised[block, member_items[rows]]
            else:
                centre, spread = _centre_spread(scores, self.normalization)
                scale[rows] = 1.0 / spread[block, 0]
                shift[rows] = -centre[block, 0] / spread[block, 0]
        return score, (None if self.normalization == "rrf" else scale), shift

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = any(get_tags(est).target_tags.required
                                        for _, est in self.estimators)
        return tags

"""Routing users to one of several recommenders (public through
:mod:`sklearn_recs.hybrid`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils import get_tags

from ._composition import MemberParams
from ._explain import Explanation, member_terms
from .base import RecommenderMixin
from .utils._docs import shared_doc

__all__ = ["SwitchRecommender"]


@shared_doc
class SwitchRecommender(RecommenderMixin, MemberParams, BaseEstimator):
    """Serve each user by one of several recommenders, chosen by their history.

    Every member is fitted on the same data; a user with ``n`` training
    interactions is served by member ``j``, the number of ``thresholds``
    that are ``<= n``: with members ``[("cold", Popularity()), ("warm",
    EASE())]`` and ``thresholds=[5]``, users with fewer than 5 interactions
    get popularity, the others EASE. Users unseen at fit get the popularity
    ranking, like every recommender of the package.

    Parameters
    ----------
    estimators : list of (str, estimator) tuples
        The members, named, from the coldest users' to the warmest's.
    thresholds : array-like of shape (n_estimators - 1,), default=(5,)
        Increasing numbers of training interactions at which a user moves
        to the next member.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members.
    named_estimators_ : dict
        The fitted members by name.
    user_estimator_ : ndarray of shape (n_users_,)
        Index of the member serving each user of ``users_``.
    users_ : ndarray of shape (n_users_,)
        User ids seen at fit, sorted.
    items_ : ndarray of shape (n_items_,)
        The union of the members' catalogues, sorted.
    {catalogue_attributes}

    See Also
    --------
    RankingBlend : Blends the members' scores for every user instead.

    Notes
    -----
    An item a user's member does not know scores ``-inf`` for that user
    (it is never recommended to them).

    Where every member has ``explain``, the switch has it too: per pair, a
    ``"member"`` row naming the member the user is routed to (the whole
    score), then that member's terms, its fixed terms named ``"<member>:
    <term>"``.

    Examples
    --------
    >>> from sklearn_recs.baselines import Popularity
    >>> from sklearn_recs.hybrid import SwitchRecommender
    >>> from sklearn_recs.linear_model import EASE
    >>> X = [[1, 10], [2, 10], [2, 20], [2, 30], [3, 20], [3, 40]]
    >>> model = SwitchRecommender(estimators=[("cold", Popularity()),
    ...                                       ("warm", EASE(alpha=1.0))],
    ...                           thresholds=[2]).fit(X)
    >>> model.user_estimator_
    array([0, 1, 1])
    """

    _parameter_constraints: dict = {
        "estimators": [list],
        "thresholds": ["array-like"],
    }

    def __init__(self, *, estimators, thresholds=(5,)):
        self.estimators = estimators
        self.thresholds = thresholds

    def _check_thresholds(self):
        self._validate_names([name for name, _ in self.estimators])
        thresholds = np.asarray(self.thresholds, dtype=np.float64)
        if (not self.estimators or thresholds.shape != (len(self.estimators) - 1,)
                or (np.diff(thresholds) <= 0).any()):
            raise ValueError(
                f"SwitchRecommender: thresholds={self.thresholds!r} is invalid for "
                f"{len(self.estimators)} estimator(s); give one fewer increasing "
                "numbers of interactions than estimators (at least one estimator)."
            )
        return thresholds

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit every member on ``X, y`` and route each user.

        {fit_X}.
        y : array-like of shape (n_samples,), default=None
            Ratings or weights, passed to every member.

        {fit_returns}
        """
        thresholds = self._check_thresholds()
        self.estimators_ = [clone(est).fit(X, y) for _, est in self.estimators]
        self.named_estimators_ = dict(zip([name for name, _ in self.estimators],
                                          self.estimators_))
        catalogue = np.concatenate([np.asarray(est.items_, dtype=object)
                                    for est in self.estimators_])
        self._fit_interactions(X, y, implicit=not get_tags(self).target_tags.required,
                               extra_items=pd.Index(catalogue).unique().to_numpy())
        activity = np.diff(self.interactions_.indptr)
        self.user_estimator_ = np.searchsorted(thresholds, activity, side="right")
        self._member_users = [est._user_index.get_indexer(self.users_)
                              for est in self.estimators_]
        self._member_items = [est._item_index.get_indexer(self.items_)
                              for est in self.estimators_]
        return self

    # -- hooks of RecommenderMixin -------------------------------------------
    def _score_users(self, user_codes, item_codes):
        columns = np.arange(self.n_items_) if item_codes is None else item_codes
        scores = np.full((len(user_codes), len(columns)), -np.inf)
        route = self.user_estimator_[user_codes]
        for j, est in enumerate(self.estimators_):
            rows = np.flatnonzero(route == j)
            member_columns = self._member_items[j][columns]
            known = member_columns >= 0
            if rows.size and known.any():
                member = est._score_users(self._member_users[j][user_codes[rows]],
                                          member_columns[known])
                scores[np.ix_(rows, np.flatnonzero(known))] = member
        return scores

    def _predict_pairs(self, user_codes, item_codes):
        out = np.empty(len(user_codes))
        route = self.user_estimator_[user_codes]
        for j, est in enumerate(self.estimators_):
            rows = np.flatnonzero(route == j)
            users = self._member_users[j][user_codes[rows]]
            items = self._member_items[j][item_codes[rows]]
            known = items >= 0
            out[rows] = est._predict_cold(users, items)
            if known.any():
                out[rows[known]] = est._predict_pairs(users[known], items[known])
        return out

    @property
    def _explain_terms(self):
        """The routed members' explanations, where every member explains."""
        members = getattr(self, "estimators_", None) or [est for _, est in self.estimators]
        if any(est._provided("_explain_terms") is None for est in members):
            return None
        return self._explain_routes

    def _explain_routes(self, user_codes, item_codes):
        explanation = Explanation(len(user_codes))
        route = self.user_estimator_[user_codes]
        for j, ((name, _), est) in enumerate(zip(self.estimators, self.estimators_)):
            pairs = np.flatnonzero(route == j)
            users = self._member_users[j][user_codes[pairs]]
            items = self._member_items[j][item_codes[pairs]]
            known = items >= 0
            member_terms(explanation, name, est, pairs[~known], users[~known],
                         items[~known], est._predict_cold(users[~known], items[~known]))
            score = est._predict_pairs(users[known], items[known])
            member_terms(explanation, name, est, pairs[known], users[known], items[known],
                         score, score=score, scale=1.0)
        return explanation

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = any(get_tags(est).target_tags.required
                                        for _, est in self.estimators)
        return tags

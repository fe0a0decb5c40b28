"""Hybrids: RankingBlend, and scikit-learn's VotingRegressor / StackingRegressor."""

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.ensemble import StackingRegressor, VotingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV

from sklearn_recs.baselines import BiasBaseline, Popularity
from sklearn_recs.content import ContentRecommender
from sklearn_recs.hybrid import RankingBlend, SwitchRecommender
from sklearn_recs.linear_model import EASE
from sklearn_recs.metrics import make_ranking_scorer
from sklearn_recs.utils._testing import tiny_ratings


# Implicit models get small integer weights on purpose here (counts, or
# ratings read as weights against a reference), which the ratings check flags.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*y looks like explicit ratings:sklearn_recs.exceptions.DataWarning")


@pytest.fixture
def data():
    X, y = tiny_ratings()
    genres = np.array(["Action", "Drama", "Comedy", "Horror"], dtype=object)
    item_ids = np.arange(25)  # items 20..24 are never rated
    items = pd.DataFrame({"genres": [[g] for g in genres[item_ids % 4]],
                          "year": 1990 + item_ids}, index=item_ids)
    return X, y, items


def _blend(weights=None):
    return RankingBlend(estimators=[("content", ContentRecommender()),
                                    ("bias", BiasBaseline())], weights=weights)


def test_single_weight_reproduces_member(data):
    X, y, items = data
    blend = _blend([0, 1]).fit(X, y, item_features=items)
    bias = BiasBaseline().fit(X, y)
    warm = bias.items_
    np.testing.assert_array_equal(blend.recommend(bias.users_, 5, items=warm),
                                  bias.recommend(bias.users_, 5))


def test_cold_items_scored_by_members_that_know_them(data):
    X, y, items = data
    blend = _blend([1, 1]).fit(X, y, item_features=items)
    assert set(range(20, 25)) <= set(blend.items_)
    content = blend.named_estimators_["content"]
    cold = np.arange(20, 25)
    # Only the content model knows them: the blend ranks them as it does.
    np.testing.assert_array_equal(blend.recommend(content.users_, 5, items=cold),
                                  content.recommend(content.users_, 5, items=cold))


def test_weights_grid_search_and_routing(data):
    X, y, items = data
    rows = np.arange(len(X))
    cv = [(rows[rows % 4 != 0], rows[rows % 4 == 0])]
    search = GridSearchCV(_blend(), {"weights": [[1, 0], [0.5, 0.5], [0, 1]],
                                     "content__similarity": ["cosine", "dot"]},
                          cv=cv, scoring=make_ranking_scorer("ndcg", k=5),
                          error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y, item_features=items)
    assert len(search.cv_results_["params"]) == 6
    with sklearn.config_context(enable_metadata_routing=True):
        blend = RankingBlend(estimators=[
            ("content", ContentRecommender().set_fit_request(item_features=True)),
            ("bias", BiasBaseline())]).fit(X, y, item_features=items)
    assert 24 in blend.named_estimators_["content"].items_


def test_bad_weights(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="2 non-negative numbers"):
        _blend([1, -1]).fit(X, y)
    with pytest.raises(ValueError, match="2 non-negative numbers"):
        _blend([1]).fit(X, y)


def test_minmax_scores_in_unit_range(data):
    X, y, items = data
    blend = RankingBlend(estimators=[("content", ContentRecommender()),
                                     ("pop", Popularity())],
                         normalization="minmax").fit(X, y, item_features=items)
    _, scores = blend.recommend(blend.users_, 3, return_scores=True)
    assert (scores >= 0).all() and (scores <= 1).all()


class _FinalLinear(LinearRegression):
    """scikit-learn 1.9's StackingRegressor passes every fit parameter to its
    final estimator as well (sklearn/ensemble/_stacking.py, ``fit``), so the
    final estimator must accept (and here ignore) ``item_features``."""

    def fit(self, X, y, sample_weight=None, item_features=None):
        return super().fit(X, y, sample_weight=sample_weight)


def test_voting_and_stacking_regressors(data):
    """scikit-learn's own ensembles combine the content and collaborative models."""
    X, y, items = data
    test = np.arange(len(X)) % 5 == 0
    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        members = [("content", ContentRecommender().set_fit_request(item_features=True)),
                   ("bias", BiasBaseline())]
        voting = VotingRegressor(members).fit(X[~test], y[~test], item_features=items)
        stacking = StackingRegressor(members, final_estimator=_FinalLinear(), cv=3)
        stacking.fit(X[~test], y[~test], item_features=items)
        for model in (voting, stacking):
            pred = model.predict(X[test])
            assert pred.shape == (test.sum(),) and np.isfinite(pred).all()
        content = voting.named_estimators_["content"]
        bias = voting.named_estimators_["bias"]
        np.testing.assert_allclose(voting.predict(X[test]),
                                   (content.predict(X[test]) + bias.predict(X[test])) / 2)


def _rrf_by_hand(members, weights, user, rank_constant):
    """Reciprocal-rank fusion of the members' own full ``recommend`` lists."""
    fused = {}
    for member, weight in zip(members, weights):
        ranking = member.recommend([user], member.n_items_)[0]
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (rank_constant + rank)
    return fused


@pytest.mark.parametrize("rank_constant", [0, 60])
def test_rrf_fuses_the_members_lists_by_hand(data, rank_constant):
    X, y, _ = data
    weights = [2.0, 1.0]
    blend = RankingBlend(estimators=[("bias", BiasBaseline()), ("pop", Popularity())],
                         weights=weights, normalization="rrf",
                         rank_constant=rank_constant).fit(X, y)
    members = blend.estimators_
    for user in blend.users_[:8]:
        fused = _rrf_by_hand(members, weights, user, rank_constant)
        expected = sorted(fused, key=lambda item: (-round(fused[item], 12), item))[:6]
        ranked, scores = blend.recommend([user], 6, return_scores=True)
        assert ranked[0].tolist() == expected
        np.testing.assert_allclose(scores[0], [fused[i] / sum(weights) for i in expected])


def test_rrf_toy_case():
    # Two popularity members: a (3 users) > b (2) > c (1) > d (1).
    X = np.array([["u1", "a"], ["u2", "a"], ["u3", "a"], ["u2", "b"], ["u3", "b"],
                  ["u3", "c"], ["u4", "d"]], dtype=object)
    blend = RankingBlend(estimators=[("pop", Popularity()), ("pop2", Popularity())],
                         normalization="rrf", rank_constant=1).fit(X)
    # u4 has seen d, so its ranks count a, b, c only:
    # fused score of a = (1/2 + 1/2) / 2 = 0.5, b = 1/3, c = 1/4.
    ranked, scores = blend.recommend(["u4"], 3, return_scores=True)
    assert ranked.tolist() == [["a", "b", "c"]]
    np.testing.assert_allclose(scores, [[1 / 2, 1 / 3, 1 / 4]])


def test_rrf_bad_rank_constant(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="rank_constant"):
        RankingBlend(estimators=[("pop", Popularity())], normalization="rrf",
                     rank_constant=-1).fit(X, y)


def test_switch_serves_each_user_by_their_member():
    X, _ = tiny_ratings()
    thresholds = [7, 9]
    members = [("pop", Popularity()), ("bias", BiasBaseline()), ("ease", EASE(alpha=10.0))]
    y = np.linspace(1, 5, len(X))
    model = SwitchRecommender(estimators=members, thresholds=thresholds).fit(X, y)
    counts = X["user_id"].value_counts()
    fitted = model.estimators_
    for user in model.users_:
        member = sum(counts[user] >= t for t in thresholds)  # routing by hand
        assert model.user_estimator_[model._user_index.get_loc(user)] == member
        np.testing.assert_array_equal(model.recommend([user], 6, exclude=[0]),
                                      fitted[member].recommend([user], 6, exclude=[0]))
    assert set(model.user_estimator_) == {0, 1, 2}


@pytest.mark.parametrize("thresholds", [[], [5, 3], [1, 2, 3]])
def test_switch_bad_thresholds(thresholds):
    X, y = tiny_ratings()
    model = SwitchRecommender(estimators=[("pop", Popularity()), ("bias", BiasBaseline()),
                                          ("ease", EASE())], thresholds=thresholds)
    with pytest.raises(ValueError, match="thresholds=.* is invalid for 3 estimator"):
        model.fit(X, y)

"""Ranking scorers: grouping, thresholds, -inf slots, model selection."""

import math
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_validate

from sklearn_recs.exceptions import ColdStartWarning
from sklearn_recs.metrics import (
    RankingScorer,
    get_scorer,
    get_scorer_names,
    make_ranking_scorer,
    ndcg_at_k_score,
    recall_at_k_score,
)
from sklearn_recs.utils.validation import check_interactions


# Implicit models get small integer weights on purpose here (counts, or
# ratings read as weights against a reference), which the ratings check flags.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*y looks like explicit ratings:sklearn_recs.exceptions.DataWarning")


class FixedRanking(BaseEstimator):
    """Recommend the items of ``ranking`` in order to every user.

    With ``exclude_seen`` a user's training items move to the end of their
    list with score -inf, as the package's recommenders do when a user has
    fewer unseen candidates than ``n_items``. Every call to ``recommend`` is
    recorded in ``calls_``.
    """

    def __init__(self, ranking=(10, 20, 30, 40)):
        self.ranking = ranking

    def fit(self, X, y=None):
        users, items, _ = check_interactions(X, y)
        self.seen_ = pd.Series(items).groupby(users).agg(set).to_dict()
        self.calls_ = []
        return self

    def recommend(self, users, top_n=10, *, exclude_seen=True, items=None,
                  return_scores=False):
        self.calls_.append({"users": list(users), "top_n": top_n,
                            "exclude_seen": exclude_seen,
                            "return_scores": return_scores})
        unknown = [user for user in users if user not in self.seen_]
        if unknown:
            warnings.warn(f"{len(unknown)} unknown users", ColdStartWarning)
        width = min(top_n, len(self.ranking))
        ids, scores = [], []
        for user in users:
            seen = self.seen_.get(user, set()) if exclude_seen else set()
            fresh = [item for item in self.ranking if item not in seen]
            stale = [item for item in self.ranking if item in seen]
            ids.append((fresh + stale)[:width])
            scores.append(([float(len(fresh) - r) for r in range(len(fresh))]
                           + [-math.inf] * len(stale))[:width])
        ids, scores = np.array(ids), np.array(scores)
        return (ids, scores) if return_scores else ids


def recall_at_2(y_true, y_pred, *, k=10):
    """A user-defined metric: recall at 2, whatever k."""
    return recall_at_k_score(y_true, y_pred, k=2)


# Training: u1 saw 50, u2 saw 60. Test rows interleave the users.
X_TRAIN = pd.DataFrame({"user": ["u1", "u2"], "item": [50, 60]})
X_TEST = pd.DataFrame({"user": ["u2", "u1", "u2", "u1"], "item": [30, 10, 99, 40]})
Y_TEST = np.array([5.0, 2.0, 4.0, 5.0])


def test_groups_test_rows_by_user():
    model = FixedRanking().fit(X_TRAIN)
    score = make_ranking_scorer("ndcg", k=4)(model, X_TEST)
    # u2 (first seen) relevant {30, 99}, list [10, 20, 30, 40]: hit at rank 3,
    #   DCG = 1/log2(4), IDCG = 1 + 1/log2(3)
    # u1 relevant {10, 40}: hits at ranks 1 and 4, DCG = 1 + 1/log2(5)
    idcg = 1 + 1 / math.log2(3)
    expected = (0.5 / idcg + (1 + 1 / math.log2(5)) / idcg) / 2
    assert score == pytest.approx(expected)
    assert score == pytest.approx(ndcg_at_k_score([[30, 99], [10, 40]],
                                                  [[10, 20, 30, 40]] * 2, k=4))
    # one call for the unique users, in order of first appearance
    assert model.calls_ == [{"users": ["u2", "u1"], "top_n": 4,
                             "exclude_seen": True, "return_scores": True}]
    # an ndarray X gives the same
    assert make_ranking_scorer("ndcg", k=4)(model, X_TEST.to_numpy()) == score


def test_relevance_threshold():
    model = FixedRanking().fit(X_TRAIN)
    scorer = make_ranking_scorer("precision", k=2, relevance_threshold=4)
    # relevant rows (y >= 4): u2 -> {30, 99}, u1 -> {40}; top 2 = [10, 20]
    assert scorer(model, X_TEST, Y_TEST) == 0.0
    scorer = make_ranking_scorer("precision", k=4, relevance_threshold=4)
    # u2: 30 in the top 4 -> 1/4; u1: 40 -> 1/4
    assert scorer(model, X_TEST, Y_TEST) == pytest.approx(0.25)
    # y >= 5 keeps u2 -> {30}, u1 -> {40}: only they are asked for
    make_ranking_scorer("precision", relevance_threshold=5)(model, X_TEST, Y_TEST)
    assert model.calls_[-1]["users"] == ["u2", "u1"]
    make_ranking_scorer("precision", relevance_threshold=4.5)(
        model, X_TEST, [5.0, 2.0, 4.0, 4.0])
    assert model.calls_[-1]["users"] == ["u2"]
    # without y every row is relevant: u1 -> {10, 40}, 10 in the top 2
    assert scorer(model, X_TEST) == pytest.approx((1 / 4 + 2 / 4) / 2)


def test_no_relevant_rows_warns_and_returns_nan():
    model = FixedRanking().fit(X_TRAIN)
    scorer = make_ranking_scorer("ndcg", relevance_threshold=6)
    with pytest.warns(UndefinedMetricWarning, match="no test row has y >= 6"):
        assert math.isnan(scorer(model, X_TEST, Y_TEST))
    assert model.calls_ == []


def test_exclude_seen_and_minus_inf_slots():
    # u1 saw 10 and 20 at fit: with exclude_seen its list is
    # [30, 40, 10 (-inf), 20 (-inf)], and the -inf slots are not
    # recommendations, so the relevant 10 is not a hit.
    model = FixedRanking().fit(pd.DataFrame({"user": ["u1", "u1"], "item": [10, 20]}))
    X_test = pd.DataFrame({"user": ["u1"], "item": [10]})
    assert make_ranking_scorer("hit_rate", k=4)(model, X_test) == 0.0
    assert make_ranking_scorer("precision", k=4)(model, X_test) == 0.0
    assert model.calls_[-1]["exclude_seen"] is True
    # Without exclusion, 10 is first.
    scorer = make_ranking_scorer("mrr", k=4, exclude_seen=False)
    assert scorer(model, X_test) == 1.0
    assert model.calls_[-1]["exclude_seen"] is False


def test_unknown_users_warning_passes_through():
    model = FixedRanking().fit(X_TRAIN)
    with pytest.warns(ColdStartWarning, match="1 unknown users"):
        score = make_ranking_scorer("hit_rate", k=1)(
            model, pd.DataFrame({"user": ["new", "u1"], "item": [10, 20]}))
    assert score == 0.5


def test_callable_metric():
    model = FixedRanking().fit(X_TRAIN)
    scorer = make_ranking_scorer(recall_at_2, k=4)
    # recall@2 whatever k: u2 0/2, u1 1/2
    assert scorer(model, X_TEST) == pytest.approx(0.25)
    assert repr(scorer) == "make_ranking_scorer(recall_at_2, k=4)"


def test_repr():
    assert repr(make_ranking_scorer("ndcg")) == "make_ranking_scorer('ndcg', k=10)"
    assert repr(make_ranking_scorer("map", k=5, relevance_threshold=4.0,
                                    exclude_seen=False)) == (
        "make_ranking_scorer('map', k=5, relevance_threshold=4.0, exclude_seen=False)")


@pytest.mark.parametrize("scorer", [make_ranking_scorer("ndcg", k=3, relevance_threshold=4),
                                    make_ranking_scorer(recall_at_2), get_scorer("mrr@5")])
def test_pickle(scorer):
    model = FixedRanking().fit(X_TRAIN)
    restored = pickle.loads(pickle.dumps(scorer))
    assert isinstance(restored, RankingScorer)
    assert repr(restored) == repr(scorer)
    assert restored(model, X_TEST, Y_TEST) == scorer(model, X_TEST, Y_TEST)


def test_estimator_without_recommend():
    model = LinearRegression().fit([[1, 2], [2, 3]], [1.0, 2.0])
    with pytest.raises(TypeError, match="LinearRegression has none.*"
                                        "neg_root_mean_squared_error"):
        make_ranking_scorer("ndcg")(model, [[1, 2]], [1.0])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"metric": "auc"}, ValueError,
         r"metric='auc' is not a ranking metric; use one of \['hit_rate', 'map', "
         r"'mrr', 'ndcg', 'precision', 'recall'\]"),
        ({"metric": 3}, TypeError, "must be a name in"),
        ({"metric": "ndcg", "k": 0}, ValueError, "k=0 is invalid"),
        ({"metric": "ndcg", "relevance_threshold": "4"}, TypeError,
         "relevance_threshold='4' is invalid"),
        ({"metric": "ndcg", "exclude_seen": "yes"}, TypeError,
         "exclude_seen='yes' is invalid"),
    ],
)
def test_make_ranking_scorer_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_ranking_scorer(**kwargs)


def test_get_scorer():
    assert repr(get_scorer("ndcg@10")) == "make_ranking_scorer('ndcg', k=10)"
    assert repr(get_scorer("hit_rate@3")) == "make_ranking_scorer('hit_rate', k=3)"
    rmse = get_scorer("neg_root_mean_squared_error")
    assert rmse(LinearRegression().fit([[0], [1]], [0, 1]), [[0], [1]], [0, 1]) == (
        pytest.approx(0))
    assert get_scorer(None) is None
    with pytest.raises(ValueError, match="'auc@5' is not a valid ranking scorer name"):
        get_scorer("auc@5")
    with pytest.raises(ValueError, match="'ndgc' is not a valid scoring value.*ndcg@10"):
        get_scorer("ndgc")
    names = get_scorer_names()
    assert {"ndcg@10", "map@10", "neg_root_mean_squared_error"} <= set(names)
    for name in names:
        get_scorer(name)


# -- inside scikit-learn's model selection ---------------------------------------------
def _two_fold_data():
    """Six users rate items 1, 3, 5, 7; fold A tests {1, 3}, fold B tests {5, 7}."""
    users = np.repeat(np.arange(6), 4)
    items = np.tile([1, 3, 5, 7], 6)
    X = np.column_stack([users, items])
    y = np.full(len(X), 5.0)
    in_a = np.isin(items, [1, 3])
    cv = [(np.flatnonzero(~in_a), np.flatnonzero(in_a)),
          (np.flatnonzero(in_a), np.flatnonzero(~in_a))]
    return X, y, cv


GOOD, BAD = (1, 3, 5, 7, 0, 2), (0, 2, 4, 6, 1, 3, 5, 7)


def test_in_grid_search_with_refit():
    X, y, cv = _two_fold_data()
    scoring = {"ndcg": make_ranking_scorer("ndcg", k=3), "mrr": get_scorer("mrr@3")}
    search = GridSearchCV(FixedRanking(), {"ranking": [BAD, GOOD]}, scoring=scoring,
                          refit="ndcg", cv=cv).fit(X, y)
    # GOOD puts each fold's test items first once the training items are excluded
    assert search.best_params_ == {"ranking": GOOD}
    assert search.best_score_ == pytest.approx(1.0)
    np.testing.assert_allclose(search.cv_results_["mean_test_mrr"], [0.0, 1.0])
    assert hasattr(search.best_estimator_, "seen_")


def test_in_randomized_search_and_cross_validate():
    X, y, cv = _two_fold_data()
    search = RandomizedSearchCV(FixedRanking(), {"ranking": [BAD, GOOD]}, n_iter=2,
                                scoring=get_scorer("precision@2"), cv=cv,
                                random_state=0).fit(X, y)
    assert search.best_params_ == {"ranking": GOOD}
    result = cross_validate(FixedRanking(ranking=BAD), X, y, cv=cv, n_jobs=2,
                            scoring={"map": get_scorer("map@4"),
                                     "hit": make_ranking_scorer("hit_rate", k=4)})
    # BAD's list for fold A is [0, 2, 4, 6] after removing 5 and 7: no hit
    np.testing.assert_array_equal(result["test_hit"], [0.0, 0.0])


@pytest.mark.filterwarnings("ignore::sklearn_recs.exceptions.ColdStartWarning")
def test_model_selection_on_ml100k(data_home):
    baselines = pytest.importorskip("sklearn_recs.baselines")
    ratings = pd.read_csv(data_home / "ml-100k" / "u.data", sep="\t",
                          names=["user", "item", "rating", "timestamp"])
    # per-user random holdout: 20% of each user's ratings in each test fold
    rng = np.random.default_rng(0)
    ratings = ratings.iloc[rng.permutation(len(ratings))].reset_index(drop=True)
    fold = ratings.groupby("user").cumcount().to_numpy() % 5
    cv = [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(2)]
    X, y = ratings[["user", "item", "timestamp"]], ratings["rating"].to_numpy(float)

    ndcg = make_ranking_scorer("ndcg", k=10, relevance_threshold=4)
    search = GridSearchCV(
        baselines.BiasBaseline(),
        {"alpha_item": [0.0, 2.0, 25.0]},
        scoring={"ndcg": ndcg, "rmse": "neg_root_mean_squared_error"},
        refit="ndcg",
        cv=cv,
    ).fit(X, y)
    # Unregularised item biases put items with one 5-star rating on top; the
    # ranking wants more shrinkage than the rating error does.
    results = search.cv_results_
    assert search.best_params_ == {"alpha_item": 25.0}
    assert results["params"][np.argmax(results["mean_test_rmse"])] == {"alpha_item": 2.0}
    assert results["mean_test_ndcg"][0] < 0.01

    # A random ranking of the catalogue, scored by the same metric.
    train, test = ratings.iloc[cv[0][0]], ratings.iloc[cv[0][1]]
    relevant = test[test["rating"] >= 4].groupby("user")["item"].agg(list)
    catalogue = train["item"].unique()
    random_lists = np.array([rng.choice(catalogue, 10, replace=False)
                             for _ in range(len(relevant))])
    random_ndcg = ndcg_at_k_score(relevant.tolist(), random_lists, k=10)
    assert random_ndcg < 0.02
    assert search.best_score_ > 5 * random_ndcg

    popularity = cross_validate(baselines.Popularity(), X, y, cv=cv,
                                scoring={"ndcg": ndcg, "map": get_scorer("map@10")})
    assert popularity["test_ndcg"].mean() > 10 * random_ndcg

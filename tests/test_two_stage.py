"""TwoStageRecommender: brute-force references for the reranking, the
holdout without leakage, group routing and grid search."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.tree import DecisionTreeClassifier

from sklearn_recs.baselines import Popularity
from sklearn_recs.content import ContentRecommender
from sklearn_recs.exceptions import DataWarning
from sklearn_recs.hybrid import TwoStageRecommender
from sklearn_recs.linear_model import EASE
from sklearn_recs.metrics import make_ranking_scorer
from sklearn_recs.model_selection import PerUserShuffleSplit
from sklearn_recs.utils._testing import tiny_ratings


class _Column(RegressorMixin, BaseEstimator):
    """A "reranker" that scores by one feature column (and records its fit)."""

    def __init__(self, column=0, sign=1.0):
        self.column = column
        self.sign = sign

    def fit(self, X, y):
        self.X_, self.y_ = X, y
        return self

    def predict(self, X):
        return np.nan_to_num(self.sign * X[:, self.column], nan=-1e9)  # NaN last


class _GroupRanker(ClassifierMixin, BaseEstimator):
    """A stand-in for LGBMRanker: its fit takes ``group``."""

    def fit(self, X, y, group=None):
        self.group_ = group
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        return np.column_stack([-X[:, 0], X[:, 0]])


class _Spy(EASE):
    """EASE recording the rows of each fit."""

    fits = []

    def fit(self, X, y=None):
        _Spy.fits.append(np.asarray(X)[:, :2].copy())
        return super().fit(X, y)


@pytest.fixture(scope="module")
def X():
    return tiny_ratings()[0]


def test_reranking_by_generator_score_is_the_generator(X):
    model = TwoStageRecommender(EASE(alpha=10.0), _Column(0), n_candidates=5,
                                random_state=0).fit(X)
    ease = EASE(alpha=10.0).fit(X)
    # Longer than n_candidates: the tail follows the generator's order too.
    np.testing.assert_array_equal(model.recommend(ease.users_, 12),
                                  ease.recommend(ease.users_, 12))


def test_reranking_by_popularity_matches_hand_reranking(X):
    n_candidates = 6
    model = TwoStageRecommender(EASE(alpha=10.0), _Column(2), n_candidates=n_candidates,
                                generator_weight=0.0, random_state=0).fit(X)
    ease = EASE(alpha=10.0).fit(X)
    counts = X["item_id"].value_counts()
    assert model.feature_names_[2] == "item_popularity"
    for user in ease.users_[:10]:
        candidates = ease.recommend([user], n_candidates)[0]
        # Equal popularity keeps the generator's order (a stable sort).
        by_hand = sorted(candidates, key=lambda item: -counts[item])
        tail = ease.recommend([user], 9)[0]
        expected = by_hand + [item for item in tail if item not in set(candidates)]
        assert model.recommend([user], 9)[0].tolist() == expected[:9]


def test_no_leakage_and_labels_by_hand(X):
    _Spy.fits.clear()
    model = TwoStageRecommender(_Spy(alpha=10.0), _Column(0), n_candidates=100,
                                n_splits=1, random_state=3).fit(X)
    train, held = next(PerUserShuffleSplit(test_size=0.2, random_state=3).split(X))
    rows = X[["user_id", "item_id"]].to_numpy(dtype=object)
    first, final = _Spy.fits
    # The labelling generator saw exactly the training part, never a held-out pair.
    assert sorted(map(tuple, first.tolist())) == sorted(map(tuple, rows[train].tolist()))
    assert not set(map(tuple, first.tolist())) & set(map(tuple, rows[held].tolist()))
    assert len(final) == len(X)  # refit on all the data to serve
    # Every candidate is labelled; with all unseen items as candidates, the
    # positives are exactly the held-out pairs.
    assert model.reranker_.y_.sum() == len(set(map(tuple, rows[held].tolist())))


def test_group_sizes_reach_a_ranker(X):
    model = TwoStageRecommender(EASE(alpha=10.0), _GroupRanker(), n_candidates=4,
                                random_state=0).fit(X)
    group = model.reranker_.group_  # each user's candidates, in each of the 5 holdouts
    assert group.sum() == 4 * len(group) and len(group) == 5 * X["user_id"].nunique()


def test_time_holdout_uses_the_latest(X):
    _Spy.fits.clear()
    TwoStageRecommender(_Spy(alpha=10.0), _Column(0), time_column="timestamp").fit(X)
    first = _Spy.fits[0]
    kept = set(map(tuple, first.tolist()))
    for user, rows in X.groupby("user_id"):
        ordered = rows.sort_values("timestamp", kind="stable")
        in_train = [(user, item) in kept for item in ordered["item_id"]]
        assert in_train == sorted(in_train, reverse=True)  # earliest kept, latest held


def test_feature_recommenders_and_grid_search(X):
    model = TwoStageRecommender(EASE(alpha=10.0), DecisionTreeClassifier(random_state=0),
                                feature_recommenders=[("pop", Popularity())],
                                n_candidates=8, random_state=0)
    rows = np.arange(len(X))
    cv = [(rows[rows % 4 != 0], rows[rows % 4 == 0])]
    grid = {"reranker__max_depth": [1, 3], "n_candidates": [5, 8],
            "generator_weight": [0.0, 1.0]}
    search = GridSearchCV(model, grid, cv=cv, scoring=make_ranking_scorer("ndcg", k=5),
                          error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X)
    assert len(search.cv_results_["params"]) == 8
    assert search.best_estimator_.feature_names_ == [
        "generator_score", "generator_rank", "pop_score", "item_popularity",
        "user_activity", "time_item_minus_user", "time_item_minus_last", "time_item_age",
        "time_window_share_1d", "time_window_share_7d", "time_window_share_30d"]


def test_all_labels_equal_falls_back_to_the_generator():
    # Each user's latest item is held out; both are unknown to the generator
    # fitted on the earlier rows, so no candidate is a positive.
    X = np.array([[0, 1, 0], [0, 2, 1], [1, 1, 0], [1, 3, 1]])
    with pytest.warns(DataWarning, match="raise n_candidates"):
        model = TwoStageRecommender(EASE(), LogisticRegression(), time_column=2).fit(X)
    assert model.reranker_ is None
    np.testing.assert_array_equal(model.recommend([0, 1], 3, exclude_seen=False),
                                  EASE().fit(X).recommend([0, 1], 3, exclude_seen=False))


def test_pooled_holdouts_label_every_split(X):
    _Spy.fits.clear()
    model = TwoStageRecommender(_Spy(alpha=10.0), _GroupRanker(), n_candidates=100,
                                n_splits=3, random_state=5).fit(X)
    splits = list(PerUserShuffleSplit(n_splits=3, test_size=0.2, random_state=5).split(X))
    rows = X[["user_id", "item_id"]].to_numpy(dtype=object)
    assert len(_Spy.fits) == 4  # one labelling fit per split, then the final one
    for fitted, (train, _) in zip(_Spy.fits, splits):
        assert sorted(map(tuple, fitted.tolist())) == sorted(map(tuple, rows[train].tolist()))
    # The three splits' candidates are pooled: every user's group in each split.
    assert len(model.reranker_.group_) == 3 * X["user_id"].nunique()
    _Spy.fits.clear()  # the time holdout is one split
    TwoStageRecommender(_Spy(alpha=10.0), _Column(0), time_column="timestamp").fit(X)
    assert len(_Spy.fits) == 2


def test_item_features_rerank_by_hand_and_unknown_ids_are_nan(X):
    items = np.unique(X["item_id"])
    # Items 0-2 are missing from the frame: their feature is NaN.
    frame = pd.DataFrame({"quality": (items[3:] * 7) % 11}, index=items[3:])
    model = TwoStageRecommender(EASE(alpha=10.0), _Column(4), n_candidates=6,
                                time_features=None, generator_weight=0.0,
                                random_state=0).fit(X, item_features=frame)
    assert model.feature_names_[4] == "item_quality"
    training = model.reranker_.X_
    assert np.isnan(training[:, 4]).any() and not np.isnan(training[:, :4]).any()
    ease = EASE(alpha=10.0).fit(X)
    value = frame["quality"].reindex(items).to_dict()
    for user in ease.users_[:10]:
        candidates = ease.recommend([user], 6)[0]
        # NaN last (the reranker's rule); ties keep the generator's order.
        by_hand = sorted(candidates, key=lambda item: (np.isnan(value[item]),
                                                      -np.nan_to_num(value[item])))
        assert model.recommend([user], 6)[0].tolist() == by_hand


def test_user_features_are_joined_by_user_id(X):
    users = np.unique(X["user_id"])
    frame = pd.DataFrame({"age": np.arange(len(users) - 1.0), "member": True},
                         index=users[1:])  # the first user is missing
    model = TwoStageRecommender(EASE(alpha=10.0), _Column(0), n_candidates=5,
                                random_state=0).fit(X, user_features=frame)
    assert model.feature_names_[-2:] == ["user_age", "user_member"]
    codes = np.arange(model.generator_.n_users_)
    features, candidates = model._candidate_features(
        (model.generator_, model.feature_recommenders_, model._times), codes)
    joined = features[:, -2:].reshape(len(codes), candidates.shape[1], 2)
    for code, user in enumerate(model.generator_.users_):
        expected = ([np.nan, np.nan] if user not in frame.index
                    else [frame.loc[user, "age"], 1.0])
        np.testing.assert_array_equal(joined[code], np.tile(expected, (5, 1)))


def test_item_features_reach_a_generator_that_takes_them(X):
    items = np.unique(X["item_id"])
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(len(items), 3)),
                         index=items)  # continuous: no ties between the content scores
    content = ContentRecommender(feedback="implicit")
    model = TwoStageRecommender(content, _Column(0), n_candidates=5,
                                random_state=0).fit(X, item_features=frame)
    alone = ContentRecommender(feedback="implicit").fit(X, item_features=frame)
    users = alone.users_[:8]
    np.testing.assert_array_equal(model.recommend(users, 5), alone.recommend(users, 5))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"item_features": [[1.0]]}, TypeError, "item_features must be a pandas DataFrame"),
    ({"user_features": pd.DataFrame({"city": ["a"]}, index=["u00"])}, ValueError,
     r"user_features columns \['city'\] are not numeric; encode them first"),
    ({"item_features": pd.DataFrame({"f": [1, 2]}, index=[0, 0])}, ValueError,
     r"item_features has duplicated ids \[0\]"),
])
def test_bad_feature_frames(X, kwargs, error, match):
    with pytest.raises(error, match=match):
        TwoStageRecommender(EASE(), _Column(0)).fit(X, **kwargs)

"""``score`` of every recommender: R^2 for rating models, NDCG@10 for implicit ones.

So that scikit-learn's model selection works without ``scoring=``.
"""

import warnings

import numpy as np
import pytest
from _estimators import ESTIMATORS
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, cross_val_score, validation_curve
from sklearn.utils import get_tags

from sklearn_recs.base import _predicts_ratings
from sklearn_recs.baselines import Popularity
from sklearn_recs.datasets import make_interactions
from sklearn_recs.exceptions import ColdStartWarning, DataWarning
from sklearn_recs.linear_model import EASE
from sklearn_recs.metrics import make_ranking_scorer, ndcg_at_k_score
from sklearn_recs.model_selection import PerUserKFold, PerUserShuffleSplit
from sklearn_recs.neighbors import ItemKNN

NDCG_AT_10 = make_ranking_scorer("ndcg", k=10)


@pytest.fixture(scope="module")
def ratings():
    X, y = make_interactions(120, 60, 2000, random_state=0, return_X_y=True)
    train, test = next(PerUserShuffleSplit(n_splits=1, test_size=0.25,
                                           random_state=0).split(X))
    return X.iloc[train], y.iloc[train], X.iloc[test], y.iloc[test]


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        # ContentRecommender without item_features says it falls back to
        # one-hot items; not the subject here.
        warnings.simplefilter("ignore", DataWarning)
        return clone(estimator).fit(X, y if get_tags(estimator).target_tags.required else None)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_score_is_r2_for_rating_models_and_ndcg_at_10_otherwise(estimator, ratings):
    X_train, y_train, X_test, y_test = ratings
    model = _fit(estimator, X_train, y_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)  # test items unseen at fit
        score = model.score(X_test, y_test)
        if _predicts_ratings(model):
            expected = r2_score(y_test, model.predict(X_test))
        else:
            expected = NDCG_AT_10(model, X_test, y_test)
    assert score == pytest.approx(expected, rel=1e-12)


def test_ranking_score_by_hand():
    # Users 1 and 2 each hold out one item; popularity ranks 30 > 20 > 10.
    X_train = [[1, 30], [2, 30], [3, 30], [3, 20], [4, 20], [4, 10]]
    X_test = [[1, 10], [2, 20]]
    model = Popularity().fit(X_train)
    # User 1: candidates 20, 10 -> hit at rank 2; user 2: 20 first -> rank 1.
    expected = (1 / np.log2(3) + 1.0) / 2
    assert model.score(X_test) == pytest.approx(expected)
    assert model.score(X_test) == pytest.approx(
        ndcg_at_k_score([[10], [20]], model.recommend([1, 2], 10), k=10))


def test_auto_feedback_follows_the_data(ratings):
    X_train, y_train, X_test, y_test = ratings
    implicit = ItemKNN().fit(X_train)
    explicit = ItemKNN().fit(X_train, y_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        assert implicit.score(X_test) == NDCG_AT_10(implicit, X_test)
        assert explicit.score(X_test, y_test) == r2_score(y_test, explicit.predict(X_test))
    with pytest.raises(ValueError, match="pass them as y"):
        explicit.score(X_test)
    with pytest.raises(ValueError, match="sample_weight"):
        implicit.score(X_test, sample_weight=np.ones(len(X_test)))


@pytest.fixture(scope="module")
def interactions():
    return make_interactions(150, 80, 2500, implicit=True, random_state=0).data


def test_model_selection_without_scoring(interactions):
    X = interactions
    cv = PerUserKFold(n_splits=3, random_state=0)
    folds = list(cv.split(X))
    by_hand = [NDCG_AT_10(EASE().fit(X.iloc[train]), X.iloc[test]) for train, test in folds]
    np.testing.assert_allclose(cross_val_score(EASE(), X, cv=folds), by_hand, rtol=1e-12)

    search = GridSearchCV(ItemKNN(feedback="implicit"),
                          {"similarity": ["cosine", "dot"]}, cv=folds).fit(X)
    for similarity, mean in zip(["cosine", "dot"], search.cv_results_["mean_test_score"]):
        model = ItemKNN(feedback="implicit", similarity=similarity)
        assert mean == pytest.approx(np.mean(
            [NDCG_AT_10(clone(model).fit(X.iloc[tr]), X.iloc[te]) for tr, te in folds]))
    assert search.best_score_ == search.cv_results_["mean_test_score"].max()

    train_scores, test_scores = validation_curve(
        ItemKNN(feedback="implicit"), X, None, param_name="similarity",
        param_range=["cosine", "dot"], cv=folds)
    np.testing.assert_allclose(test_scores.mean(axis=1), search.cv_results_["mean_test_score"])
    assert np.isfinite(train_scores).all()

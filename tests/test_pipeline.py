"""A Pipeline ending in a recommender: fitted, scored and searched like the recommender."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_recs.datasets import make_interactions
from sklearn_recs.metrics import get_scorer, sampled_ranking_score
from sklearn_recs.model_selection import PerUserKFold
from sklearn_recs.neighbors import ItemKNN


@pytest.fixture(scope="module")
def wide():
    """Interactions among other columns, ids in the middle: a selector is needed."""
    X = make_interactions(150, 80, 2500, implicit=True, random_state=0).data
    return pd.DataFrame({"session": np.arange(len(X)) % 7, "item": X["item_id"],
                         "user": X["user_id"], "timestamp": X["timestamp"]})


def _pipeline():
    select = ColumnTransformer([("ids", "passthrough", ["user", "item"])])
    return Pipeline([("select", select), ("knn", ItemKNN(feedback="implicit"))])


def test_scorers_and_score_unwrap_the_pipeline(wide):
    folds = list(PerUserKFold(n_splits=3, random_state=0).split(wide[["user", "item"]]))
    train, test = folds[0]
    pipe = _pipeline().fit(wide.iloc[train])
    plain = ItemKNN(feedback="implicit").fit(wide.iloc[train][["user", "item"]])
    X_test, ids_test = wide.iloc[test], wide.iloc[test][["user", "item"]]
    for name in ("ndcg@10", "map@5", "recall@20"):
        scorer = get_scorer(name)
        assert scorer(pipe, X_test) == scorer(plain, ids_test)
    assert pipe.score(X_test) == plain.score(ids_test) == get_scorer("ndcg@10")(plain, ids_test)
    assert sampled_ranking_score(pipe, X_test, n_negatives=5, random_state=0) == \
        sampled_ranking_score(plain, ids_test, n_negatives=5, random_state=0)
    # The documented way to the recommender's own methods and fitted attributes.
    np.testing.assert_array_equal(pipe[-1].recommend([1, 2]), plain.recommend([1, 2]))
    np.testing.assert_array_equal(pipe[-1].similar_items([3]), plain.similar_items([3]))
    np.testing.assert_array_equal(pipe[-1].items_, plain.items_)


@pytest.mark.parametrize("scoring", [None, "ndcg@10"])
def test_grid_search_over_a_step_parameter(wide, scoring):
    ids = wide[["user", "item"]]
    folds = list(PerUserKFold(n_splits=3, random_state=0).split(ids))
    search = GridSearchCV(_pipeline(), {"knn__similarity": ["cosine", "dot"]}, cv=folds,
                          scoring=None if scoring is None else get_scorer(scoring))
    search.fit(wide)
    ndcg = get_scorer("ndcg@10")
    for similarity, mean in zip(["cosine", "dot"], search.cv_results_["mean_test_score"]):
        model = ItemKNN(feedback="implicit", similarity=similarity)
        by_hand = [ndcg(clone(model).fit(ids.iloc[tr]), ids.iloc[te]) for tr, te in folds]
        assert mean == pytest.approx(np.mean(by_hand), rel=1e-12)
    best = search.best_estimator_
    assert best[-1].similarity == search.best_params_["knn__similarity"]
    assert best[-1].recommend([1], 5).shape == (1, 5)


def test_a_feature_joining_step_before_the_recommender(wide):
    """A transformer may build the (user, item) columns, e.g. from a lookup."""
    codes = {user: f"u{user}" for user in wide["user"].unique()}
    join = FunctionTransformer(
        lambda X: pd.DataFrame({"user": X["user"].map(codes), "item": X["item"]}))
    pipe = Pipeline([("join", join), ("knn", ItemKNN(feedback="implicit"))]).fit(wide)
    assert pipe[-1].users_[0].startswith("u")
    assert get_scorer("ndcg@10")(pipe, wide.iloc[:50]) == pytest.approx(
        get_scorer("ndcg@10")(pipe[-1], join.transform(wide.iloc[:50])))


def test_a_pipeline_ending_in_a_regressor_is_refused_clearly(wide):
    pipe = Pipeline([("select", ColumnTransformer([("ids", "passthrough", ["user", "item"])])),
                     ("ridge", Ridge())]).fit(wide, np.ones(len(wide)))
    with pytest.raises(TypeError, match="Ridge has none"):
        get_scorer("ndcg@10")(pipe, wide)

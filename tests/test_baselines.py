"""Popularity: global, time-decayed and demographic, against brute-force references."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV

from sklearn_recs.baselines import Popularity, make_user_transformer
from sklearn_recs.exceptions import ColdStartWarning
from sklearn_recs.metrics import get_scorer
from sklearn_recs.model_selection import PerUserShuffleSplit

# _data draws random (user, item) pairs, so some repeat: Popularity sums their
# weights (as the brute-force references do) and says so with a DataWarning.
pytestmark = [pytest.mark.filterwarnings(
    r"ignore:Popularity. X has \d+ duplicate \(user, item\) row:sklearn_recs.exceptions.DataWarning"
), pytest.mark.filterwarnings(  # counts as weights, which the ratings check flags
    "ignore:.*y looks like explicit ratings:sklearn_recs.exceptions.DataWarning")]


def _data(seed=0, n_users=30, n_items=12, n_rows=150):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"user_id": rng.integers(0, n_users, n_rows),
                      "item_id": rng.integers(0, n_items, n_rows) * 10,
                      "timestamp": rng.integers(0, 1000, n_rows)})
    users = pd.DataFrame({"age": rng.integers(15, 70, n_users + 5),
                          "gender": rng.choice(["F", "M"], n_users + 5),
                          "job": rng.choice(["a", "b", "c"], n_users + 5)},
                         index=np.arange(n_users + 5))
    return X, rng.random(n_rows) + 0.5, users


def _brute_force_scores(X, w, features, n_neighbors):
    """Demographic popularity of every described user, by loops over users."""
    items = np.unique(X["item_id"])
    users = np.union1d(np.unique(X["user_id"]), features.index)
    F = make_user_transformer(features).fit_transform(features.loc[users]).toarray()
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    counts = pd.DataFrame({"u": X["user_id"], "i": X["item_id"], "w": w}).pivot_table(
        index="u", columns="i", values="w", aggfunc="sum", fill_value=0.0
    ).reindex(index=users, columns=items, fill_value=0.0).to_numpy()
    active = np.flatnonzero(counts.sum(axis=1) > 0)
    share = counts.sum(axis=0) / counts.sum()
    scores = {}
    for u in range(len(users)):
        candidates = [v for v in active if v != u]
        sims = np.array([F[u] @ F[v] for v in candidates])
        order = np.lexsort((candidates, -sims))[:n_neighbors]   # ties: lower user first
        scores[users[u]] = sum(sims[j] * counts[candidates[j]] for j in order if sims[j] > 0)
        scores[users[u]] = scores[users[u]] + share
    return items, scores


@pytest.mark.parametrize("n_neighbors", [1, 3, 8, 100])
def test_demographic_popularity_matches_brute_force(n_neighbors):
    X, w, features = _data()
    model = Popularity(n_neighbors=n_neighbors).fit(X, w, user_features=features)
    items, expected = _brute_force_scores(X, w, features, n_neighbors)
    np.testing.assert_array_equal(model.items_, items)
    for user in [0, 7, 31, 34]:       # 31..34 have features but no interactions
        got = model.predict(pd.DataFrame({"user_id": user, "item_id": items}))
        np.testing.assert_allclose(got, expected[user], rtol=1e-10)
        ranking = model.recommend([user], top_n=5, exclude_seen=False)[0]
        order = np.lexsort((items, -expected[user]))[:5]
        np.testing.assert_array_equal(ranking, items[order])


def test_new_user_with_features_is_known_and_user_without_features_is_global():
    X, w, features = _data()
    model = Popularity(n_neighbors=5).fit(X, w, user_features=features.drop(index=[0]))
    assert 33 in model.users_ and model.interactions_[model._user_index.get_loc(33)].nnz == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ColdStartWarning)
        model.recommend([33])
    # User 0 has interactions but no features: the global ranking.
    glob = Popularity().fit(X, w)
    np.testing.assert_array_equal(model.recommend([0], exclude_seen=False),
                                  glob.recommend([0], exclude_seen=False))
    # Not every user resembles user 33 the same way as user 0.
    with pytest.warns(ColdStartWarning, match="1 of 1 users were unseen"):
        assert not np.array_equal(model.recommend([33]), glob.recommend([33]))


def test_time_decay_matches_hand_computation():
    X = pd.DataFrame({"user_id": [1, 2, 3, 3], "item_id": [10, 20, 20, 30],
                      "timestamp": [100, 0, 0, 100]})
    model = Popularity(half_life=50.0, time_column="timestamp").fit(X, [1.0, 1.0, 1.0, 3.0])
    np.testing.assert_allclose(model.popularity_, [1.0, 0.25 + 0.25, 3.0])


def test_user_features_flow_through_grid_search():
    X, _, features = _data(n_rows=300)
    search = GridSearchCV(Popularity(), {"n_neighbors": [2, 20]},
                          scoring=get_scorer("ndcg@10"),
                          cv=PerUserShuffleSplit(n_splits=1, test_size=0.3, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        search.fit(X, user_features=features)
    assert search.best_estimator_.neighbors_ is not None
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("mutate, error, match", [
    (lambda f: pd.concat([f, f.iloc[:1]]), ValueError, "duplicate user id"),
    (lambda f: f.set_axis(f.index.astype(str)), ValueError, "holds strings"),
    (lambda f: f.to_numpy(), TypeError, "must be a pandas DataFrame"),
])
def test_bad_user_features(mutate, error, match):
    X, _, features = _data()
    with pytest.raises(error, match=match):
        Popularity().fit(X, user_features=mutate(features))


def test_missing_demographics_are_their_own_category():
    X, _, features = _data()
    features = features.astype({"age": float})
    features.loc[[1, 2], "age"] = np.nan
    features.loc[[3], "gender"] = None
    model = Popularity().fit(X, user_features=features)
    assert np.isfinite(model.neighbors_.data).all()
    assert model.neighbors_[3].nnz > 0

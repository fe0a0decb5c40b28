"""SLIM and RP3Beta against dense brute-force references; RP3Beta's exact partial_fit."""

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet

from sklearn_recs.linear_model import SLIM
from sklearn_recs.neighbors import RP3Beta


# Implicit models get small integer weights on purpose here (counts, or
# ratings read as weights against a reference), which the ratings check flags.
pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:.*y looks like explicit ratings:sklearn_recs.exceptions.DataWarning"),
    pytest.mark.filterwarnings(
        r"ignore:RP3Beta. X has \d+ duplicate:sklearn_recs.exceptions.DataWarning")]


def _data(seed=0, n_users=15, n_items=8, n=60):
    rng = np.random.default_rng(seed)
    pairs = np.unique(np.c_[rng.integers(0, n_users, n), rng.integers(0, n_items, n)], axis=0)
    return pairs, rng.uniform(0.5, 3.0, len(pairs))


def test_slim_columns_are_elastic_net_regressions_without_the_item():
    X, y = _data()
    model = SLIM(alpha=0.01, l1_ratio=0.3, max_iter=10_000, tol=1e-10, dtype="float64",
                 n_jobs=2).fit(X, y)
    R = model.interactions_.toarray()
    coef = model.coef_.toarray()
    for j in range(model.n_items_):
        others = R.copy()
        others[:, j] = 0.0
        reference = ElasticNet(alpha=0.01, l1_ratio=0.3, positive=True, fit_intercept=False,
                               max_iter=10_000, tol=1e-10).fit(others, R[:, j]).coef_
        np.testing.assert_allclose(coef[:, j], reference, atol=1e-6)
    assert (np.diag(coef) == 0).all() and (coef >= 0).all() and coef.any()
    users = model._user_index.get_indexer(X[:, 0])
    items = model._item_index.get_indexer(X[:, 1])
    np.testing.assert_allclose(model.predict(X), (R @ coef)[users, items], atol=1e-10)


_SLIM_EXACT = dict(max_iter=10_000, tol=1e-10, dtype="float64")


def _elastic_net(R, j, features, alpha, l1_ratio):
    """Item j's regression on the columns ``features`` (dense, scikit-learn)."""
    return ElasticNet(alpha=alpha, l1_ratio=l1_ratio, positive=True, fit_intercept=False,
                      max_iter=10_000, tol=1e-10).fit(R[:, features], R[:, j]).coef_


def test_slim_neighbourhoods_are_the_most_co_occurring_items():
    X, y = _data(n_users=40, n_items=14, n=140)
    model = SLIM(alpha=0.01, l1_ratio=0.3, n_neighbors=4, **_SLIM_EXACT).fit(X, y)
    R = model.interactions_.toarray()
    gram = R.T @ R
    coef = model.coef_.toarray()
    assert (model.coef_.getnnz(axis=0) <= 4).all() and coef.any()
    for j in range(model.n_items_):
        candidates = np.flatnonzero((gram[:, j] > 0) & (np.arange(len(gram)) != j))
        features = np.sort(candidates[np.argsort(-gram[candidates, j], kind="stable")[:4]])
        expected = np.zeros(model.n_items_)
        if features.size:
            expected[features] = _elastic_net(R, j, features, 0.01, 0.3)
        np.testing.assert_allclose(coef[:, j], expected, atol=1e-6)


def test_slim_with_every_neighbour_equals_the_unrestricted_model():
    X, y = _data(n_users=40, n_items=14, n=60)  # sparse: some pairs never co-occur
    R = SLIM().fit(X, y).interactions_.toarray()
    assert ((R.T @ R) == 0).any()
    full = SLIM(alpha=0.01, l1_ratio=0.3, **_SLIM_EXACT).fit(X, y)
    restricted = SLIM(alpha=0.01, l1_ratio=0.3, n_neighbors=100, **_SLIM_EXACT).fit(X, y)
    np.testing.assert_allclose(restricted.coef_.toarray(), full.coef_.toarray(), atol=1e-8)


@pytest.mark.parametrize("n_neighbors", [None, 5])
def test_slim_warm_start_reaches_the_same_solution_in_fewer_sweeps(n_neighbors):
    X, y = _data(n_users=40, n_items=14, n=140)
    params = dict(l1_ratio=0.1, n_neighbors=n_neighbors, max_iter=10_000, tol=1e-8,
                  dtype="float64")
    cold = SLIM(alpha=0.02, **params).fit(X, y)
    warm = SLIM(alpha=0.03, warm_start=True, **params).fit(X, y)
    warm.set_params(alpha=0.02).fit(X, y)  # one step of a regularisation path
    np.testing.assert_allclose(warm.coef_.toarray(), cold.coef_.toarray(), atol=1e-5)
    assert warm.n_iter_.sum() < cold.n_iter_.sum()
    assert cold.n_iter_.shape == (cold.n_items_,) and (cold.n_iter_ > 0).all()
    # without warm_start, a second fit starts cold again
    again = SLIM(alpha=0.03, **params).fit(X, y).set_params(alpha=0.02).fit(X, y)
    np.testing.assert_array_equal(again.n_iter_, cold.n_iter_)


def _rp3_dense(R, exponent, beta, n_neighbors, normalize):
    """sim(i, j) by the walk's matrices, each row's n_neighbors largest kept."""
    user_step = (R / R.sum(1, keepdims=True)) ** exponent            # user -> item
    item_step = (R.T / R.sum(0)[:, None]) ** exponent                # item -> user
    sim = item_step @ user_step / R.sum(0)[None, :] ** beta
    np.fill_diagonal(sim, 0.0)
    for row in sim:
        row[np.argsort(-row, kind="stable")[n_neighbors:]] = 0.0
    return sim / sim.sum(1, keepdims=True) if normalize else sim


@pytest.mark.parametrize("exponent, beta, n_neighbors, normalize",
                         [(1.0, 0.6, 100, False), (0.7, 0.3, 3, False), (0.7, 0.3, 3, True)])
def test_rp3beta_equals_the_dense_walk(exponent, beta, n_neighbors, normalize):
    X, y = _data()
    model = RP3Beta(exponent=exponent, beta=beta, n_neighbors=n_neighbors,
                    normalize=normalize).fit(X, y)
    R = model.interactions_.toarray()
    expected = _rp3_dense(R, exponent, beta, n_neighbors, normalize)
    np.testing.assert_allclose(model.similarity_.toarray(), expected, rtol=1e-10, atol=1e-14)
    scores = model.recommend(model.users_, 3, exclude_seen=False, return_scores=True)[1]
    np.testing.assert_allclose(scores, -np.sort(-(R @ expected), axis=1)[:, :3], rtol=1e-10)


@pytest.mark.parametrize("n_neighbors", [100, 4])
def test_rp3beta_partial_fit_equals_fit_on_the_union(n_neighbors):
    X, y = _data(n=80)
    first, later = np.arange(50), np.arange(50, len(X))
    extra = np.array([[0, 2], [0, 30], [40, 1], [40, 30], [41, 5]])  # old user, new items/users
    extra_y = np.array([1.5, 0.7, 2.2, 1.1, 0.9])
    B, B_y = np.r_[X[later], extra, X[first[:3]]], np.r_[y[later], extra_y, y[first[:3]]]
    params = dict(exponent=0.8, beta=0.5, n_neighbors=n_neighbors)
    updated = RP3Beta(**params).fit(X[first], y[first]).partial_fit(B, B_y)
    full = RP3Beta(**params).fit(np.r_[X[first], B], np.r_[y[first], B_y])
    np.testing.assert_array_equal(updated.users_, full.users_)
    np.testing.assert_array_equal(updated.items_, full.items_)
    np.testing.assert_allclose(updated.interactions_.toarray(), full.interactions_.toarray())
    np.testing.assert_allclose(updated.similarity_.toarray(), full.similarity_.toarray(),
                               rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(updated.recommend(full.users_, 5),
                                  full.recommend(full.users_, 5))
    np.testing.assert_array_equal(updated._popularity, full._popularity)


def test_rp3beta_partial_fit_checks_its_input():
    X = np.array([[0, 1], [1, 2], [0, 2]])  # the first call on an unfitted model fits
    np.testing.assert_allclose(RP3Beta().partial_fit(X).similarity_.toarray(),
                               RP3Beta().fit(X).similarity_.toarray())
    model = RP3Beta().fit(np.array([[0, 1], [1, 2]]))
    with pytest.raises(TypeError, match="numeric"):
        model.partial_fit(np.array([["a", "b"]], dtype=object))
    with pytest.raises(ValueError, match="y"):
        model.partial_fit(np.array([[0, 1]]), [-1.0])

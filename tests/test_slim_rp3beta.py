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

"""ImplicitALS against a dense closed-form reference (Hu, Koren and Volinsky's normal equations)."""

import numpy as np
import pytest
from sklearn.utils import check_random_state

from sklearn_recs.decomposition import ImplicitALS


def _data(seed=0, n_users=12, n_items=9, n=50):
    rng = np.random.default_rng(seed)
    pairs = np.unique(np.c_[rng.integers(0, n_users, n), rng.integers(0, n_items, n)], axis=0)
    return pairs, rng.uniform(0.5, 3.0, len(pairs))


def _closed_form(R, fixed, alpha, scale, confidence):
    """Row u: (Y^T C_u Y + alpha I)^-1 Y^T C_u p_u, with dense C and p."""
    c = 1 + scale * (R if confidence == "linear" else np.log1p(R))
    p = (R > 0).astype(float)
    out = np.empty((R.shape[0], fixed.shape[1]))
    for u in range(R.shape[0]):
        A = fixed.T @ (c[u, :, None] * fixed) + alpha * np.eye(fixed.shape[1])
        out[u] = np.linalg.solve(A, fixed.T @ (c[u] * p[u]))
    return out


@pytest.mark.parametrize("confidence", ["linear", "log"])
def test_one_iteration_equals_closed_form(confidence):
    X, y = _data()
    f, alpha, scale = 3, 0.5, 2.0
    model = ImplicitALS(n_factors=f, alpha=alpha, confidence=confidence, confidence_scale=scale,
                        max_iter=1, cg_steps=f, random_state=0).fit(X, y)
    R = model.interactions_.toarray()
    rng = check_random_state(0)
    rng.standard_normal((model.n_users_, f))
    items0 = (rng.standard_normal((model.n_items_, f)) * 0.01).astype(np.float32)
    users1 = _closed_form(R, items0.astype(float), alpha, scale, confidence)
    np.testing.assert_allclose(model.user_factors_, users1, rtol=2e-3, atol=1e-5)
    items1 = _closed_form(R.T, model.user_factors_.astype(float), alpha, scale, confidence)
    np.testing.assert_allclose(model.item_factors_, items1, rtol=2e-3, atol=1e-5)


def test_threads_give_the_same_model():
    X, y = _data(n_users=700, n_items=40, n=3000)
    one = ImplicitALS(n_factors=4, random_state=0).fit(X, y)
    two = ImplicitALS(n_factors=4, random_state=0, n_jobs=2).fit(X, y)
    np.testing.assert_allclose(one.user_factors_, two.user_factors_, rtol=1e-4, atol=1e-6)


def test_partial_fit_solves_touched_users_exactly():
    X, y = _data()
    model = ImplicitALS(n_factors=3, alpha=0.5, random_state=0).fit(X, y)
    new = np.array([[0, 3], [100, 1], [100, 2], [101, 50], [5, 50]])
    model.partial_fit(new)
    assert 100 in model.users_ and 50 in model.items_
    assert list(model.users_) == sorted(model.users_)
    R = model.interactions_.toarray()
    assert R[model._user_index.get_loc(0), model._item_index.get_loc(3)] >= 1
    touched = model._user_index.get_indexer([0, 5, 100, 101])
    expected = _closed_form(R, model.item_factors_.astype(float), 0.5, 5.0, "linear")
    np.testing.assert_allclose(model.user_factors_[touched], expected[touched],
                               rtol=2e-3, atol=1e-5)
    assert model.recommend([100], 3).shape == (1, 3)


def test_first_partial_fit_is_fit():
    X = np.array([[0, 1], [1, 2], [0, 2], [2, 0]])
    np.testing.assert_array_equal(ImplicitALS(random_state=0).partial_fit(X).item_factors_,
                                  ImplicitALS(random_state=0).fit(X).item_factors_)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_overflow_is_a_clear_error():
    X, _ = _data()
    with pytest.raises(FloatingPointError, match="confidence='log'"):
        ImplicitALS(n_factors=2, confidence_scale=1e30, random_state=0).fit(
            X, np.full(len(X), 1e14))


def _fold_in_scores(model, users, rows, weights=None):
    """Scores of every item for ``users`` folded in from ``rows`` (no exclusion), by item id."""
    ids, scores = model.recommend(users, model.n_items_, exclude_seen=False, return_scores=True,
                                  interactions=rows, interactions_y=weights)
    order = np.argsort(ids, axis=1)
    return np.take_along_axis(ids, order, 1), np.take_along_axis(scores, order, 1)


@pytest.mark.parametrize("confidence", ["linear", "log"])
def test_fold_in_equals_closed_form(confidence):
    X, y = _data()
    alpha, scale = 0.5, 2.0
    model = ImplicitALS(n_factors=4, alpha=alpha, confidence=confidence, confidence_scale=scale,
                        max_iter=3, random_state=0).fit(X, y)
    rows = np.array([[100, 1], [100, 4], [100, 4], [101, 0], [101, 2], [101, 7], [3, 5]])
    weights = np.array([1.0, 2.0, 0.5, 3.0, 1.0, 1.0, 2.0])
    R = np.zeros((3, model.n_items_))  # users 3, 100, 101; duplicate weights summed
    np.add.at(R, (np.searchsorted([3, 100, 101], rows[:, 0]),
                  model._item_index.get_indexer(rows[:, 1])), weights)
    Y = model.item_factors_.astype(float)
    expected = _closed_form(R, Y, alpha, scale, confidence) @ Y.T
    ids, scores = _fold_in_scores(model, [101, 3, 100], rows, weights)
    np.testing.assert_array_equal(ids, np.tile(model.items_, (3, 1)))
    np.testing.assert_allclose(scores, expected[[2, 0, 1]], rtol=2e-3, atol=1e-5)
    # the model is unchanged: user 3 keeps its learned factors
    np.testing.assert_allclose(model.predict(np.c_[[3, 3], [1, 2]]),
                               model.user_factors_[3] @ model.item_factors_[[1, 2]].T, rtol=1e-6)


def test_fold_in_equals_partial_fit_given_the_final_items():
    """partial_fit's last step re-solves each touched user exactly against the final
    item factors: fold-in from that user's full rows gives the same scores."""
    X, y = _data()
    model = ImplicitALS(n_factors=3, alpha=0.5, random_state=0).fit(X, y)
    new = np.array([[0, 3], [100, 1], [100, 2], [100, 5]])
    model.partial_fit(new)
    user0 = np.r_[X[X[:, 0] == 0], [[0, 3]]]
    weights0 = np.r_[y[X[:, 0] == 0], 1.0]
    rows = np.r_[user0, new[1:]]
    weights = np.r_[weights0, np.ones(3)]
    _, folded = _fold_in_scores(model, [0, 100], rows, weights)
    _, learned = _fold_in_scores(model, [0, 100], None)
    np.testing.assert_allclose(folded, learned, rtol=2e-3, atol=1e-5)


def test_fold_in_excludes_the_given_items_and_warns_on_unknown_items():
    X, y = _data()
    model = ImplicitALS(n_factors=3, random_state=0).fit(X, y)
    with pytest.warns(UserWarning, match="unseen at fit"):
        ids, scores = model.recommend([100], 20, interactions=[[100, 1], [100, 2], [100, 999]],
                                      return_scores=True)
    kept = ids[0][np.isfinite(scores[0])]
    assert len(kept) == model.n_items_ - 2 and not {1, 2} & set(kept)

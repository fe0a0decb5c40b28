"""EASE and SparseEASE against direct least-squares solves, and their error handling."""

import numpy as np
import pytest

from sklearn_recs import linear_model
from sklearn_recs.linear_model import EASE, SparseEASE


# Implicit models get small integer weights on purpose here (counts, or
# ratings read as weights against a reference), which the ratings check flags.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*y looks like explicit ratings:sklearn_recs.exceptions.DataWarning")

N_USERS, N_ITEMS = 40, 16


@pytest.fixture(scope="module")
def weighted():
    """Random interactions with count-like weights; every item has a row."""
    rng = np.random.default_rng(7)
    mask = rng.random((N_USERS, N_ITEMS)) < 0.35
    mask[np.arange(N_USERS), np.arange(N_USERS) % N_ITEMS] = True
    users, items = np.nonzero(mask)
    weights = rng.integers(1, 5, size=len(users)).astype(float)
    dense = np.zeros((N_USERS, N_ITEMS))
    dense[users, items] = weights
    return np.column_stack([users, items]), weights, dense


def _ridge_column(dense, j, columns, alpha):
    """``argmin ||x_j - X[:, columns] b||^2 + alpha ||b||^2`` by least squares.

    Solved on the augmented system ``[X_c; sqrt(alpha) I] b = [x_j; 0]``,
    independently of any Gram matrix or closed form.
    """
    design = np.vstack([dense[:, columns], np.sqrt(alpha) * np.eye(len(columns))])
    target = np.concatenate([dense[:, j], np.zeros(len(columns))])
    return np.linalg.lstsq(design, target, rcond=None)[0]


@pytest.mark.parametrize("use_weights", [False, True])
def test_ease_columns_solve_their_constrained_ridge(weighted, use_weights):
    X, weights, dense = weighted
    if not use_weights:
        dense = (dense > 0).astype(float)
    alpha = 3.0
    model = EASE(alpha=alpha, dtype="float64").fit(X, weights if use_weights else None)
    assert model.coef_.dtype == np.float64
    np.testing.assert_array_equal(np.diag(model.coef_), 0.0)
    for j in range(N_ITEMS):
        others = np.delete(np.arange(N_ITEMS), j)
        expected = _ridge_column(dense, j, others, alpha)
        np.testing.assert_allclose(model.coef_[others, j], expected, rtol=1e-9, atol=1e-12)
    # KKT: the gradient X^T (X - X B) - alpha B vanishes off the diagonal,
    # where the zero-diagonal constraint's multipliers sit.
    gradient = dense.T @ (dense - dense @ model.coef_) - alpha * model.coef_
    np.testing.assert_allclose(gradient - np.diag(np.diag(gradient)), 0.0, atol=1e-9)


def test_ease_float32_matches_float64(weighted):
    X, weights, _ = weighted
    exact = EASE(alpha=5.0, dtype="float64").fit(X, weights).coef_
    single = EASE(alpha=5.0).fit(X, weights).coef_
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, exact, atol=1e-5)


def test_scores_predict_recommend_and_similar_items_follow_coef(weighted):
    X, weights, dense = weighted
    for model in (EASE(alpha=2.0, dtype="float64"), SparseEASE(alpha=2.0, n_neighbors=6,
                                                                dtype="float64")):
        model.fit(X, weights)
        coef = model.coef_.toarray() if hasattr(model.coef_, "toarray") else model.coef_
        scores = dense @ coef
        users, items = np.meshgrid(np.arange(N_USERS), np.arange(N_ITEMS), indexing="ij")
        pred = model.predict(np.column_stack([users.ravel(), items.ravel()]))
        np.testing.assert_allclose(pred, scores.ravel(), atol=1e-10)
        recommended, top = model.recommend(np.arange(N_USERS), top_n=3, return_scores=True)
        unseen = np.where(dense > 0, -np.inf, scores)
        np.testing.assert_allclose(top, -np.sort(-unseen, axis=1)[:, :3], atol=1e-10)
        np.testing.assert_allclose(np.take_along_axis(unseen, recommended, axis=1), top,
                                   atol=1e-10)
        # The whole catalogue (SparseEASE: the sparse product path) and an
        # explicit candidate list (the dense path) rank alike.
        np.testing.assert_array_equal(
            recommended, model.recommend(np.arange(N_USERS), top_n=3, items=model.items_))
        similar, similarity = model.similar_items([0, 5], top_n=4, return_scores=True)
        rows = np.where(np.eye(N_ITEMS, dtype=bool)[[0, 5]], -np.inf, coef[[0, 5]])
        np.testing.assert_allclose(similarity, -np.sort(-rows, axis=1)[:, :4], atol=1e-12)


@pytest.mark.parametrize("use_weights", [False, True])
def test_sparse_ease_with_every_neighbour_is_exact_ease(weighted, use_weights):
    X, weights, _ = weighted
    y = weights if use_weights else None
    exact = EASE(alpha=4.0, dtype="float64").fit(X, y).coef_
    sparse = SparseEASE(alpha=4.0, n_neighbors=N_ITEMS - 1, dtype="float64").fit(X, y).coef_
    np.testing.assert_allclose(sparse.toarray(), exact, rtol=1e-10, atol=1e-12)


def _reference_neighbourhood(gram, j, k):
    """Top-k co-occurring items of j (ties: lower id), then the most popular others."""
    cooc = gram[j].copy()
    cooc[j] = 0
    ranked = [a for a in np.lexsort((np.arange(len(cooc)), -cooc)) if cooc[a] > 0][:k]
    popular = np.lexsort((np.arange(len(cooc)), -np.diag(gram)))
    ranked += [a for a in popular if a != j and a not in ranked][: k - len(ranked)]
    return np.array(ranked)


def test_sparse_ease_columns_solve_ridge_on_their_neighbourhood(weighted):
    X, weights, dense = weighted
    k, alpha = 4, 2.0
    model = SparseEASE(alpha=alpha, n_neighbors=k, dtype="float64").fit(X, weights)
    coef = model.coef_.toarray()
    gram = dense.T @ dense
    for j in range(N_ITEMS):
        neighbourhood = _reference_neighbourhood(gram, j, k)
        expected = np.zeros(N_ITEMS)
        expected[neighbourhood] = _ridge_column(dense, j, neighbourhood, alpha)
        np.testing.assert_allclose(coef[:, j], expected, rtol=1e-9, atol=1e-12)
    assert (model.coef_.getnnz(axis=0) <= k).all()


@pytest.mark.parametrize("continuous", [False, True])
def test_sparse_ease_float32_against_a_float64_reference_solve(continuous):
    """The default float32 path (one compiled loop over the items, LAPACK's
    float32 Cholesky) against float64 solves of each neighbourhood's normal
    equations, on a catalogue with long co-occurrence rows."""
    rng = np.random.default_rng(11)
    mask = rng.random((300, 90)) < rng.uniform(0.05, 0.4, size=90)
    users, items = np.nonzero(mask)
    weights = rng.uniform(1, 3, len(users)) if continuous else np.ones(len(users))
    dense = np.zeros(mask.shape)
    dense[users, items] = weights
    k, alpha = 25, 30.0
    model = SparseEASE(alpha=alpha, n_neighbors=k).fit(np.column_stack([users, items]), weights)
    assert model.coef_.dtype == np.float32
    coef = model.coef_.toarray()
    gram = dense.T @ dense
    for j in range(mask.shape[1]):
        # (Continuous weights: the float32 co-occurrences may reorder near-ties.)
        neighbourhood = np.flatnonzero(coef[:, j]) if continuous else \
            _reference_neighbourhood(gram, j, k)
        assert len(neighbourhood) == k
        expected = np.linalg.solve(gram[np.ix_(neighbourhood, neighbourhood)] + alpha * np.eye(k),
                                   gram[neighbourhood, j])
        np.testing.assert_allclose(coef[neighbourhood, j], expected, rtol=1e-3, atol=1e-5)


def test_sparse_ease_approaches_exact_as_neighbourhoods_grow(weighted):
    X, weights, dense = weighted
    exact = dense @ EASE(alpha=20.0, dtype="float64").fit(X, weights).coef_
    errors = [np.linalg.norm(dense @ SparseEASE(alpha=20.0, n_neighbors=k, dtype="float64")
                             .fit(X, weights).coef_ - exact) / np.linalg.norm(exact)
              for k in (2, 6, 12, 14, N_ITEMS - 1)]
    assert all(a > b for a, b in zip(errors, errors[1:]))
    assert errors[-2] < 0.5 * errors[0] and errors[-1] < 1e-12


def test_gram_lookup_of_a_large_catalogue(monkeypatch):
    """Beyond the head of popular items, the Gram entries are looked up among
    each item's 2 x n_neighbors largest co-occurrences (either item's); the
    others count as 0."""
    n_head = 20
    monkeypatch.setattr(linear_model, "_HEAD_ITEMS", n_head)
    rng = np.random.default_rng(3)
    # Continuous weights: no ties among co-occurrences at the pruning cut.
    dense = (rng.random((200, 60)) < 0.3) * rng.uniform(1, 2, size=(200, 60))
    X = np.column_stack(np.nonzero(dense))
    k, alpha = 10, 10.0
    coef = SparseEASE(alpha=alpha, n_neighbors=k, dtype="float64").fit(
        X, dense[dense > 0]).coef_.toarray()
    gram = dense.T @ dense
    kept = np.argsort(-np.where(np.eye(60, dtype=bool), -1, gram), axis=1)[:, : 2 * k]
    known = np.zeros_like(gram, dtype=bool)
    known[np.repeat(np.arange(60), 2 * k), kept.ravel()] = True
    head = np.argsort(-np.diag(gram), kind="stable")[:n_head]
    known[np.ix_(head, head)] = True
    lookup = np.where(known | known.T | np.eye(60, dtype=bool), gram, 0.0)
    assert (lookup != gram).any()
    for j in range(60):
        neighbourhood = _reference_neighbourhood(gram, j, k)
        rows = np.ix_(neighbourhood, neighbourhood)
        expected = np.linalg.solve(lookup[rows] + alpha * np.eye(k), gram[neighbourhood, j])
        # The co-occurrences are float32 (exact for counts, not for these weights).
        np.testing.assert_allclose(coef[neighbourhood, j], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", [EASE(), SparseEASE(n_neighbors=5)])
def test_deterministic(weighted, model):
    X, weights, _ = weighted
    first = model.fit(X, weights).coef_.copy()
    second = model.fit(X[::-1], weights[::-1]).coef_
    diff = first - second
    assert abs(diff).max() == 0


@pytest.mark.parametrize("estimator", [EASE, SparseEASE])
@pytest.mark.parametrize("alpha", [0, -1.0])
def test_alpha_must_be_positive(weighted, estimator, alpha):
    X, _, _ = weighted
    with pytest.raises(ValueError, match=r"'alpha' parameter of \w+ must be a float in the "
                                         r"range \(0.0, inf\)"):
        estimator(alpha=alpha).fit(X)


def test_bad_dtype_and_neighbourhood(weighted):
    X, _, _ = weighted
    with pytest.raises(ValueError, match="'dtype' parameter of EASE must be a str among"):
        EASE(dtype="float16").fit(X)
    with pytest.raises(ValueError, match="'n_neighbors' parameter of SparseEASE"):
        SparseEASE(n_neighbors=0).fit(X)


def test_negative_weights_are_rejected(weighted):
    X, weights, _ = weighted
    with pytest.raises(ValueError, match="negative"):
        EASE().fit(X, -weights)


def test_too_large_catalogue_raises_before_allocating(weighted, monkeypatch):
    X, _, _ = weighted

    def no_allocation(*args, **kwargs):  # pragma: no cover - must not run
        raise AssertionError("the dense Gram matrix was allocated")

    monkeypatch.setattr(linear_model, "_gram", no_allocation)
    model = EASE(max_memory=1e-9)
    with pytest.raises(MemoryError) as error:
        model.fit(X)
    message = str(error.value)
    assert f"{N_ITEMS} items need 0.0 GiB (a dense {N_ITEMS} x {N_ITEMS} float32 matrix" in message
    assert "max_memory=1e-09" in message and "SparseEASE" in message
    assert not hasattr(model, "coef_")


def test_memory_estimate_names_the_bytes():
    """50k items in float32: the matrix, 50_000^2 * 4 bytes, and a block of
    50_000 x 1563 columns (1/32) at 20 bytes an entry: 10.8 GiB."""
    X = np.column_stack([np.zeros(50_000, dtype=int), np.arange(50_000)])
    assert (50_000**2 * 4 + 50_000 * 1563 * 20) / 2**30 == pytest.approx(10.77, abs=0.01)
    with pytest.raises(MemoryError, match=r"need 10\.8 GiB .*, more than the 1\.0 GiB allowed"):
        EASE(max_memory=1.0).fit(X)


def test_ml100k_accuracy(data_home):
    """Exact EASE reaches the issue's NDCG@10; SparseEASE keeps >= 95% of it."""
    from sklearn_recs.datasets import fetch_movielens
    from sklearn_recs.metrics import make_ranking_scorer
    from sklearn_recs.model_selection import train_test_split

    X = fetch_movielens("100k", data_home=data_home).data[["user_id", "item_id"]]
    X_train, X_test = train_test_split(X, test_size=0.2, random_state=42)
    scorer = make_ranking_scorer("ndcg", k=10)
    exact = scorer(EASE(alpha=500).fit(X_train), X_test)
    sparse = scorer(SparseEASE(alpha=500, n_neighbors=200).fit(X_train), X_test)
    assert exact >= 0.445
    assert sparse >= 0.95 * exact


def test_partial_fit_checks_memory_before_changing_the_model(monkeypatch):
    """The update holds a second dense matrix beside coef_: 10 items fit in 1000
    bytes (400 + 10 x 1 block entries of 20 bytes), 12 items do not beside the
    400 bytes of coef_ (576 + 240 + 400)."""
    X = np.column_stack([np.arange(20) % 4, np.arange(20) % 10])
    model = EASE(alpha=1.0, max_memory=1000 / 2**30).fit(X)
    coef = model.coef_.copy()

    def no_allocation(*args, **kwargs):  # pragma: no cover - must not run
        raise AssertionError("the grown inverse was allocated")

    monkeypatch.setattr(linear_model, "_precision", no_allocation)
    with pytest.raises(MemoryError) as error:
        model.partial_fit([[0, 10], [1, 11]])
    message = str(error.value)
    assert "EASE.partial_fit: 12 items need 0.0 GiB (a dense 12 x 12 float32 matrix" in message
    assert "left of max_memory=" in message and "Fit a new EASE" in message
    np.testing.assert_array_equal(model.items_, np.arange(10))
    np.testing.assert_array_equal(model.coef_, coef)
    monkeypatch.undo()
    model.set_params(max_memory=(1216 + 1) / 2**30).partial_fit([[0, 10], [1, 11]])
    assert model.coef_.shape == (12, 12)

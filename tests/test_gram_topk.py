"""The upper-triangle top-k of a Gram matrix against a brute-force dense computation."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_recs.neighbors import ItemKNN, UserKNN
from sklearn_recs.utils._gram_topk import gram_topk
from sklearn_recs.utils._similarity import pairwise_similarity


def _brute_topk(x, k):
    """Each row's k largest positive off-diagonal entries of x @ x.T, ties by lower column."""
    gram = (x.astype(np.float64) @ x.T.astype(np.float64)).toarray()
    np.fill_diagonal(gram, 0.0)
    n = gram.shape[0]
    expected = np.zeros_like(gram)
    for row in range(n):
        order = np.lexsort((np.arange(n), -gram[row]))[:k]
        order = order[gram[row, order] > 0]
        expected[row, order] = gram[row, order]
    return expected


def _random(n_rows, n_columns, density, seed, binary):
    x = sp.random(n_rows, n_columns, density=density, random_state=seed, format="csr",
                  dtype=np.float32)
    if binary:  # integer products: many exact ties
        x.data[:] = 1.0
    else:  # some negative entries: negative products must never be kept
        x.data -= 0.2
    return x


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("dense_share", [0.0, 0.3, 2.0])  # all dense, split, all sparse
@pytest.mark.parametrize("working_memory, n_jobs", [(1.0, None), (2e-4, None), (2e-4, 2)])
def test_gram_topk_equals_the_brute_force_top_k(binary, dense_share, working_memory, n_jobs):
    rng = np.random.default_rng(0)
    for seed in range(4):
        n_rows = int(rng.integers(20, 90))
        x = _random(n_rows, int(rng.integers(5, 40)), 0.25, seed, binary)
        k = int(rng.integers(1, n_rows - 1))
        got = gram_topk(x, k, dense_share=dense_share, working_memory=working_memory,
                        n_jobs=n_jobs)
        expected = _brute_topk(x, k)
        assert got.has_sorted_indices and got.dtype == np.float32
        # The same entries (ties broken alike), the same values up to float32 sums.
        np.testing.assert_array_equal(got.toarray() > 0, expected > 0)
        np.testing.assert_allclose(got.toarray(), expected, rtol=1e-5, atol=1e-6)


def test_a_row_with_fewer_positive_entries_than_k_keeps_them_all():
    x = sp.csr_matrix(np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32))
    got = gram_topk(x, 2, dense_share=0.5, working_memory=1.0).toarray()
    np.testing.assert_array_equal(got, [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("kernel", ["cosine", "dot"])
@pytest.mark.parametrize("amplification", [1.0, 2.5])
def test_pruned_inner_products_equal_the_full_computation_pruned(monkeypatch, kernel,
                                                                  amplification):
    # The upper-triangle path (n_neighbors given) against the full blocks of
    # the general path (n_neighbors=None), pruned here.
    x = _random(70, 30, 0.2, 7, binary=False)
    full = pairwise_similarity(x, kernel=kernel, amplification=amplification).toarray()
    for k in (1, 5, 30):
        expected = np.zeros_like(full)
        for row in range(len(full)):
            top = np.lexsort((np.arange(len(full)), -full[row]))[:k]
            expected[row, top] = full[row, top]
        got = pairwise_similarity(x, kernel=kernel, n_neighbors=k, amplification=amplification,
                                  working_memory=1e-4)
        np.testing.assert_array_equal(got.toarray() > 0, expected > 0)
        np.testing.assert_allclose(got.toarray(), expected, rtol=1e-5)


@pytest.mark.parametrize("model_cls", [ItemKNN, UserKNN])
def test_implicit_knn_keeps_each_rows_top_cosines(model_cls):
    rng = np.random.default_rng(3)
    weights = np.where(rng.random((60, 45)) < 0.2, rng.uniform(0.5, 3.0, (60, 45)), 0.0)
    users, items = np.nonzero(weights)
    X = np.column_stack([users, items])
    # (real-valued weights: no ties at the cut)
    model = model_cls(feedback="implicit", weighting=None, n_neighbors=4).fit(
        X, weights[users, items])
    entities = sp.csr_matrix(weights.T if model_cls is ItemKNN else weights)
    norms = np.sqrt(entities.multiply(entities).sum(axis=1)).A.ravel()
    unit = sp.diags(1 / np.where(norms > 0, norms, 1)) @ entities
    np.testing.assert_allclose(model.similarity_.toarray(), _brute_topk(unit.tocsr(), 4),
                               rtol=1e-5, atol=1e-6)

"""topk_sparse_product against topk of the dense product."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_recs.utils import _sparse_topk
from sklearn_recs.utils._sparse_topk import topk_sparse_product
from sklearn_recs.utils._topk import topk


def _random_factors(seed, n_rows=60, n_inner=30, n_columns=80, signed=False):
    rng = np.random.default_rng(seed)
    # Small integers: many ties, which must be broken by column index.
    rows = sp.random(n_rows, n_inner, density=0.15, random_state=rng,
                     data_rvs=lambda n: rng.integers(1, 3, n).astype(float), format="csr")
    rows = rows.multiply(np.arange(n_rows)[:, None] > 0).tocsr()  # row 0: no interactions
    low = -2 if signed else 1
    matrix = sp.random(n_inner, n_columns, density=0.2, random_state=rng,
                       data_rvs=lambda n: rng.integers(low, 4, n).astype(float), format="csr")
    exclude = sp.random(n_rows, n_columns, density=0.1, random_state=rng, format="csr")
    exclude = sp.vstack([exclude[:1], np.ones((1, n_columns)), exclude[2:]]).tocsr()
    # (row 1 has seen everything)
    return rows, matrix, exclude


def _dense_reference(rows, matrix, k, exclude=None):
    scores = (rows @ matrix).toarray()
    if exclude is not None:
        scores[exclude.toarray() != 0] = -np.inf
    return topk(scores, k)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 5, 40])
@pytest.mark.parametrize("with_exclusions", [False, True])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("dense_share", [0.25, 1.0])
def test_equals_topk_of_the_dense_product(monkeypatch, seed, k, with_exclusions, signed,
                                          dense_share):
    # dense_share=1: every block takes the sparse path.
    monkeypatch.setattr(_sparse_topk, "_DENSE_SHARE", dense_share)
    rows, matrix, exclude = _random_factors(seed, signed=signed)
    exclude = exclude if with_exclusions else None
    expected = _dense_reference(rows, matrix, k, exclude)
    got = topk_sparse_product(rows, matrix, k, exclude=exclude)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("working_memory", [1e-4, 1e-2])
def test_blocks_and_grouped_search_give_the_same_ranking(monkeypatch, working_memory):
    # Groups of 4 entries: the bound from the group maxima prunes the rows.
    monkeypatch.setattr(_sparse_topk, "_GROUP", 4)
    monkeypatch.setattr(_sparse_topk, "_DENSE_SHARE", 1.0)
    rng = np.random.default_rng(0)
    rows = sp.random(50, 40, density=0.3, random_state=rng, format="csr")
    matrix = sp.random(40, 300, density=0.3, random_state=rng, format="csr")
    matrix.data = np.round(matrix.data * 4)  # ties
    matrix.eliminate_zeros()
    exclude = sp.random(50, 300, density=0.05, random_state=rng, format="csr")
    expected = _dense_reference(rows, matrix, 3, exclude)
    got = topk_sparse_product(rows, matrix, 3, exclude=exclude, working_memory=working_memory)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_threads_give_the_same_ranking(monkeypatch):
    monkeypatch.setattr(_sparse_topk, "_DENSE_SHARE", 1.0)
    rows, matrix, exclude = _random_factors(0)
    one = topk_sparse_product(rows, matrix, 5, exclude=exclude, working_memory=1e-3)
    two = topk_sparse_product(rows, matrix, 5, exclude=exclude, working_memory=1e-3, n_jobs=-1)
    np.testing.assert_array_equal(two[0], one[0])
    np.testing.assert_array_equal(two[1], one[1])

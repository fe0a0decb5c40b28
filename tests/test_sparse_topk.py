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
@pytest.mark.parametrize("k", [1, 5, 40, 80])
@pytest.mark.parametrize("with_exclusions", [False, True])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("dense_share", [0.0, 1e9])
def test_equals_topk_of_the_dense_product(monkeypatch, seed, k, with_exclusions, signed,
                                          dense_share):
    # k=80: whole rows, so the zeros, negatives and -inf slots are ranked too.
    # dense_share: every row scans all columns (0) or lists those it reached (1e9).
    monkeypatch.setattr(_sparse_topk, "_DENSE_SHARE", dense_share)
    rows, matrix, exclude = _random_factors(seed, signed=signed)
    exclude = exclude if with_exclusions else None
    expected = _dense_reference(rows, matrix, k, exclude)
    got = topk_sparse_product(rows, matrix, k, exclude=exclude)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("k", [1, 10, 32, 33, 60])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("insertion_k", [32, 0])
def test_rows_scanning_every_column_by_blocks(monkeypatch, k, signed, insertion_k):
    # 1,000 columns: 32 blocks of _BLOCK, so the blocks' maxima set a floor for
    # every k up to 32 and k = 33, 60 scan every block; the best are kept
    # sorted by insertion up to insertion_k, by a heap above (insertion_k=0:
    # always). Many ties across block bounds.
    monkeypatch.setattr(_sparse_topk, "_DENSE_SHARE", 0.0)
    monkeypatch.setattr(_sparse_topk, "_INSERTION_K", insertion_k)
    rows, matrix, exclude = _random_factors(k, n_inner=60, n_columns=1000, signed=signed)
    expected = _dense_reference(rows, matrix, k, exclude)
    got = topk_sparse_product(rows, matrix, k, exclude=exclude)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scores_are_the_floats_of_scipys_product(dtype):
    # Random reals: the sums must be the same floats, in the product's dtype.
    rng = np.random.default_rng(0)
    rows = sp.random(50, 40, density=0.3, random_state=rng, format="csr", dtype=dtype)
    matrix = sp.random(40, 300, density=0.3, random_state=rng, format="csr", dtype=dtype)
    exclude = sp.random(50, 300, density=0.05, random_state=rng, format="csr")
    expected = _dense_reference(rows, matrix, 7, exclude)
    got = topk_sparse_product(rows, matrix, 7, exclude=exclude)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_threads_give_the_same_ranking(monkeypatch):
    monkeypatch.setattr(_sparse_topk, "_ROWS_PER_TASK", 7)  # several tasks per thread
    rows, matrix, exclude = _random_factors(0)
    one = topk_sparse_product(rows, matrix, 5, exclude=exclude)
    two = topk_sparse_product(rows, matrix, 5, exclude=exclude, n_jobs=-1)
    np.testing.assert_array_equal(two[0], one[0])
    np.testing.assert_array_equal(two[1], one[1])


@pytest.mark.parametrize("k", [1, 3, 7, 50])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_top_positive_against_a_full_sort(k, dtype):
    # Small integers (many ties, broken by column), negatives and zeros, rows
    # with fewer than k positives; long rows cut the buffer many times.
    rng = np.random.default_rng(k)
    dense = rng.integers(-3, 6, size=(30, 400)).astype(dtype)
    dense[:5] = np.minimum(dense[:5], 0)
    dense[5, :3] = 1
    columns, values = _sparse_topk.top_positive(dense, k)
    for row, entries in enumerate(dense):
        positive = np.flatnonzero(entries > 0)
        best = positive[np.lexsort((positive, -entries[positive]))][:k]
        expected = np.full(k, -1)
        expected[:len(best)] = best
        np.testing.assert_array_equal(columns[row], expected)
        np.testing.assert_array_equal(values[row][:len(best)], entries[best])
        assert not values[row][len(best):].any()
    assert values.dtype == dtype

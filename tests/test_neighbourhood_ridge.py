"""SparseEASE's compiled kernels against brute force: the Gram matrix, the
neighbour selection and the Cholesky solve (LAPACK called from numba)."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_recs.utils import _neighbourhood_ridge as ridge


def _reference_top(row, skip, width):
    """Columns of the ``width`` largest positive entries (ties: lower column), in column order."""
    candidates = [c for c in np.lexsort((np.arange(len(row)), -row))
                  if row[c] > 0 and c != skip]
    return np.sort(candidates[:width])


def _top(row, skip, width):
    n = len(row)
    out = np.full(width, -1, dtype=np.intp)
    size = ridge._top_positive(row.view(np.uint32), skip, width, np.empty(ridge._N_BINS, np.int64),
                               np.empty(n, np.uint32), np.empty(n, np.uint32), out)
    return out[:size]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("width", [1, 3, 10, 39, 60])
def test_top_positive_against_a_sort(seed, width):
    rng = np.random.default_rng(seed)
    n = 60
    rows = [
        rng.integers(-2, 4, n).astype(np.float32),  # small counts: ties across bins
        # Values within one bin (1.0 .. 1.001): the ranking inside the edge bin.
        ((1 + rng.integers(0, 5, n) * 1e-4) * rng.integers(0, 2, n)).astype(np.float32),
        rng.normal(size=n).astype(np.float32),
        np.where(rng.random(n) < 0.9, 0, rng.random(n)).astype(np.float32),  # few positives
        np.array([np.inf, np.nan, 3e-45, -0.0] + [1.0] * (n - 4), dtype=np.float32),
    ]
    for row in rows:
        assert row.dtype == np.float32
        for skip in (0, 7, n - 1):
            np.testing.assert_array_equal(_top(row, skip, width),
                                          _reference_top(row, skip, width))


def test_scatter_gram_is_the_dense_product():
    rng = np.random.default_rng(0)
    X = sp.random(50, 30, density=0.3, random_state=rng, format="csr", dtype=np.float32,
                  data_rvs=lambda k: rng.integers(1, 5, k))
    gram = np.zeros((30, 30), dtype=np.float32)
    ridge.scatter_gram(X.indptr, X.indices, X.data, gram)
    np.testing.assert_array_equal(gram, (X.T @ X).toarray())  # (small integers: exact)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cholesky_solve_each_solves_and_reports_the_failing_minor(dtype):
    rng = np.random.default_rng(1)
    factors = rng.normal(size=(4, 6, 8))
    matrices = factors @ factors.transpose(0, 2, 1) + np.eye(6)
    rhs = rng.normal(size=(4, 6))
    # Only the lower triangles are read: garbage above them changes nothing.
    lhs = (np.tril(matrices) + np.triu(np.full((6, 6), 1e3), 1)).astype(dtype)
    solutions = rhs.astype(dtype)
    assert ridge.cholesky_solve_each(lhs, solutions) == 0
    np.testing.assert_allclose(solutions, np.linalg.solve(matrices, rhs[..., None])[..., 0],
                               rtol=1e-3 if dtype == np.float32 else 1e-10)
    indefinite = np.diag([2.0, 1.0, -1.0, 3.0]).astype(dtype)[None]
    assert ridge.cholesky_solve_each(indefinite, np.ones((1, 4), dtype=dtype)) == 3

"""``topk_shared`` and the popularity ranking that uses it, against dense ``topk``."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_recs.baselines import Popularity
from sklearn_recs.exceptions import DataWarning
from sklearn_recs.utils._topk import topk, topk_shared


@pytest.mark.parametrize("working_memory", [None, 1e-5, 1e-4])
def test_topk_shared_equals_dense_topk(working_memory):
    rng = np.random.default_rng(0)
    for _ in range(200):
        n_rows, n_columns = rng.integers(1, 40), rng.integers(1, 30)
        k = int(rng.integers(1, n_columns + 1))
        scores = rng.integers(0, 5, n_columns).astype(float)  # many ties
        exclude = sp.csr_matrix(rng.random((n_rows, n_columns)) < rng.random())
        indices, values, short = topk_shared(scores, k, exclude,
                                             working_memory=working_memory)
        dense = np.repeat(scores[None, :], n_rows, axis=0)
        dense[exclude.nonzero()] = -np.inf
        expected_indices, expected_values = topk(dense, k)
        left = n_columns - exclude.sum(axis=1).A1
        np.testing.assert_array_equal(short, np.flatnonzero(left < k))
        full = left >= k
        np.testing.assert_array_equal(indices[full], expected_indices[full])
        np.testing.assert_array_equal(values[full], expected_values[full])


def test_topk_shared_without_exclusions():
    indices, values, short = topk_shared(np.array([1.0, 3.0, 2.0, 3.0]), 3)
    np.testing.assert_array_equal(indices, [[1, 3, 2]])
    np.testing.assert_array_equal(values, [[3.0, 3.0, 2.0]])
    assert short.size == 0


def test_popularity_recommend_equals_dense_ranking():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.integers(0, 60, 800), rng.zipf(1.5, 800) % 25])
    X = np.vstack([X, [[99, item] for item in range(25)]])  # a user who saw everything
    with pytest.warns(DataWarning, match="duplicate"):  # random pairs repeat
        fast = Popularity().fit(X)
        dense = Popularity().fit(X)
    dense._shared_item_scores = lambda: None  # force the dense block ranking
    users = np.append(fast.users_, [-5])  # and one unknown user
    for n_items in (1, 5, 25):
        for exclude_seen in (True, False):
            with pytest.warns(UserWarning, match="unseen at fit"):
                got = fast.recommend(users, n_items, exclude_seen=exclude_seen,
                                     return_scores=True)
            with pytest.warns(UserWarning, match="unseen at fit"):
                want = dense.recommend(users, n_items, exclude_seen=exclude_seen,
                                       return_scores=True)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])


def test_concurrent_calls_share_one_working_memory():
    from sklearn import config_context

    from sklearn_recs.utils._topk import block_size, memory_share, shared_working_memory

    with config_context(working_memory=64):
        alone = block_size(1000)
        with shared_working_memory():
            assert memory_share() == 64.0
            with shared_working_memory():  # a second call in flight
                assert memory_share() == 32.0
                assert block_size(1000) == alone // 2
        assert memory_share() == 64.0

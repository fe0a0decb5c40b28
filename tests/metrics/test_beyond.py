"""Beyond-accuracy metrics: coverage, intra-list diversity, novelty, popularity."""

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import UndefinedMetricWarning

from sklearn_recs.metrics import (
    average_popularity_score,
    coverage_score,
    intra_list_diversity_score,
    novelty_score,
)


# -- coverage -------------------------------------------------------------------
def test_coverage_hand_computed():
    y_pred = [[1, 2, 3], [2, 4, 5], [1]]
    # top 2: {1, 2} ∪ {2, 4} ∪ {1} = {1, 2, 4}: 3 of 10 items
    assert coverage_score(y_pred, 10, k=2) == pytest.approx(0.3)
    # top 3 = {1, 2, 3, 4, 5}; the catalogue {1, 2, 3, 9} holds 3 of them,
    # item 9 is never recommended, items 4 and 5 are outside the catalogue
    assert coverage_score(y_pred, [1, 2, 3, 9, 9], k=3) == pytest.approx(3 / 4)
    assert coverage_score(np.array([["a", "b"]]), np.array(["a", "b"])) == 1.0


def test_coverage_errors():
    with pytest.raises(ValueError, match="catalogue=2 is smaller than the 3 distinct"):
        coverage_score([[1, 2, 3]], 2)
    with pytest.raises(ValueError, match="catalogue=0 is invalid"):
        coverage_score([[1]], 0)
    with pytest.raises(ValueError, match="catalogue is empty"):
        coverage_score([[1]], [])


# -- intra-list diversity -----------------------------------------------------------
def reference_ild(lists, vectors, k):
    """Mean of 1 - cosine over the pairs of each list, one pair at a time."""
    out = []
    for items in lists:
        pairs = list(combinations(list(items)[:k], 2))
        distances = []
        for a, b in pairs:
            u, v = vectors[a], vectors[b]
            norm = np.linalg.norm(u) * np.linalg.norm(v)
            distances.append(1.0 - (u @ v / norm if norm else 0.0))
        out.append(np.mean(distances) if distances else np.nan)
    return np.array(out)


def test_ild_hand_computed():
    # items 0 and 1 share a genre, item 2 has another, item 3 is both
    genres = np.array([[1, 0], [1, 0], [0, 1], [1, 1]])
    # [0, 1, 2]: distances (0,1) 0, (0,2) 1, (1,2) 1 -> 2/3
    # [0, 3]: cos = 1/sqrt(2) -> 1 - 0.7071
    # [2]: no pair -> NaN
    expected = [2 / 3, 1 - 1 / math.sqrt(2), np.nan]
    lists = [[0, 1, 2], [0, 3], [2]]
    np.testing.assert_allclose(
        intra_list_diversity_score(lists, genres, average=None), expected)
    assert intra_list_diversity_score(lists, genres) == pytest.approx(
        (2 / 3 + 1 - 1 / math.sqrt(2)) / 2)
    # k=2 keeps [0, 1] -> 0 and [0, 3]
    np.testing.assert_allclose(
        intra_list_diversity_score(lists, genres, k=2, average=None),
        [0, 1 - 1 / math.sqrt(2), np.nan])


def test_ild_item_table_forms_agree():
    rng = np.random.default_rng(0)
    ids = np.array(["i%d" % i for i in range(15)])
    vectors = rng.random((15, 6)) * (rng.random((15, 6)) < 0.5)
    vectors[3] = 0.0  # a zero vector: similarity 0 with everything
    lists = [list(rng.choice(ids, size=rng.integers(0, 8), replace=False))
             for _ in range(30)]
    lists.append(["i3", "i3", "i4"])  # a repeated id is a pair at distance 1 - cos
    by_id = dict(zip(ids, vectors))
    expected = reference_ild(lists, by_id, k=5)
    forms = [
        {"item_vectors": vectors, "item_ids": ids},
        {"item_vectors": sp.csr_matrix(vectors), "item_ids": ids},
        {"item_vectors": pd.DataFrame(vectors, index=ids)},
        {"item_vectors": by_id},
        {"item_vectors": {i: sp.csr_matrix(v) for i, v in by_id.items()}},
    ]
    for form in forms:
        np.testing.assert_allclose(
            intra_list_diversity_score(lists, k=5, average=None, **form), expected,
            atol=1e-12)

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    cosine = unit @ unit.T
    for similarity in (cosine, sp.csr_matrix(cosine), pd.DataFrame(cosine, index=ids)):
        item_ids = None if isinstance(similarity, pd.DataFrame) else ids
        np.testing.assert_allclose(
            intra_list_diversity_score(lists, similarity=similarity, item_ids=item_ids,
                                       k=5, average=None),
            expected, atol=1e-12)


def test_ild_errors_and_undefined():
    vectors = np.eye(3)
    with pytest.raises(ValueError, match="exactly one of item_vectors"):
        intra_list_diversity_score([[0, 1]])
    with pytest.raises(ValueError, match="exactly one of item_vectors"):
        intra_list_diversity_score([[0, 1]], vectors, similarity=vectors)
    with pytest.raises(ValueError, match=r"1 recommended item\(s\) are missing from "
                                         r"item_vectors \(e.g. 7\)"):
        intra_list_diversity_score([[0, 7]], vectors)
    with pytest.raises(ValueError, match="must be a square"):
        intra_list_diversity_score([[0, 1]], similarity=np.ones((3, 2)))
    with pytest.raises(ValueError, match="3 rows but item_ids has 2 ids"):
        intra_list_diversity_score([[0, 1]], vectors, item_ids=[0, 1])
    with pytest.raises(ValueError, match="must be unique; 1 appears"):
        intra_list_diversity_score([[0, 1]], vectors, item_ids=[0, 1, 1])
    with pytest.raises(ValueError, match="leave item_ids=None"):
        intra_list_diversity_score([[0, 1]], pd.DataFrame(vectors), item_ids=[0, 1, 2])
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(intra_list_diversity_score([[0], []], vectors))


# -- novelty and popularity -----------------------------------------------------------
def test_novelty_hand_computed():
    # p = 1/2, 1/4, 1/8, 1: self-information 1, 2, 3, 0 bits
    p = np.array([0.5, 0.25, 0.125, 1.0])
    lists = [[0, 1, 2], [3, 0], []]
    # (1 + 2 + 3) / 3 = 2; (0 + 1) / 2 = 0.5; empty list -> NaN
    np.testing.assert_allclose(novelty_score(lists, p, average=None), [2, 0.5, np.nan])
    assert novelty_score(lists, p) == pytest.approx(1.25)
    # k=1: 1 bit and 0 bits
    assert novelty_score(lists, p, k=1) == pytest.approx(0.5)
    series = pd.Series(p, index=["a", "b", "c", "d"])
    assert novelty_score([["a", "b", "c"]], series) == pytest.approx(2.0)
    assert novelty_score([[10, 20]], p[:2], item_ids=[20, 10]) == pytest.approx(1.5)


def test_novelty_needs_probabilities():
    with pytest.raises(ValueError, match=r"probabilities in \(0, 1\].*got 30"):
        novelty_score([[0, 1]], [30, 10])
    with pytest.raises(ValueError, match="got 0"):
        novelty_score([[0, 1]], [0.0, 0.5])
    with pytest.raises(ValueError, match="one number per item"):
        novelty_score([[0, 1]], np.ones((2, 2)))


def test_average_popularity_hand_computed():
    counts = {"a": 100, "b": 10, "c": 1}
    lists = [["a", "b"], ["b", "c", "a"], ["c"]]
    # (100 + 10) / 2 = 55; (10 + 1 + 100) / 3 = 37; 1
    np.testing.assert_allclose(
        average_popularity_score(lists, counts, average=None), [55, 37, 1])
    # k=2: 55, (10 + 1) / 2 = 5.5, 1
    assert average_popularity_score(lists, counts, k=2) == pytest.approx(61.5 / 3)
    with pytest.raises(ValueError, match="missing from item_popularity"):
        average_popularity_score([["z"]], counts)

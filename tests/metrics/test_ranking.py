"""Ranking metrics: hand-computed cases, a pure-Python reference, edge cases."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning

from sklearn_recs.metrics import (
    average_precision_at_k_score,
    hit_rate_at_k_score,
    mean_absolute_error,
    ndcg_at_k_score,
    precision_at_k_score,
    recall_at_k_score,
    reciprocal_rank_at_k_score,
    root_mean_squared_error,
)

METRICS = {
    "precision": precision_at_k_score,
    "recall": recall_at_k_score,
    "map": average_precision_at_k_score,
    "ndcg": ndcg_at_k_score,
    "hit_rate": hit_rate_at_k_score,
    "mrr": reciprocal_rank_at_k_score,
}
L2, L3, L4, L5 = (math.log2(n) for n in (2, 3, 4, 5))


def reference(relevant, ranking, k):
    """Every metric for one user, by the definitions, one item at a time."""
    if isinstance(relevant, dict | pd.Series):
        gains = {item: float(gain) for item, gain in relevant.items()}
    else:
        gains = {item: 1.0 for item in relevant}
    gains = {item: gain for item, gain in gains.items() if gain > 0}
    if not gains:
        return dict.fromkeys(METRICS, math.nan)
    seen, hit_gains = set(), []
    for item in list(ranking)[:k]:
        hit_gains.append(0.0 if item in seen else gains.get(item, 0.0))
        seen.add(item)
    hits = [gain > 0 for gain in hit_gains]
    n_hits = sum(hits)
    precisions = [sum(hits[:i + 1]) / (i + 1) for i in range(len(hits))]
    ideal = sorted(gains.values(), reverse=True)[:k]
    dcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(hit_gains))
    idcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(ideal))
    first = next((i for i, hit in enumerate(hits) if hit), None)
    return {
        "precision": n_hits / k,
        "recall": n_hits / len(gains),
        "map": sum(p for p, hit in zip(precisions, hits) if hit) / min(k, len(gains)),
        "ndcg": dcg / idcg,
        "hit_rate": float(n_hits > 0),
        "mrr": 0.0 if first is None else 1.0 / (first + 1),
    }


# -- hand-computed cases -------------------------------------------------------
# user 0: relevant {1, 2, 3}, ranking [1, 9, 2, 8, 3]: hits at ranks 1, 3, 5
# user 1: relevant {7},       ranking [5, 6, 7]:       hit at rank 3
# user 2: relevant {4},       ranking [9, 8]:          no hit
Y_TRUE = [[1, 2, 3], {7}, np.array([4])]
Y_PRED = [[1, 9, 2, 8, 3], [5, 6, 7], [9, 8]]


@pytest.mark.parametrize(
    "metric, k, expected",
    [
        # precision: hits in top k / k, also for the short lists
        ("precision", 3, [2 / 3, 1 / 3, 0]),
        ("precision", 5, [3 / 5, 1 / 5, 0]),
        # recall: hits / |relevant|
        ("recall", 3, [2 / 3, 1, 0]),
        ("recall", 1, [1 / 3, 0, 0]),
        # AP@3: user 0 (1/1 + 2/3) / min(3, 3); user 1 (1/3) / min(3, 1)
        ("map", 3, [(1 + 2 / 3) / 3, 1 / 3, 0]),
        # AP@5: user 0 (1/1 + 2/3 + 3/5) / 3
        ("map", 5, [(1 + 2 / 3 + 3 / 5) / 3, 1 / 3, 0]),
        # AP@2 for user 0: (1/1) / min(2, 3) = 1/2
        ("map", 2, [1 / 2, 0, 0]),
        # NDCG@3: user 0 DCG = 1/log2(2) + 1/log2(4), IDCG = 1 + 1/log2(3) + 1/log2(4)
        #         user 1 DCG = 1/log2(4), IDCG = 1
        ("ndcg", 3, [(1 / L2 + 1 / L4) / (1 / L2 + 1 / L3 + 1 / L4), 1 / L4, 0]),
        # NDCG@2: user 0 DCG = 1, IDCG = 1 + 1/log2(3)
        ("ndcg", 2, [1 / (1 + 1 / L3), 0, 0]),
        ("hit_rate", 3, [1, 1, 0]),
        ("hit_rate", 2, [1, 0, 0]),
        # reciprocal rank: 1 / rank of the first hit
        ("mrr", 3, [1, 1 / 3, 0]),
        ("mrr", 2, [1, 0, 0]),
    ],
)
def test_hand_computed(metric, k, expected):
    per_user = METRICS[metric](Y_TRUE, Y_PRED, k=k, average=None)
    np.testing.assert_allclose(per_user, expected)
    assert METRICS[metric](Y_TRUE, Y_PRED, k=k) == pytest.approx(np.mean(expected))


def test_graded_ndcg_hand_computed():
    # gains {a: 3, b: 2, c: 1, d: 0}; ranking [c, d, a]:
    # DCG@3 = 1/log2(2) + 0/log2(3) + 3/log2(4) = 1 + 1.5 = 2.5
    # IDCG@3 = 3/log2(2) + 2/log2(3) + 1/log2(4)
    gains = {"a": 3, "b": 2, "c": 1, "d": 0}
    expected = 2.5 / (3 + 2 / L3 + 1 / L4)
    assert ndcg_at_k_score([gains], [["c", "d", "a"]], k=3) == pytest.approx(expected)
    # A pandas Series indexed by id is the same mapping.
    series = pd.Series(gains)
    assert ndcg_at_k_score([series], [["c", "d", "a"]], k=3) == pytest.approx(expected)
    # IDCG@2 is cut at k: 3 + 2/log2(3); DCG@2 = 1
    assert ndcg_at_k_score([gains], [["c", "d", "a"]], k=2) == pytest.approx(
        1 / (3 + 2 / L3))
    # Binary metrics treat positive gains as relevant: "d" (gain 0) is not.
    assert recall_at_k_score([gains], [["c", "d", "a"]], k=3) == pytest.approx(2 / 3)


def test_perfect_and_empty_rankings():
    y_true = [[1, 2], [3, 4]]
    for metric in METRICS.values():
        assert metric(y_true, [[2, 1], [4, 3, 5]], k=2) == pytest.approx(1.0)
        np.testing.assert_array_equal(metric(y_true, [[], []], average=None), [0, 0])


def test_k_larger_than_the_lists():
    # precision divides by k = 4 although only 2 items are recommended;
    # AP@4 divides by min(4, |R| = 3) = 3; NDCG's ideal list has 3 entries.
    y_true, y_pred = [[1, 2, 3]], np.array([[2, 1]])
    assert precision_at_k_score(y_true, y_pred, k=4) == pytest.approx(2 / 4)
    assert recall_at_k_score(y_true, y_pred, k=4) == pytest.approx(2 / 3)
    assert average_precision_at_k_score(y_true, y_pred, k=4) == pytest.approx(2 / 3)
    assert ndcg_at_k_score(y_true, y_pred, k=4) == pytest.approx(
        (1 + 1 / L3) / (1 + 1 / L3 + 1 / L4))
    # A huge k allocates nothing extra.
    assert precision_at_k_score(y_true, y_pred, k=10**12) == pytest.approx(2e-12)


def test_duplicates_count_once():
    # ranking [1, 1, 2]: the second 1 is a miss. precision@3 = 2/3, AP@3 =
    # (1/1 + 2/3) / 2, DCG = 1 + 1/log2(4) for IDCG = 1 + 1/log2(3)
    y_true, y_pred = [[1, 2, 2]], [[1, 1, 2]]
    assert precision_at_k_score(y_true, y_pred, k=3) == pytest.approx(2 / 3)
    assert recall_at_k_score(y_true, y_pred, k=3) == pytest.approx(1.0)
    assert average_precision_at_k_score(y_true, y_pred, k=3) == pytest.approx(5 / 6)
    assert ndcg_at_k_score(y_true, y_pred, k=3) == pytest.approx(
        (1 + 1 / L4) / (1 + 1 / L3))


def test_users_without_relevant_items():
    y_true = [[1], [], {5: 0.0}]
    y_pred = [[1, 2], [1, 2], [5, 6]]
    for metric in METRICS.values():
        per_user = metric(y_true, y_pred, k=2, average=None)
        assert per_user[0] > 0 and np.isnan(per_user[1:]).all()
        assert metric(y_true, y_pred, k=2) == pytest.approx(per_user[0])
    with pytest.warns(UndefinedMetricWarning, match="undefined for every user"):
        assert np.isnan(ndcg_at_k_score([[]], [[1]]))


def test_input_forms_agree():
    y_true = [np.array([1, 2]), {3, 4}, pd.Series([1.0, 1.0], index=[5, 6])]
    ragged = [[1, 7, 2], [4, 8, 9], [6, 5, 1]]
    for metric in METRICS.values():
        expected = metric(y_true, ragged, k=3, average=None)
        np.testing.assert_allclose(metric(y_true, np.array(ragged), k=3, average=None),
                                   expected)
        np.testing.assert_allclose(metric(y_true, pd.DataFrame(ragged), k=3, average=None),
                                   expected)
        as_str = [[str(i) for i in row] for row in ragged]
        true_str = [[str(i) for i in (1, 2)], ["3", "4"], {"5": 1.0, "6": 1.0}]
        np.testing.assert_allclose(metric(true_str, as_str, k=3, average=None), expected)


@pytest.mark.parametrize(
    "y_true, y_pred, kwargs, error, match",
    [
        ([[1]], [[1], [2]], {}, ValueError, "one entry per user: got 1 relevance sets and 2"),
        ([[1]], [[1]], {"k": 0}, ValueError, "k=0 is invalid"),
        ([[1]], [[1]], {"average": "macro"}, ValueError, "average='macro' is invalid"),
        ([[1]], [1, 2], {}, ValueError, r"For a single user, pass \[ranking\]"),
        ([[1]], [{1, 2}], {}, TypeError, "rows must be ordered sequences"),
        ([1, 2], [[1], [2]], {}, ValueError, r"pass \[relevant_ids\]"),
        ([{1: -1.0}], [[1]], {}, ValueError, "gains must be finite and >= 0; got -1"),
        ([{1: "high"}], [[1]], {}, ValueError, "gains must be numbers"),
        ([["1"]], [[1]], {}, TypeError, "string ids but y_pred holds numeric ids"),
        ([[1]], np.array([[1.0, np.nan]]), {}, ValueError, "missing or infinite"),
    ],
)
def test_errors(y_true, y_pred, kwargs, error, match):
    with pytest.raises(error, match=match):
        ndcg_at_k_score(y_true, y_pred, **kwargs)


def test_rating_metrics_are_sklearns():
    import sklearn.metrics

    assert root_mean_squared_error is sklearn.metrics.root_mean_squared_error
    assert mean_absolute_error is sklearn.metrics.mean_absolute_error


# -- against the reference on random cases ---------------------------------------
ids = st.integers(0, 12)
relevance = st.one_of(
    st.lists(ids, max_size=6),
    st.dictionaries(ids, st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]), max_size=6),
)
cases = st.tuples(
    st.lists(st.tuples(relevance, st.lists(ids, max_size=15)), min_size=1, max_size=6),
    st.integers(1, 20),
)


@settings(max_examples=150, deadline=None, database=None)
@given(cases)
def test_matches_reference(case):
    users, k = case
    y_true = [relevant for relevant, _ in users]
    y_pred = [ranking for _, ranking in users]
    expected = [reference(relevant, ranking, k) for relevant, ranking in users]
    for name, metric in METRICS.items():
        per_user = metric(y_true, y_pred, k=k, average=None)
        np.testing.assert_allclose(per_user, [row[name] for row in expected],
                                   err_msg=name, atol=1e-12)


def test_matches_reference_on_a_2d_array():
    rng = np.random.default_rng(0)
    n_users, n_items, k = 50, 30, 7
    y_pred = np.array([rng.permutation(n_items)[:10] for _ in range(n_users)])
    y_true = [
        dict(zip(rng.choice(n_items, rng.integers(0, 8), replace=False).tolist(),
                 rng.integers(0, 4, 8).tolist()))
        for _ in range(n_users)
    ]
    expected = [reference(relevant, ranking, k) for relevant, ranking in zip(y_true, y_pred)]
    for name, metric in METRICS.items():
        reference_mean = np.nanmean([row[name] for row in expected])
        assert metric(y_true, y_pred, k=k) == pytest.approx(reference_mean), name

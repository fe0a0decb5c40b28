"""Tests of the sampled 1 + n ranking protocol (NCF's leave-one-out evaluation)."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from sklearn_recs.exceptions import ColdStartWarning
from sklearn_recs.metrics import sampled_ranking_score
from sklearn_recs.metrics._sampled import _sample_negatives

SCORES = {10: 0.0, 11: 0.0, 12: 0.5, 13: 0.9, 14: 0.1, 15: 0.5}


class FixedScores(BaseEstimator):
    """A fitted recommender stub: user "a" saw items 10, 11; user "b" saw 10, 13."""

    def fit(self, X=None, y=None):
        self.users_ = np.array(["a", "b"], dtype=object)
        self.items_ = np.array(sorted(SCORES))
        self.interactions_ = sp.csr_matrix(([1.0] * 4, ([0, 0, 1, 1], [0, 1, 0, 3])),
                                           shape=(2, 6))
        return self

    def predict(self, X):
        return np.array([SCORES[i] for i in pd.DataFrame(X).iloc[:, 1]])


def pairs(users, items):
    return pd.DataFrame({"user": users, "item": items})


def test_matches_hand_computation():
    # a: 12 (0.5) among {13, 14, 15} -> 13 and the tie 15 beat it: rank 2
    # b: 15 (0.5) among {11, 12, 14} -> the tie 12 beats it: rank 1
    X_test = pairs(["a", "b"], [12, 15])
    model = FixedScores().fit()
    ndcg = sampled_ranking_score(model, X_test, k=3, n_negatives=3, random_state=0)
    assert ndcg == pytest.approx((1 / np.log2(4) + 1 / np.log2(3)) / 2)
    hits = sampled_ranking_score(model, X_test, metric="hit_rate", k=2, n_negatives=3)
    assert hits == 0.5


def test_negatives_are_distinct_and_unseen():
    rng = np.random.RandomState(0)
    n_users, n_items = 40, 30
    seen = rng.random_sample((n_users, n_items)) < 0.3
    forbidden = np.flatnonzero(seen.ravel()).astype(np.int64)  # user * n_items + item
    users = np.repeat(np.arange(n_users), 3)
    negatives = _sample_negatives(users, forbidden, n_items, 10, rng)
    assert all(len(set(row)) == 10 for row in negatives)
    assert not seen[users[:, None], negatives].any()


def test_bad_input_and_cold_rows():
    model = FixedScores().fit()
    with pytest.raises(ValueError, match="fewer than n_negatives=4"):
        sampled_ranking_score(model, pairs(["a"], [12]), n_negatives=4)
    with pytest.raises(ValueError, match="metric='recall' is invalid"):
        sampled_ranking_score(model, pairs(["a"], [12]), metric="recall")
    with pytest.warns(ColdStartWarning, match="1 of 2 test rows"):
        score = sampled_ranking_score(model, pairs(["a", "zed"], [12, 12]), metric="hit_rate",
                                      k=3, n_negatives=3)
    assert score == 1.0

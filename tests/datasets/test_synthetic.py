"""make_interactions: exact size, unique pairs, power laws, planted structure."""

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from sklearn_recs.datasets import make_interactions
from sklearn_recs.datasets._synthetic import _PairSampler


def _pairs(X):
    X = np.asarray(X)
    return X[:, 0] * 10**9 + X[:, 1]


@pytest.mark.parametrize("implicit", [False, True])
def test_same_seed_same_output(implicit):
    a = make_interactions(random_state=3, implicit=implicit)
    b = make_interactions(random_state=np.random.RandomState(3), implicit=implicit)
    assert_frame_equal(a.frame, b.frame)
    np.testing.assert_array_equal(a.user_factors, b.user_factors)
    np.testing.assert_array_equal(a.item_factors, b.item_factors)
    c = make_interactions(random_state=4, implicit=implicit)
    assert not a.data.equals(c.data)


@pytest.mark.parametrize("implicit", [False, True])
@pytest.mark.parametrize(
    "n_users, n_items, n_interactions",
    [(1000, 500, 20000),  # sparse: streamed
     (40, 30, 1100),      # dense: enumerated
     (40, 30, 1200),      # every pair
     (5, 3000, 9000)],    # few users, many repeats
)
def test_exact_count_of_unique_pairs(implicit, n_users, n_items, n_interactions):
    X, y = make_interactions(n_users, n_items, n_interactions, implicit=implicit,
                             random_state=0, return_X_y=True)
    assert X.shape == (n_interactions, 3) and y.shape == (n_interactions,)
    assert not X.duplicated(["user_id", "item_id"]).any()
    assert X["user_id"].between(0, n_users - 1).all()
    assert X["item_id"].between(0, n_items - 1).all()
    assert (X.dtypes == np.int64).all()
    # Sorted by user, then item.
    keys = X["user_id"].to_numpy() * n_items + X["item_id"].to_numpy()
    assert np.all(np.diff(keys) > 0)


def test_streaming_switches_to_enumeration_when_repeats_dominate():
    # Very skewed popularity: most draws repeat the head items.
    X, _ = make_interactions(200, 400, 40_000, popularity_alpha=3.0,
                             random_state=0, return_X_y=True)
    assert len(np.unique(_pairs(X))) == 40_000


def test_too_many_interactions():
    with pytest.raises(ValueError, match=r"n_interactions=13 exceeds the "
                                         r"n_users \* n_items = 12"):
        make_interactions(3, 4, 13)


@pytest.mark.parametrize(
    "params, message",
    [({"n_users": 0}, r"n_users=0 is invalid; n_users must be an int >= 1"),
     ({"noise": -1.0}, r"noise=-1.0 is invalid; noise must be a real number >= 0"),
     ({"noise": 1.5, "implicit": True}, r"noise=1.5 .* in \[0.0, 1.0\]"),
     ({"popularity_alpha": -0.5}, r"popularity_alpha=-0.5 is invalid"),
     ({"rating_scale": (5, 1)}, r"rating_scale=\(5, 1\) is invalid; pass \(lowest, "),
     ({"rating_scale": "1-5"}, r"rating_scale='1-5' is invalid"),
     ({"rating_step": 0}, r"rating_step=0 is invalid")],
)
def test_invalid_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        make_interactions(**params)


def test_power_laws():
    X = make_interactions(2000, 1000, 50_000, random_state=0).data
    item_counts = X["item_id"].value_counts().to_numpy()
    user_counts = X["user_id"].value_counts().to_numpy()
    # The top 10% of items and users hold far more than 10% of the rows.
    assert item_counts[:100].sum() / len(X) > 0.35
    assert user_counts[:200].sum() / len(X) > 0.35
    # Uniform popularity and activity give no such head.
    X = make_interactions(2000, 1000, 50_000, popularity_alpha=0.0,
                          activity_alpha=0.0, random_state=0).data
    assert X["item_id"].value_counts().to_numpy()[:100].sum() / len(X) < 0.13


def test_explicit_ratings_follow_planted_factors():
    bunch = make_interactions(random_state=0)
    u, i = bunch.data["user_id"].to_numpy(), bunch.data["item_id"].to_numpy()
    planted = (bunch.global_mean + bunch.user_bias[u] + bunch.item_bias[i]
               + np.sum(bunch.user_factors[u] * bunch.item_factors[i], axis=1))
    y = bunch.target.to_numpy()
    assert np.corrcoef(planted, y)[0, 1] > 0.8
    # The interaction term alone carries signal beyond the biases.
    residual = y - bunch.global_mean - bunch.user_bias[u] - bunch.item_bias[i]
    dots = np.sum(bunch.user_factors[u] * bunch.item_factors[i], axis=1)
    assert np.corrcoef(dots, residual)[0, 1] > 0.5
    assert set(np.unique(y)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert bunch.target.name == "rating" and bunch.target_names == ["rating"]
    assert bunch.user_factors.shape == (1000, 8) and bunch.item_factors.shape == (500, 8)
    assert "Zipf" in bunch.DESCR


def test_rating_scale_and_step():
    y = make_interactions(rating_scale=(0.5, 5), rating_step=0.5, random_state=0,
                          return_X_y=True)[1]
    assert set(np.unique(y)) <= set(np.arange(1, 11) / 2) and y.min() == 0.5
    y = make_interactions(rating_step=None, noise=0.0, random_state=0,
                          return_X_y=True)[1]
    assert y.between(1, 5).all() and y.nunique() > 1000


def test_implicit_interactions_favour_planted_tastes():
    bunch = make_interactions(2000, 1000, 40_000, implicit=True, noise=0.0,
                              random_state=0)
    u, i = bunch.data["user_id"].to_numpy(), bunch.data["item_id"].to_numpy()
    np.testing.assert_allclose(bunch.user_factors.sum(axis=1), 1.0)
    np.testing.assert_allclose(bunch.item_factors.sum(axis=0), 1.0)
    affinity = np.sum(bunch.user_factors[u] * bunch.item_factors[i], axis=1)
    # The same items, given to random other users, fit far worse.
    shuffled = np.random.default_rng(0).permutation(u)
    baseline = np.sum(bunch.user_factors[shuffled] * bunch.item_factors[i], axis=1)
    assert np.median(affinity / baseline) > 3
    # Counts are >= 1 and grow with the taste lift.
    y = bunch.target.to_numpy()
    assert bunch.target.name == "count" and y.dtype == np.int64 and y.min() == 1
    lift = affinity / bunch.item_popularity[i]
    assert np.corrcoef(lift, y)[0, 1] > 0.5
    assert "global_mean" not in bunch


def test_implicit_noise_dilutes_tastes():
    def median_lift(noise):
        bunch = make_interactions(2000, 1000, 40_000, implicit=True, noise=noise,
                                  random_state=0)
        u, i = bunch.data["user_id"].to_numpy(), bunch.data["item_id"].to_numpy()
        shuffled = np.random.default_rng(0).permutation(u)
        return np.median(
            np.sum(bunch.user_factors[u] * bunch.item_factors[i], axis=1)
            / np.sum(bunch.user_factors[shuffled] * bunch.item_factors[i], axis=1)
        )

    assert median_lift(0.0) > median_lift(0.5) > median_lift(1.0)


def test_output_formats():
    bunch = make_interactions(50, 20, 300, random_state=0)
    X, y = make_interactions(50, 20, 300, random_state=0, return_X_y=True)
    assert_frame_equal(X, bunch.data)
    assert_series_equal(y, bunch.target)
    assert_frame_equal(bunch.frame, pd.concat([X, y], axis=1))
    assert bunch.feature_names == ["user_id", "item_id", "timestamp"]
    Xa, ya = make_interactions(50, 20, 300, random_state=0, as_frame=False,
                               return_X_y=True)
    assert Xa.dtype == np.int64 and ya.dtype == np.float64
    np.testing.assert_array_equal(Xa, X.to_numpy())
    np.testing.assert_array_equal(ya, y.to_numpy())
    X2, _ = make_interactions(50, 20, 300, with_timestamps=False, random_state=0,
                              return_X_y=True)
    assert list(X2.columns) == ["user_id", "item_id"]
    ts = pd.to_datetime(X["timestamp"], unit="s")
    assert ts.min().year >= 2020 and ts.max().year <= 2021


def test_sampler_matches_weights():
    """Single draws (n=1) follow activity[u] * P(i | u) exactly."""
    activity = np.array([0.5, 0.3, 0.2])
    mix_users = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    mix_items = np.array([[0.7, 0.1], [0.2, 0.1], [0.1, 0.8]])
    expected = activity[:, None] * (mix_users @ mix_items.T)
    rng = np.random.RandomState(0)
    sampler = _PairSampler(activity, mix_users, mix_items, rng)
    keys = np.concatenate([sampler._draw(1000) for _ in range(200)])
    freq = np.bincount(keys, minlength=9).reshape(3, 3) / keys.size
    np.testing.assert_allclose(freq, expected, atol=0.005)
    # The enumeration picks with the same weights.
    picks = np.array([sampler._enumerate(1, np.empty(0, dtype=np.int64))[0]
                      for _ in range(20000)])
    freq = np.bincount(picks, minlength=9).reshape(3, 3) / picks.size
    np.testing.assert_allclose(freq, expected, atol=0.015)


def test_one_million_rows():
    X, y = make_interactions(50_000, 10_000, 1_000_000, implicit=True,
                             random_state=0, return_X_y=True, as_frame=False)
    assert X.shape == (1_000_000, 3) and y.shape == (1_000_000,)
    assert np.all(np.diff(X[:, 0] * 10_000 + X[:, 1]) > 0)  # sorted, distinct


def test_streaming_and_enumeration_sample_without_replacement_exactly():
    """Both methods give the inclusion probabilities of successive sampling."""
    from itertools import permutations

    activity = np.array([0.6, 0.3, 0.1])
    mix_users = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    mix_items = np.array([[0.7, 0.1], [0.2, 0.1], [0.1, 0.8]])
    weights = (activity[:, None] * (mix_users @ mix_items.T)).ravel()
    n = 3
    exact = np.zeros(9)
    for order in permutations(range(9), n):
        p, left = 1.0, 1.0
        for key in order:
            p *= weights[key] / left
            left -= weights[key]
        exact[list(order)] += p

    rng = np.random.RandomState(0)
    sampler = _PairSampler(activity, mix_users, mix_items, rng)
    reps = 3000
    streamed = np.bincount(np.concatenate([sampler.sample(n) for _ in range(reps)]),
                           minlength=9) / reps
    enumerated = np.bincount(
        np.concatenate([sampler._enumerate(n, np.empty(0, dtype=np.int64))
                        for _ in range(reps)]), minlength=9) / reps
    np.testing.assert_allclose(streamed, exact, atol=0.03)
    np.testing.assert_allclose(enumerated, exact, atol=0.03)

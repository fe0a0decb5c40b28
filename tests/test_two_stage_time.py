"""TwoStageRecommender's time features (brute force on a toy frame, without
leakage from the held-out rows), its blend with the generator's order (by
hand), and its guard against NaN reranker scores."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin

from sklearn_recs.hybrid import TwoStageRecommender
from sklearn_recs.linear_model import EASE
from sklearn_recs.model_selection import PerUserShuffleSplit
from sklearn_recs.utils._testing import tiny_ratings

TIME_NAMES = ["time_item_minus_user", "time_item_minus_last", "time_item_age",
              "time_window_share_1d", "time_window_share_7d", "time_window_share_30d"]
DAY = 86400


class _Column(RegressorMixin, BaseEstimator):
    """A "reranker" that scores by one feature column (and records its fit)."""

    def __init__(self, column=0):
        self.column = column

    def fit(self, X, y):
        self.X_ = X
        return self

    def predict(self, X):
        return X[:, self.column]


class _NaNReranker(_Column):
    def predict(self, X):
        return np.where(np.arange(len(X)) % 2, np.nan, 1.0)


@pytest.fixture(scope="module")
def X():
    """tiny_ratings with times spread over 60 days, so the windows differ."""
    X = tiny_ratings()[0]
    rng = np.random.default_rng(0)
    return X.assign(timestamp=rng.integers(0, 60 * DAY, len(X)))


def _brute_time_features(rows, user, item):
    """The time features of (user, item) from the rows of ``rows``, by hand."""
    days = rows["timestamp"] / DAY
    mine, its = days[rows["user_id"] == user], days[rows["item_id"] == item]
    centre = np.median(mine)
    shares = []
    for w in (1, 7, 30):
        near = (days - centre).abs() <= w
        shares.append((near & (rows["item_id"] == item)).sum() / max(near.sum(), 1))
    return [np.median(its) - centre, np.median(its) - mine.max(), centre - its.min(),
            *shares]


def _time_block(model, features):
    start = model.feature_names_.index(TIME_NAMES[0])
    return features[:, start:start + len(TIME_NAMES)]


def test_time_features_by_brute_force(X):
    model = TwoStageRecommender(EASE(alpha=10.0), _Column(0), n_candidates=5,
                                random_state=0).fit(X)  # "auto": the timestamp column
    assert model.feature_names_[4:] == TIME_NAMES
    generator = model.generator_
    codes = np.arange(generator.n_users_)
    features, candidates = model._candidate_features(
        (generator, model.feature_recommenders_, model._times), codes)
    block = _time_block(model, features).reshape(len(codes), 5, len(TIME_NAMES))
    for code in codes[::3]:
        for slot, item in enumerate(candidates[code]):
            expected = _brute_time_features(X, generator.users_[code], generator.items_[item])
            np.testing.assert_allclose(block[code, slot], expected, rtol=1e-12, atol=1e-9)


def test_time_features_of_the_training_candidates_see_only_the_held_in_rows(X):
    model = TwoStageRecommender(EASE(alpha=10.0), _Column(0), n_candidates=5, n_splits=1,
                                random_state=3).fit(X)
    train, held = next(PerUserShuffleSplit(test_size=0.2, random_state=3).split(X))
    held_in = X.iloc[train]
    labelling = EASE(alpha=10.0).fit(held_in)
    users = np.unique(labelling._encode_users(X["user_id"].iloc[held]))
    block = _time_block(model, model.reranker_.X_).reshape(len(users), 5, len(TIME_NAMES))
    everything = []
    for row, code in enumerate(users):
        candidates = labelling.recommend([labelling.users_[code]], 5)[0]
        for slot, item in enumerate(candidates):
            user = labelling.users_[code]
            expected = _brute_time_features(held_in, user, item)
            np.testing.assert_allclose(block[row, slot], expected, rtol=1e-12, atol=1e-9)
            everything.append(np.allclose(block[row, slot],
                                          _brute_time_features(X, user, item)))
    assert not all(everything)  # the held-out rows would have changed them


def test_time_column_forms_give_the_same_features(X):
    def fitted(data, **params):
        return TwoStageRecommender(EASE(alpha=10.0), _Column(0), n_candidates=5,
                                   random_state=0, **params).fit(data)

    reference = fitted(X).reranker_.X_
    as_dates = X.assign(timestamp=pd.to_datetime(X["timestamp"], unit="s"))
    np.testing.assert_allclose(fitted(as_dates).reranker_.X_, reference)
    array = X.to_numpy(dtype=object)
    np.testing.assert_allclose(fitted(array, time_features=2).reranker_.X_, reference)
    # Without a "timestamp" column (or time_features=None): no time features.
    assert fitted(array).feature_names_[-1] == "user_activity"
    assert fitted(X, time_features=None).feature_names_[-1] == "user_activity"
    renamed = X.rename(columns={"timestamp": "when"})
    np.testing.assert_allclose(fitted(renamed, time_features="when").reranker_.X_, reference)


@pytest.mark.parametrize("data, params, match", [
    ("frame", {"time_features": "when"}, r"the time column 'when' .* is not a column of X"),
    ("array", {"time_features": 5}, r"the time column 5 .* is not a column of X"),
    ("array", {"time_features": "timestamp"}, "is a name, but X is not a DataFrame"),
    ("text", {}, "neither numbers \\(seconds\\) nor datetimes; convert it"),
])
def test_bad_time_columns(X, data, params, match):
    data = {"frame": X, "array": X.to_numpy(dtype=object),
            "text": X.assign(timestamp="soon")}[data]
    with pytest.raises(ValueError, match=match):
        TwoStageRecommender(EASE(), _Column(0), **params).fit(data)


def test_generator_weight_blends_z_scores_by_hand(X):
    weight, width = 1.5, 6
    model = TwoStageRecommender(EASE(alpha=10.0), _Column(2), n_candidates=width,
                                generator_weight=weight, random_state=0).fit(X)
    assert model.feature_names_[2] == "item_popularity"
    ease = EASE(alpha=10.0).fit(X)
    counts = X["item_id"].value_counts()
    for user in ease.users_[:10]:
        candidates, scores = ease.recommend([user], width, return_scores=True)
        candidates, scores = candidates[0], scores[0]
        popularity = counts[candidates].to_numpy(float)
        blend = ((popularity - popularity.mean()) / popularity.std()
                 + weight * (scores - scores.mean()) / scores.std())
        expected = candidates[np.argsort(-blend, kind="stable")]
        assert model.recommend([user], width)[0].tolist() == expected.tolist()
    # Weight 0: the reranker's order alone (popularity, here).
    alone = TwoStageRecommender(EASE(alpha=10.0), _Column(2), n_candidates=width,
                                generator_weight=0.0, random_state=0).fit(X)
    user = ease.users_[0]
    candidates = ease.recommend([user], width)[0]
    assert alone.recommend([user], width)[0].tolist() == sorted(
        candidates, key=lambda item: -counts[item])


def test_nan_reranker_scores_raise_in_recommend(X):
    model = TwoStageRecommender(EASE(alpha=10.0), _NaNReranker(), n_candidates=4,
                                random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"the reranker _NaNReranker\(\) returned NaN "
                                         r"scores for 4 of 8 candidates; use a reranker"):
        model.recommend(model.users_[:2], 3)

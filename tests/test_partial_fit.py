"""partial_fit: after fit(A) then partial_fit(B), the model equals fit(A + B).

B holds new ratings of known users, every rating of some new users and of
some new items, and pairs already in A (duplicates, aggregated as fit
aggregates them). The reference is a fresh fit on the rows of both.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_recs.baselines import BiasBaseline, Popularity
from sklearn_recs.base import _extend_vocabulary
from sklearn_recs.linear_model import EASE, SparseEASE
from sklearn_recs.neighbors import ItemKNN, UserKNN
from sklearn_recs.utils._testing import tiny_ratings


# Implicit models get small integer weights on purpose here (counts, or
# ratings read as weights against a reference), which the ratings check flags.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*y looks like explicit ratings:sklearn_recs.exceptions.DataWarning")


def _split(X, y, seed=0):
    """(X_a, y_a, X_b, y_b): B has new users, new items, new rows of old users
    and repeats of A's pairs with other values."""
    rng = np.random.default_rng(seed)
    users, items = X["user_id"].to_numpy(), X["item_id"].to_numpy()
    new_users = rng.choice(np.unique(users), 5, replace=False)
    new_items = rng.choice(np.unique(items), 3, replace=False)
    in_b = np.isin(users, new_users) | np.isin(items, new_items) | (rng.random(len(X)) < 0.15)
    a, b = np.flatnonzero(~in_b), np.flatnonzero(in_b)
    repeats = rng.choice(a, 10, replace=False)
    X_b = pd.concat([X.iloc[b], X.iloc[repeats]], ignore_index=True)
    y_b = np.concatenate([y[b], rng.integers(1, 6, size=len(repeats)).astype(float)])
    return X.iloc[a].reset_index(drop=True), y[a], X_b, y_b


def _data(feedback):
    """Training rows A and B, and the user ids to score (two unknown to both)."""
    X, y = tiny_ratings(n_users=40, n_items=25)
    X_a, y_a, X_b, y_b = _split(X, y)
    if feedback == "binary":
        y_a = y_b = None
    return X_a, y_a, X_b, y_b


def _fit_both(estimator, feedback):
    X_a, y_a, X_b, y_b = _data(feedback)
    both_y = None if y_a is None else np.concatenate([y_a, y_b])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicates (DataWarning)
        incremental = estimator.fit(X_a, y_a).partial_fit(X_b, y_b)
        reference = type(estimator)(**estimator.get_params()).fit(
            pd.concat([X_a, X_b], ignore_index=True), both_y)
    return incremental, reference


CASES = [
    (ItemKNN(), "ratings"),
    (ItemKNN(similarity="cosine", centering="mean", n_stored_neighbors=5, shrinkage=3), "ratings"),
    (ItemKNN(similarity="adjusted_cosine", n_neighbors=3, min_neighbors=2, damping=1.0), "ratings"),
    (ItemKNN(feedback="implicit"), "binary"),
    (ItemKNN(feedback="implicit", n_neighbors=4), "weights"),
    (ItemKNN(feedback="implicit", weighting="bm25", similarity="dot"), "weights"),
    (UserKNN(), "ratings"),
    (UserKNN(similarity="msd", centering="mean"), "ratings"),
    (UserKNN(feedback="implicit", weighting="tfidf", n_neighbors=5), "binary"),
    (EASE(alpha=10.0, dtype="float64"), "binary"),
    (EASE(alpha=10.0), "weights"),
    (SparseEASE(alpha=10.0, n_neighbors=5), "binary"),
    (Popularity(), "binary"),
    (Popularity(), "weights"),
    (Popularity(half_life=50.0, time_column="timestamp"), "weights"),
    (BiasBaseline(), "ratings"),
    (BiasBaseline(alpha_user=0.0, alpha_item=0.0, max_iter=30), "ratings"),
]


def _case_id(case):
    estimator, feedback = case
    changed = estimator.get_params(deep=False)
    defaults = type(estimator)().get_params(deep=False)
    args = ",".join(f"{k}={v}" for k, v in changed.items() if v != defaults[k])
    return f"{type(estimator).__name__}({args})-{feedback}"


@pytest.mark.parametrize("estimator, feedback", CASES, ids=[_case_id(c) for c in CASES])
def test_partial_fit_equals_fit_on_union(estimator, feedback):
    incremental, reference = _fit_both(estimator, feedback)
    assert_array_equal(incremental.users_, reference.users_)
    assert_array_equal(incremental.items_, reference.items_)
    assert (incremental.n_users_, incremental.n_items_) == (reference.n_users_,
                                                            reference.n_items_)
    assert_allclose(incremental.interactions_.toarray(), reference.interactions_.toarray())
    # Every (user, item) pair, with a user and an item unknown to both.
    users = np.append(reference.users_, "nobody")
    items = np.append(reference.items_, 999)
    grid = pd.DataFrame({"user_id": np.repeat(users, len(items)),
                         "item_id": np.tile(items, len(users))})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unknown ids (ColdStartWarning)
        assert_allclose(incremental.predict(grid), reference.predict(grid),
                        rtol=1e-5, atol=1e-6)
        top, top_scores = incremental.recommend(users, top_n=8, return_scores=True)
        expected, expected_scores = reference.recommend(users, top_n=8,
                                                        return_scores=True)
    assert_allclose(top_scores, expected_scores, rtol=1e-5, atol=1e-6)
    assert_array_equal(top, expected)


@pytest.mark.parametrize("estimator, feedback", CASES[:1] + CASES[3:4] + CASES[9:10]
                         + CASES[11:12] + CASES[14:15])
def test_first_partial_fit_is_fit(estimator, feedback):
    X_a, y_a, _, _ = _data(feedback)
    first = type(estimator)(**estimator.get_params()).partial_fit(X_a, y_a)
    fitted = estimator.fit(X_a, y_a)
    assert_array_equal(first.recommend(fitted.users_, top_n=5),
                       fitted.recommend(fitted.users_, top_n=5))


def test_partial_fit_in_steps_equals_fit():
    """Three partial_fit calls after fit, one row block each."""
    X, y = tiny_ratings(n_users=40, n_items=25)
    parts = np.array_split(np.random.default_rng(1).permutation(len(X)), 4)
    model = ItemKNN(n_neighbors=5).fit(X.iloc[parts[0]], y[parts[0]])
    for part in parts[1:]:
        model.partial_fit(X.iloc[part], y[part])
    reference = ItemKNN(n_neighbors=5).fit(X, y)
    assert_allclose(model.similarity_.toarray(), reference.similarity_.toarray(), atol=1e-6)
    assert_allclose(model.predict(X), reference.predict(X), rtol=1e-6)


def test_demographic_popularity_partial_fit_equals_fit():
    """New users of B become demographic neighbours of everyone."""
    X_a, _, X_b, y_b = _data("weights")
    users = np.unique(np.concatenate([X_a["user_id"], X_b["user_id"]]))
    rng = np.random.default_rng(3)
    features = pd.DataFrame({"group": rng.choice(["a", "b", "c"], len(users)),
                             "age": rng.integers(18, 70, len(users))}, index=users)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Popularity(n_neighbors=3).fit(X_a, user_features=features)
        model.partial_fit(X_b, y_b)
        reference = Popularity(n_neighbors=3).fit(
            pd.concat([X_a, X_b], ignore_index=True),
            np.concatenate([np.ones(len(X_a)), y_b]), user_features=features)
    assert_allclose(model.neighbors_.toarray(), reference.neighbors_.toarray())
    assert_allclose(model.predict(X_b), reference.predict(X_b))
    assert_array_equal(model.recommend(users, top_n=5), reference.recommend(users, top_n=5))


def test_half_life_set_after_fit_is_an_error():
    X, _ = tiny_ratings()
    model = Popularity().fit(X).set_params(half_life=10.0, time_column="timestamp")
    with pytest.raises(ValueError, match="fit without it"):
        model.partial_fit(X)


def test_repeated_ratings_are_averaged_over_every_row():
    """A pair rated twice at fit and once in partial_fit gets the mean of the three."""
    X_a, y_a = [[1, 10], [1, 10], [2, 10], [2, 20]], [1.0, 2.0, 4.0, 5.0]
    with pytest.warns(UserWarning, match="duplicate"):
        model = BiasBaseline().fit(X_a, y_a)
    with pytest.warns(UserWarning, match="already seen"):
        model.partial_fit([[1, 10]], [6.0])
    assert model.interactions_[0, 0] == pytest.approx(3.0)  # (1 + 2 + 6) / 3
    with pytest.warns(UserWarning, match="already seen"):
        model.partial_fit([[1, 10], [3, 10]], [7.0, 2.0])
    assert model.interactions_[0, 0] == pytest.approx(4.0)  # (1 + 2 + 6 + 7) / 4
    assert model.interactions_[1, 0] == pytest.approx(4.0)  # untouched


def test_repeated_weights_are_summed():
    model = Popularity().fit([[1, 10], [2, 10]], [1.0, 2.0])
    with pytest.warns(UserWarning, match="weights were summed"):
        model.partial_fit([[1, 10], [3, 20]], [4.0, 1.0])
    assert_allclose(model.popularity_, [7.0, 1.0])
    assert_array_equal(model.users_, [1, 2, 3])


@pytest.mark.parametrize("estimator", [ItemKNN(), UserKNN()])
def test_changed_feedback_is_an_error(estimator):
    X, y = tiny_ratings()
    model = estimator.fit(X, y)
    with pytest.raises(ValueError, match="fit on explicit feedback but partial_fit got no y"):
        model.partial_fit(X)
    implicit = type(estimator)().fit(X)
    with pytest.raises(ValueError, match="fit on implicit feedback but partial_fit got y"):
        implicit.partial_fit(X, y)


@pytest.mark.parametrize("estimator, feedback", CASES[:1] + CASES[3:4] + CASES[9:10]
                         + CASES[11:12] + CASES[14:15])
def test_partial_fit_validates_like_fit(estimator, feedback):
    X_a, y_a, X_b, y_b = _data(feedback)
    model = estimator.fit(X_a, y_a)
    with pytest.raises(ValueError, match="column"):
        model.partial_fit(X_b.to_numpy()[:, :1], y_b)
    if y_b is not None:
        with pytest.raises(ValueError, match="inconsistent numbers of samples"):
            model.partial_fit(X_b, y_b[:-1])
        with pytest.raises(ValueError, match="NaN"):
            model.partial_fit(X_b, np.full(len(X_b), np.nan))
    numbers = X_b.assign(user_id=np.arange(len(X_b)))  # ids were strings at fit
    with pytest.raises(TypeError, match="user ids are numbers"):
        model.partial_fit(numbers, y_b)
    # A failed call leaves the model as it was.
    assert_array_equal(model.users_, type(estimator)(**estimator.get_params())
                       .fit(X_a, y_a).users_)


def test_bias_baseline_partial_fit_needs_ratings():
    X, y = tiny_ratings()
    with pytest.raises(ValueError, match="requires y"):
        BiasBaseline().fit(X, y).partial_fit(X, None)


def test_extend_vocabulary_encodes_like_fit():
    union, moved = _extend_vocabulary(np.array(["b", "d"], dtype=object),
                                      np.array(["c", "a", "d"], dtype=object))
    assert_array_equal(union, ["a", "b", "c", "d"])
    assert_array_equal(union[moved], ["b", "d"])


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-9), ("float32", 1e-4)])
def test_ease_low_rank_update_equals_fit(dtype, rtol, monkeypatch):
    """A batch touching few users updates EASE's inverse (Woodbury), not a new solve:
    a new user, new items of a known user, a new item, a repeated pair; three batches."""
    from sklearn_recs.datasets import make_interactions

    X, _ = make_interactions(n_users=60, n_items=120, n_interactions=1500, implicit=True,
                             random_state=0, return_X_y=True)
    X = X[["user_id", "item_id"]]
    seen = set(zip(X["user_id"], X["item_id"]))
    fresh = [i for i in range(120) if (0, i) not in seen][:4]
    batches = [
        pd.DataFrame({"user_id": [1000] * 6, "item_id": [0, 1, 2, 3, 4, 5]}),
        pd.DataFrame({"user_id": [0] * 4 + [1], "item_id": fresh[:3] + [5000, 5000]}),
        X.iloc[:2],  # pairs seen before: their weights add up
    ]
    model = EASE(alpha=5.0, dtype=dtype).fit(X)
    monkeypatch.setattr(EASE, "_solve", lambda *args: pytest.fail("solved again"))
    for batch in batches:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(batch)
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = EASE(alpha=5.0, dtype=dtype).fit(pd.concat([X, *batches]))
    assert_array_equal(model.items_, reference.items_)
    scale = np.abs(reference.coef_).max()
    assert_allclose(model.coef_, reference.coef_, rtol=0, atol=rtol * scale)
    users = reference.users_
    assert_array_equal(model.recommend(users, top_n=5), reference.recommend(users, top_n=5))


def test_ease_large_update_solves_again(monkeypatch):
    """Most users touched: the update's rank is too high, so the model is solved again."""
    X, _ = tiny_ratings()
    model = EASE(alpha=5.0).fit(X.iloc[::2])
    calls = []
    original = EASE._solve
    monkeypatch.setattr(EASE, "_solve", lambda *args: calls.append(1) or original(*args))
    model.partial_fit(X.iloc[1::2])
    assert calls == [1]


def test_ease_new_alpha_solves_again():
    """partial_fit after set_params reads the new value, as fit on all the data would."""
    X, _ = tiny_ratings()
    model = EASE(alpha=5.0, dtype="float64").fit(X.iloc[:-3]).set_params(alpha=50.0)
    model.partial_fit(X.iloc[-3:])
    reference = EASE(alpha=50.0, dtype="float64").fit(X)
    assert_allclose(model.coef_, reference.coef_, atol=1e-12)

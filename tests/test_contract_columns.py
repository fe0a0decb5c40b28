"""The data contract, enforced: id columns read by name, implicit y validated for all.

A DataFrame with columns ``user_id`` and ``item_id`` is read by those names
whatever their order; with one of them only, it is rejected; with neither,
column 0 holds users and column 1 items (as for an array).
"""

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from sklearn_recs.baselines import BiasBaseline, Popularity
from sklearn_recs.linear_model import EASE
from sklearn_recs.model_selection import train_test_split
from sklearn_recs.neighbors import ItemKNN
from sklearn_recs.utils._testing import tiny_ratings

from _estimators import ESTIMATORS


# Implicit models get small integer weights on purpose here (counts, or
# ratings read as weights against a reference), which the ratings check flags.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*y looks like explicit ratings:sklearn_recs.exceptions.DataWarning")

COLUMNS = ["user_id", "item_id", "timestamp", "rating"]
ORDERS = list(itertools.permutations(COLUMNS))


def _frame():
    X, y = tiny_ratings()
    return X.assign(rating=np.asarray(y)), np.asarray(y)


@pytest.mark.parametrize("estimator", [BiasBaseline(), Popularity(), ItemKNN(), EASE()],
                         ids=lambda e: type(e).__name__)
def test_named_columns_in_any_order_give_the_same_model(estimator):
    frame, y = _frame()
    reference = clone(estimator).fit(frame[COLUMNS], y)
    pairs = frame[["user_id", "item_id"]].to_numpy()[::3]
    expected = reference.predict(pairs)
    users = reference.users_[:4]
    for order in ORDERS:  # 24 orders, the reported one (item_id before user_id) among them
        model = clone(estimator).fit(frame[list(order)], y)
        np.testing.assert_array_equal(model.users_, reference.users_)
        np.testing.assert_array_equal(model.items_, reference.items_)
        # predict reads the pairs by name too
        X_pairs = pd.DataFrame(pairs, columns=["user_id", "item_id"])[["item_id", "user_id"]]
        np.testing.assert_allclose(model.predict(X_pairs), expected)
        np.testing.assert_array_equal(model.recommend(users), reference.recommend(users))


def test_swapped_names_are_not_read_by_position():
    frame, y = _frame()
    swapped = frame[["item_id", "user_id"]]
    model = BiasBaseline().fit(swapped, y)
    # users are the user_id column (30 users), not column 0 (20 items)
    assert len(model.users_) == frame["user_id"].nunique() == 30
    assert len(model.items_) == frame["item_id"].nunique() == 20


@pytest.mark.parametrize("present", ["user_id", "item_id"])
def test_one_documented_name_without_the_other_is_rejected(present):
    frame, y = _frame()
    X = frame[["user_id", "item_id"]].rename(columns={
        name: "id" for name in ("user_id", "item_id") if name != present})
    with pytest.raises(ValueError, match=rf"has a column '{present}' but no .*expected both "
                                         r"\['user_id', 'item_id'\].*X has columns"):
        BiasBaseline().fit(X, y)


def test_unnamed_columns_are_read_by_position():
    frame, y = _frame()
    X = frame[["user_id", "item_id"]].set_axis(["u", "i"], axis=1)
    reference = BiasBaseline().fit(frame[["user_id", "item_id"]], y)
    model = BiasBaseline().fit(X, y)
    np.testing.assert_array_equal(model.users_, reference.users_)


def test_splitters_read_the_ids_by_name():
    frame, y = _frame()
    train, test = train_test_split(frame[["item_id", "timestamp", "user_id"]],
                                   test_size=0.2, random_state=0)
    assert set(test["user_id"]) <= set(train["user_id"])  # users split, by name


# -- implicit y: validated for every estimator that accepts it ----------------------
BAD_Y = {"negative": -1.0, "NaN": np.nan, "inf": np.inf, "-inf": -np.inf, "huge": 1e300}
implicit_estimators = [e for e in ESTIMATORS
                       if not e.__sklearn_tags__().target_tags.required]


@pytest.mark.parametrize("estimator", implicit_estimators, ids=lambda e: repr(e)[:40])
@pytest.mark.parametrize("bad", BAD_Y)
def test_bad_implicit_y_raises_at_fit_for_every_estimator(estimator, bad):
    X = tiny_ratings()[0].to_numpy()[:, :2]
    y = np.ones(len(X))
    y[3] = BAD_Y[bad]
    with pytest.raises(ValueError, match=r"y contains 1 NaN|implicit weights in y must be "
                                         r">= 0|y holds values up to"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clone(estimator).fit(X, y)


# -- wrong input types: what is accepted, how to convert, no hint that does not apply
WRONG_TYPES = {
    "generator": lambda: ((u, i) for u, i in [(0, 1), (1, 2)]),
    "set": lambda: {(0, 1), (1, 2)},
    "dict": lambda: {"user_id": [0, 1], "item_id": [1, 2]},
    "scalar": lambda: 5,
}


@pytest.mark.parametrize("kind", WRONG_TYPES)
def test_wrong_type_messages_say_what_is_accepted(kind):
    model = Popularity().fit([[0, 1], [1, 2]])
    for call in (Popularity().fit, model.predict):
        with pytest.raises(TypeError) as info:
            call(WRONG_TYPES[kind]())
        message = str(info.value)
        assert "array-like" in message and "DataFrame" in message and "Convert it" in message
        assert ".astype" not in message
    if kind != "scalar":  # a scalar is one id
        with pytest.raises(TypeError, match=r"user ids must be array-like \(a list, a 1-D "
                                            r"numpy array, a pandas Series or Index\)"):
            model.recommend(WRONG_TYPES[kind]())


def test_ids_that_are_no_ids_get_no_astype_hint():
    with pytest.raises(TypeError, match=r"item ids .* numbers or strings, one id per element; "
                                        r"got \{1\} of type set") as info:
        Popularity().fit([[0, {1}], [1, {2}]])
    assert ".astype" not in str(info.value)
    with pytest.raises(TypeError, match=r"all numbers or all strings.*\.astype\(str\)"):
        Popularity().fit([[0, "a"], [1, 2]])  # where the hint applies, it stays

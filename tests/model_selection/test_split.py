"""Tests for sklearn_recs.model_selection splitters and train_test_split."""

import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.model_selection import GridSearchCV, cross_validate

from sklearn_recs.exceptions import DataWarning
from sklearn_recs.model_selection import (
    LeaveLastOut,
    PerUserKFold,
    PerUserShuffleSplit,
    PerUserTemporalSplit,
    TemporalSplit,
    train_test_split,
)

DATA_HOME = Path(
    os.environ.get("SKLEARN_RECS_DATA")
    or Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"
)


def make_frame(n_users=60, seed=0, str_ids=False):
    """Interactions with skewed user sizes (some single-row users) and ties."""
    rng = np.random.RandomState(seed)
    sizes = rng.randint(1, 30, size=n_users)
    users = np.repeat(np.arange(n_users), sizes)
    n = users.size
    perm = rng.permutation(n)
    frame = pd.DataFrame({
        "user": users[perm],
        "item": rng.randint(0, 200, size=n),
        "time": rng.randint(0, 50, size=n),  # many ties
    })
    if str_ids:
        frame["user"] = "u" + frame["user"].astype(str)
        frame["item"] = "i" + frame["item"].astype(str)
    return frame


@pytest.fixture(scope="module")
def frame():
    return make_frame()


@pytest.fixture(scope="module")
def ml100k():
    path = DATA_HOME / "ml-100k" / "u.data"
    if not path.exists():
        pytest.skip(f"ml-100k not found at {path}")
    return pd.read_csv(path, sep="\t",
                       names=["user", "item", "rating", "timestamp"])


ALL_SPLITTERS = [
    PerUserKFold(3, random_state=0),
    PerUserKFold(3, shuffle=False),
    PerUserKFold(4, random_state=0, min_rows=2),
    PerUserShuffleSplit(3, test_size=0.25, random_state=0),
    PerUserShuffleSplit(test_size=2, random_state=0),
    PerUserTemporalSplit(0.3, time_column=2),
    LeaveLastOut(2, time_column=2),
    TemporalSplit(0.3, time_column=2),
    TemporalSplit(cutoff=25, time_column=2),
]


def per_user_counts(users, idx):
    return pd.Series(users[idx]).value_counts()


# -- properties common to all splitters ----------------------------------------


@pytest.mark.parametrize("cv", ALL_SPLITTERS, ids=repr)
def test_train_test_disjoint_and_cover(cv, frame):
    splits = list(cv.split(frame))
    assert len(splits) == cv.get_n_splits()
    for train, test in splits:
        assert train.dtype.kind == "i" and test.dtype.kind == "i"
        assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
        assert len(test) > 0 and len(train) > 0
        assert np.intersect1d(train, test).size == 0
        assert np.array_equal(np.union1d(train, test), np.arange(len(frame)))


@pytest.mark.parametrize(
    "cv", [cv for cv in ALL_SPLITTERS if not isinstance(cv, TemporalSplit)],
    ids=repr,
)
def test_per_user_test_users_have_train_rows(cv, frame):
    users = frame["user"].to_numpy()
    for train, test in cv.split(frame):
        assert set(users[test]) <= set(users[train])


@pytest.mark.parametrize("cv", ALL_SPLITTERS, ids=repr)
def test_dataframe_ndarray_and_string_ids_agree(cv):
    as_int = make_frame(seed=1)
    as_str = make_frame(seed=1, str_ids=True)
    reference = list(cv.split(as_int))
    for X in (as_int.to_numpy(), as_str, as_str.to_numpy(),
              as_str.to_numpy().tolist()):
        for (tr0, te0), (tr1, te1) in zip(reference, cv.split(X), strict=True):
            assert np.array_equal(tr0, tr1) and np.array_equal(te0, te1)


@pytest.mark.parametrize("cv", ALL_SPLITTERS, ids=repr)
def test_pickle_and_repr(cv, frame):
    clone = pickle.loads(pickle.dumps(cv))
    assert repr(clone) == repr(cv)
    assert repr(cv).startswith(type(cv).__name__ + "(")
    for (tr0, te0), (tr1, te1) in zip(cv.split(frame), clone.split(frame),
                                      strict=True):
        assert np.array_equal(tr0, tr1) and np.array_equal(te0, te1)


@pytest.mark.parametrize("make_cv", [
    lambda seed: PerUserKFold(3, random_state=seed),
    lambda seed: PerUserShuffleSplit(2, random_state=seed),
])
def test_random_state(make_cv, frame):
    def tests(cv):
        return [test for _, test in cv.split(frame)]

    first, again, other = tests(make_cv(0)), tests(make_cv(0)), tests(make_cv(1))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    # a RandomState instance advances: two calls give different splits
    cv = make_cv(np.random.RandomState(0))
    assert not np.array_equal(tests(cv)[0], tests(cv)[0])


# -- PerUserKFold ----------------------------------------------------------------


@pytest.mark.parametrize("shuffle", [True, False])
def test_kfold_partitions_eligible_rows(frame, shuffle):
    k = 4
    users = frame["user"].to_numpy()
    sizes = frame["user"].value_counts()
    cv = PerUserKFold(k, shuffle=shuffle, random_state=0 if shuffle else None)
    tests = [test for _, test in cv.split(frame)]
    all_test = np.concatenate(tests)
    eligible_rows = np.flatnonzero(np.isin(users, sizes.index[sizes >= k]))
    assert np.array_equal(np.sort(all_test), eligible_rows)  # a partition
    for test in tests:
        counts = per_user_counts(users, test)
        assert set(counts.index) == set(sizes.index[sizes >= k])
        n_u = sizes[counts.index]
        assert np.all(counts >= n_u // k) and np.all(counts <= -(-n_u // k))


def test_kfold_no_shuffle_cuts_consecutive_blocks():
    X = np.array([[0, i] for i in range(6)] + [[1, i] for i in range(3)])
    tests = [test.tolist() for _, test in PerUserKFold(3, shuffle=False).split(X)]
    assert tests == [[0, 1, 6], [2, 3, 7], [4, 5, 8]]


def test_kfold_small_min_rows_keeps_train_rows(frame):
    users = frame["user"].to_numpy()
    sizes = frame["user"].value_counts()
    cv = PerUserKFold(5, random_state=0, min_rows=2)
    tests = [test for _, test in cv.split(frame)]
    counts = per_user_counts(users, np.concatenate(tests))
    assert set(counts.index) == set(sizes.index[sizes >= 2])
    assert np.all(counts == sizes[counts.index])  # each eligible row once


# -- per-user holdouts -------------------------------------------------------------


@pytest.mark.parametrize("test_size", [0.2, 0.5, 0.9, 1, 3])
def test_shuffle_split_per_user_counts(frame, test_size):
    users = frame["user"].to_numpy()
    sizes = frame["user"].value_counts()
    train, test = next(PerUserShuffleSplit(test_size=test_size, random_state=0)
                       .split(frame))
    if isinstance(test_size, float):
        expected = np.floor(test_size * sizes + 0.5)
    else:
        expected = pd.Series(test_size, index=sizes.index)
    expected = expected.clip(1, sizes - 1).where(sizes >= 2, 0).astype(int)
    got = per_user_counts(users, test).reindex(sizes.index, fill_value=0)
    assert got.equals(expected.rename(got.name))


def test_min_rows_keeps_small_users_in_train(frame):
    users = frame["user"].to_numpy()
    sizes = frame["user"].value_counts()
    for cv in (PerUserShuffleSplit(random_state=0, min_rows=10),
               LeaveLastOut(time_column="time", min_rows=10)):
        _, test = next(cv.split(frame))
        assert set(users[test]) == set(sizes.index[sizes >= 10])


@pytest.mark.parametrize("cv", [PerUserTemporalSplit(0.3, time_column="time"),
                                LeaveLastOut(2, time_column="time")], ids=repr)
def test_per_user_temporal_order(cv, frame):
    train, test = next(cv.split(frame))
    in_test = np.zeros(len(frame), bool)
    in_test[test] = True
    data = frame.assign(test=in_test, row=np.arange(len(frame)))
    for _, rows in data.groupby("user"):
        tr, te = rows[~rows.test], rows[rows.test]
        if len(te):
            assert te.time.min() >= tr.time.max()
            # ties broken by row order: a tied train row comes before
            first = te.time.min()
            tie = tr.row[tr.time == first]
            assert (tie.max() if len(tie) else -1) < te.row[te.time == first].min()
    if isinstance(cv, LeaveLastOut):
        sizes = frame["user"].value_counts()
        got = frame["user"].iloc[test].value_counts()
        assert np.all(got == np.minimum(2, sizes[got.index] - 1))


def test_leave_last_out_ties_and_datetimes():
    dates = pd.to_datetime(["2020-01-03", "2020-01-01", "2020-01-03",
                            "2020-01-02", "2020-01-02"])
    X = pd.DataFrame({"user": ["a", "a", "a", "b", "b"], "item": [1, 2, 3, 1, 2],
                      "when": dates})
    _, test = next(LeaveLastOut(time_column="when").split(X))
    assert test.tolist() == [2, 4]  # the later row of each tie
    aware = X.assign(when=X.when.dt.tz_localize("Europe/Paris"))
    assert next(LeaveLastOut(time_column="when").split(aware))[1].tolist() == [2, 4]
    assert LeaveLastOut(3).test_size == 3


# -- TemporalSplit ---------------------------------------------------------------


def test_temporal_split_fraction_and_cutoff(frame):
    time = frame["time"].to_numpy()
    train, test = next(TemporalSplit(0.3, time_column="time").split(frame))
    assert len(test) == round(0.3 * len(frame))
    assert time[test].min() >= time[train].max()
    train, test = next(TemporalSplit(cutoff=25, time_column="time").split(frame))
    assert np.all(time[test] >= 25) and np.all(time[train] < 25)
    assert len(next(TemporalSplit(7, time_column=2).split(frame))[1]) == 7


def test_temporal_split_drop_cold_users():
    X = np.array([[0, 1, 1], [1, 1, 2], [0, 2, 3], [2, 1, 4], [1, 2, 5], [3, 3, 6]])
    assert next(TemporalSplit(cutoff=4).split(X))[1].tolist() == [3, 4, 5]
    # rows 3 and 5 belong to users 2 and 3, who have no training row
    with pytest.warns(DataWarning, match="dropped 2 test rows of 2 users"):
        train, test = next(TemporalSplit(cutoff=4, drop_cold_users=True).split(X))
    assert train.tolist() == [0, 1, 2] and test.tolist() == [4]


def test_temporal_split_dates():
    X = pd.DataFrame({"user": [1, 2, 1, 2], "item": [1, 1, 2, 2],
                      "t": pd.to_datetime(["1998-01-01", "1998-02-01",
                                           "1998-03-01", "1998-04-01"])})
    cv = TemporalSplit(cutoff="1998-03-01", time_column="t")
    assert next(cv.split(X))[1].tolist() == [2, 3]
    cv = TemporalSplit(cutoff=pd.Timestamp("1998-02-15", tz="UTC"), time_column="t")
    assert next(cv.split(X))[1].tolist() == [2, 3]
    # an object column of Python datetimes (e.g. X.to_numpy())
    assert next(TemporalSplit(0.5).split(X.to_numpy()))[1].tolist() == [2, 3]


# -- integration with scikit-learn --------------------------------------------------


@pytest.mark.parametrize("cv", [PerUserKFold(3, random_state=0),
                                PerUserShuffleSplit(2, random_state=0),
                                LeaveLastOut(time_column="timestamp"),
                                TemporalSplit(time_column="timestamp")], ids=repr)
def test_cross_validate_and_grid_search(cv):
    frame = make_frame(seed=2).rename(columns={"time": "timestamp"})
    y = np.random.RandomState(0).randint(1, 6, size=len(frame)).astype(float)
    result = cross_validate(DummyRegressor(), frame, y, cv=cv,
                            scoring="neg_mean_absolute_error")
    assert len(result["test_score"]) == cv.get_n_splits()
    search = GridSearchCV(DummyRegressor(), {"strategy": ["mean", "median"]},
                          cv=cv, scoring="neg_mean_absolute_error").fit(frame, y)
    assert search.n_splits_ == cv.get_n_splits()


# -- train_test_split ---------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["per_user", "leave_last", "temporal", "random"])
def test_train_test_split_types_and_strategies(frame, strategy):
    y = pd.Series(np.arange(len(frame), dtype=float), index=frame.index + 100)
    kwargs = dict(strategy=strategy, random_state=0, time_column="time")
    X_train, X_test, y_train, y_test = train_test_split(frame, y, **kwargs)
    assert isinstance(X_train, pd.DataFrame) and isinstance(y_test, pd.Series)
    assert len(X_train) + len(X_test) == len(frame)
    assert np.array_equal(X_train.index + 100, y_train.index)  # rows aligned
    assert X_train.index.is_monotonic_increasing
    assert abs(len(X_test) - 0.2 * len(frame)) < 0.05 * len(frame)
    kwargs["time_column"] = 2
    parts = train_test_split(frame.to_numpy(), y.to_numpy(), **kwargs)
    assert all(isinstance(part, np.ndarray) for part in parts)
    assert np.array_equal(parts[1], X_test.to_numpy())
    assert np.array_equal(parts[3], y_test.to_numpy())
    X_train, X_test = train_test_split(frame.to_numpy().tolist(), **kwargs)
    assert isinstance(X_train, list) and X_test == parts[1].tolist()


def test_train_test_split_per_user_is_per_user_shuffle_split(frame):
    _, X_test = train_test_split(frame, test_size=0.3, random_state=5)
    _, test = next(PerUserShuffleSplit(test_size=0.3, random_state=5).split(frame))
    assert np.array_equal(X_test.index, test)


# -- bad input ------------------------------------------------------------------


@pytest.mark.parametrize("make, error, match", [
    (lambda: PerUserKFold(1), ValueError, "n_splits=1 is invalid"),
    (lambda: PerUserKFold(2.5), TypeError, "n_splits=2.5 is invalid"),
    (lambda: PerUserKFold(3, shuffle=False, random_state=0), ValueError,
     "random_state=0 has no effect since shuffle=False"),
    (lambda: PerUserKFold(3, min_rows=1), ValueError, "min_rows=1 is invalid"),
    (lambda: PerUserShuffleSplit(0), ValueError, "n_splits=0 is invalid"),
    (lambda: PerUserShuffleSplit(test_size=1.5), ValueError,
     r"test_size=1.5 is invalid; pass a float in \(0, 1\)"),
    (lambda: PerUserShuffleSplit(test_size=0.0), ValueError, "test_size=0.0"),
    (lambda: PerUserShuffleSplit(test_size=0), ValueError, "int >= 1"),
    (lambda: PerUserShuffleSplit(test_size=-2), ValueError, "test_size=-2"),
    (lambda: PerUserShuffleSplit(test_size="20%"), TypeError, "test_size='20%'"),
    (lambda: PerUserTemporalSplit(test_size=True), TypeError, "test_size=True"),
    (lambda: PerUserTemporalSplit(time_column=2.0), TypeError, "time_column=2.0"),
    (lambda: LeaveLastOut(0), ValueError, "n=0 is invalid"),
    (lambda: TemporalSplit(0.2, cutoff=5), ValueError, "pass only one"),
])
def test_bad_parameters(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_too_few_rows_per_user():
    X = np.array([[u, i] for u in range(4) for i in range(3)])
    with pytest.raises(ValueError, match=r"n_splits=5 is more than the rows of "
                                         r"every user \(max 3\).*at most 3"):
        next(PerUserKFold(5).split(X))
    with pytest.raises(ValueError, match=r"min_rows=4 is more .*\(max 3\)"):
        next(PerUserKFold(3, min_rows=4).split(X))
    singles = np.array([[u, 0] for u in range(4)])
    with pytest.raises(ValueError, match="Every user has a single row"):
        next(PerUserShuffleSplit().split(singles))
    one_user = np.array([[0, 0], [0, 1], [1, 0]])
    with pytest.raises(ValueError, match="would have no test rows"):
        next(PerUserKFold(3, min_rows=2, random_state=0).split(one_user))


def test_bad_time_column(frame):
    with pytest.raises(KeyError, match=r"time_column='ts' is not a column of X.*"
                                       r"\['user', 'item', 'time'\]"):
        next(LeaveLastOut(time_column="ts").split(frame))
    with pytest.raises(IndexError, match="time_column=5 is not a column of X.*"
                                         "X has 3 columns"):
        next(PerUserTemporalSplit(time_column=5).split(frame.to_numpy()))
    with pytest.raises(KeyError, match="X is an array without column names"):
        next(TemporalSplit(time_column="time").split(frame.to_numpy()))
    with pytest.raises(TypeError, match="time column time_column=2 holds 'string'"
                                        ".*pd.to_datetime"):
        next(LeaveLastOut().split(frame.assign(time="2020-01-01")))
    with pytest.raises(TypeError, match="has dtype <U"):
        next(LeaveLastOut().split(np.array([["1", "2", "x"]])))
    with pytest.raises(ValueError, match="1 missing value.*first at row 3"):
        nan_time = frame["time"].astype(float).mask(frame.index == 3)
        next(LeaveLastOut().split(frame.assign(time=nan_time)))
    nat = pd.Series(pd.to_datetime(["2020-01-01", None, "2020-01-02"]))
    with pytest.raises(ValueError, match="1 missing value.*first at row 1"):
        X = pd.DataFrame({"u": [1, 1, 2], "i": [1, 2, 3], "t": nat})
        next(TemporalSplit(0.5).split(X))


def test_bad_cutoff(frame):
    with pytest.raises(ValueError, match="cutoff=100 leaves the test set empty.*"
                                         "from 0 to 49"):
        next(TemporalSplit(cutoff=100, time_column="time").split(frame))
    with pytest.raises(TypeError, match="cutoff='2020-01-01' is not a number"):
        next(TemporalSplit(cutoff="2020-01-01", time_column="time").split(frame))
    dated = frame.assign(time=pd.to_datetime(frame["time"], unit="D"))
    with pytest.raises(TypeError, match="cutoff=25 is a number"):
        next(TemporalSplit(cutoff=25, time_column="time").split(dated))
    with pytest.raises(ValueError, match="puts 0 of the"):
        next(TemporalSplit(0.001, time_column="time").split(frame.head(10)))
    X = np.array([[0, 1, 1], [1, 1, 2]])
    with pytest.raises(ValueError, match="drop_cold_users=True left no test rows"), \
            pytest.warns(DataWarning, match="dropped 1 test rows of 1 users"):
        next(TemporalSplit(cutoff=2, drop_cold_users=True).split(X))


def test_bad_X():
    with pytest.raises(ValueError, match="X is empty"):
        next(PerUserKFold().split(np.empty((0, 3))))
    with pytest.raises(ValueError, match="column 0 holds user ids"):
        next(PerUserShuffleSplit().split(np.arange(10).reshape(-1, 1)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        next(PerUserShuffleSplit().split(np.zeros((4, 2)), np.zeros(3)))
    with pytest.raises(ValueError, match=r"strategy='loo' is not supported; "
                                         r"choose one of \['per_user'"):
        train_test_split(np.zeros((4, 2)), strategy="loo")
    with pytest.raises(ValueError, match="X is empty"):
        train_test_split(np.empty((0, 2)), strategy="random")


# -- MovieLens 100k ------------------------------------------------------------------


def test_ml100k_per_user_holdout(ml100k):
    X, y = ml100k[["user", "item", "timestamp"]], ml100k["rating"]
    sizes = X["user"].value_counts()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    assert len(X_train) + len(X_test) == len(X) == 100_000
    got = X_test["user"].value_counts()[sizes.index]
    assert np.all(np.abs(got - 0.2 * sizes) <= 0.5)  # every user has >= 20 rows
    assert set(X_test["user"]) == set(X_train["user"])


def test_ml100k_kfold(ml100k):
    X = ml100k[["user", "item", "timestamp"]]
    users = X["user"].to_numpy()
    sizes = X["user"].value_counts()
    tests = []
    for train, test in PerUserKFold(5, random_state=0).split(X):
        counts = per_user_counts(users, test)[sizes.index]
        assert np.all(np.abs(counts - sizes / 5) < 1)
        assert np.isin(users[test], users[train]).all()
        tests.append(test)
    assert np.array_equal(np.sort(np.concatenate(tests)), np.arange(len(X)))


def test_ml100k_temporal(ml100k):
    X = ml100k[["user", "item", "timestamp"]]
    train, test = next(LeaveLastOut(time_column="timestamp").split(X))
    assert len(test) == X["user"].nunique() == 943
    last = X.groupby("user")["timestamp"].max()
    assert np.all(X["timestamp"].iloc[test].to_numpy() == last[X["user"].iloc[test]])
    train, test = next(TemporalSplit(0.2, time_column="timestamp").split(X))
    assert X["timestamp"].iloc[test].min() >= X["timestamp"].iloc[train].max()
    cold = ~np.isin(X["user"].iloc[test], X["user"].iloc[train])
    with pytest.warns(DataWarning, match=f"dropped {cold.sum()} test rows"):
        _, warm_test = next(TemporalSplit(0.2, time_column="timestamp",
                                          drop_cold_users=True).split(X))
    assert cold.any() and len(warm_test) == len(test) - cold.sum()

"""Cross-validation splitters that respect recommender evaluation protocols.

Every splitter reads ``X`` as the package's interaction data: column 0 holds
user ids, column 1 item ids, and a time column (``time_column``) is read only
by the temporal splitters. Each one follows scikit-learn's splitter API
(``split(X, y=None, groups=None)`` and ``get_n_splits``), so it can be passed
as ``cv=`` to :class:`~sklearn.model_selection.GridSearchCV` or
:func:`~sklearn.model_selection.cross_validate`.

All per-user splitters share one vectorised step: rank each row among its
user's rows (randomly, by row order or by time) with a single sort over a
unique ``user_code * n_samples + tiebreak`` key, then compare the rank with a
per-user threshold. No Python loop runs over users, so ten million rows split
in a few seconds.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.model_selection import BaseCrossValidator, ShuffleSplit
from sklearn.utils import check_random_state

from ..exceptions import DataWarning
from ..utils._params import store_params
from ..utils._stack import user_stacklevel
from ..utils.validation import check_ids, check_k, get_column

__all__ = [
    "LeaveLastOut",
    "PerUserKFold",
    "PerUserShuffleSplit",
    "PerUserTemporalSplit",
    "TemporalSplit",
    "train_test_split",
]

_STRATEGIES = ("per_user", "leave_last", "temporal", "random")


# --------------------------------------------------------------------------
# Parameter checks (run in ``__init__``, as scikit-learn's splitters do)
# --------------------------------------------------------------------------


def _check_n_splits(n_splits: Any, owner: str) -> None:
    check_k(n_splits, name="n_splits", estimator=owner, minimum=2,
            why="Cross-validation needs at least two folds; use "
                "PerUserShuffleSplit for a single holdout.")


def _check_min_rows(min_rows: Any, owner: str) -> None:
    check_k(min_rows, name="min_rows", estimator=owner, minimum=2,
            why="A user needs at least 2 rows to have one in test and one in train.")


def _check_test_size(test_size: Any, owner: str, *, unit: str) -> None:
    """Check a float fraction in (0, 1) or an int count >= 1 of ``unit``."""
    fix = (
        f"pass a float in (0, 1) (e.g. 0.2, a fraction of the {unit}) or an "
        f"int >= 1 (a number of {unit})."
    )
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"{owner}: test_size={test_size!r} is invalid; {fix}")
    if isinstance(test_size, numbers.Integral):
        if test_size < 1:
            raise ValueError(f"{owner}: test_size={test_size} is invalid; {fix}")
    elif not 0 < test_size < 1:
        raise ValueError(f"{owner}: test_size={test_size} is invalid; {fix}")


def _check_y_length(X: Any, y: Any, owner: str) -> None:
    """Check that ``y`` has one value per row of ``X`` (when given)."""
    if y is None:
        return
    if not hasattr(y, "__len__") or isinstance(y, str):
        raise TypeError(
            f"{owner}: y must be array-like with one value per row of X; got "
            f"{type(y).__name__}."
        )
    if len(y) != len(X):
        raise ValueError(
            f"{owner}: X and y have inconsistent numbers of samples: X has "
            f"{len(X)} rows, y has {len(y)}. Pass one y value per row of X."
        )


def _check_time_column(time_column: Any, owner: str) -> None:
    if isinstance(time_column, bool) or not isinstance(
        time_column, numbers.Integral | str
    ):
        raise TypeError(
            f"{owner}: time_column={time_column!r} is invalid; pass the "
            "position (int) or, for a DataFrame, the name (str) of the time "
            "column."
        )


# --------------------------------------------------------------------------
# Data helpers shared by the splitters
# --------------------------------------------------------------------------


def _user_codes(X: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """Return per-row user codes (0..n_users-1) and rows per user."""
    users = check_ids(
        get_column(X, 0, estimator=owner),
        what="user ids (column 0 of X)",
        estimator=owner,
    )
    codes, uniques = pd.factorize(users)
    return codes, np.bincount(codes, minlength=len(uniques))


def _rank_within_user(
    codes: np.ndarray, counts: np.ndarray, tiebreak: np.ndarray
) -> np.ndarray:
    """Rank every row among its user's rows, in increasing ``tiebreak``.

    ``tiebreak`` must be a permutation of ``0..n-1``, so that the sort key
    ``code * n + tiebreak`` is unique and the result does not depend on the
    sort algorithm.
    """
    n = codes.size
    order = np.argsort(codes.astype(np.int64) * n + tiebreak)
    starts = np.cumsum(counts) - counts
    ranks = np.empty(n, dtype=np.intp)
    ranks[order] = np.arange(n) - np.repeat(starts, counts)
    return ranks


def _time_order(key: np.ndarray) -> np.ndarray:
    """Rank of each row in time order, ties broken by row order."""
    order = np.argsort(key, kind="stable")
    ranks = np.empty(key.size, dtype=np.int64)
    ranks[order] = np.arange(key.size)
    return ranks


def _check_some_eligible(counts: np.ndarray, min_rows: int, owner: str,
                         param: str) -> np.ndarray:
    """Mask of users with at least ``min_rows`` rows; raise if there are none.

    ``param`` names the parameter that set ``min_rows``, for the message.
    """
    eligible = counts >= min_rows
    if not eligible.any():
        most = int(counts.max())
        if most < 2:
            fix = ("Every user has a single row; per-user splitting needs users "
                   "with at least 2 rows (use TemporalSplit or ShuffleSplit "
                   "otherwise).")
        elif param == "n_splits":
            fix = (f"Lower n_splits to at most {most}, or set min_rows (>= 2) to "
                   "let users with fewer rows than folds into some test folds.")
        else:
            fix = f"Lower {param} to at most {most}."
        raise ValueError(
            f"{owner}: {param}={min_rows} is more than the rows of every user "
            f"(max {most}), so no user can have a test row. {fix}"
        )
    return eligible


def _holdout_mask(
    codes: np.ndarray,
    counts: np.ndarray,
    ranks: np.ndarray,
    test_size: float | int,
    min_rows: int,
    owner: str,
) -> np.ndarray:
    """Test mask holding out, per user, the rows of lowest ``ranks``.

    A float ``test_size`` holds out ``floor(test_size * n_u + 0.5)`` rows of a
    user with ``n_u`` rows, an int holds out ``test_size`` rows; either is
    clipped to ``[1, n_u - 1]`` and is 0 for users with fewer than
    ``min_rows`` rows.
    """
    eligible = _check_some_eligible(counts, min_rows, owner, "min_rows")
    if isinstance(test_size, numbers.Integral):
        n_test = np.full(counts.shape, int(test_size))
    else:
        n_test = np.floor(test_size * counts + 0.5).astype(np.int64)
    n_test = np.where(eligible, np.clip(n_test, 1, counts - 1), 0)
    return ranks < n_test[codes]


def _as_time_key(values: np.ndarray, name: str, owner: str
                 ) -> tuple[np.ndarray, bool]:
    """Return a sortable numeric key for a time column and whether it holds dates.

    Dates (datetime64, pandas Timestamps with or without time zone, Python
    datetimes) become int64 nanoseconds since the epoch in UTC; naive dates
    are read as UTC.
    """
    kind = values.dtype.kind
    if kind == "O":
        missing = pd.isna(values)
        if missing.any():
            _raise_missing(missing, name, owner)
        inferred = pd.api.types.infer_dtype(values, skipna=False)
        if inferred == "integer":
            return _as_time_key(values.astype(np.int64), name, owner)
        if inferred in ("floating", "mixed-integer-float", "decimal"):
            return _as_time_key(values.astype(np.float64), name, owner)
        if inferred in ("datetime", "datetime64", "date"):
            try:
                dates = pd.DatetimeIndex(pd.to_datetime(values, utc=True))
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"{owner}: the time column {name} could not be read as "
                    f"dates ({exc}). Convert it with pd.to_datetime(..., "
                    "utc=True) first."
                ) from exc
            values = dates.tz_convert(None).to_numpy()
            kind = "M"
        else:
            example = next(
                (v for v in values if not isinstance(v, numbers.Number)),
                values[0],
            )
            raise TypeError(
                f"{owner}: the time column {name} holds {inferred!r} values "
                f"(e.g. {example!r}); it must be numeric (e.g. unix seconds) "
                "or datetime64. Convert it with pd.to_datetime(...) or "
                ".astype(float), or set time_column to the right column."
            )
    if kind == "M":
        values = values.astype("datetime64[ns]")
        missing = np.isnat(values)
        if missing.any():
            _raise_missing(missing, name, owner)
        return values.view(np.int64), True
    if kind in "iu":
        return values, False
    if kind == "f":
        missing = np.isnan(values)
        if missing.any():
            _raise_missing(missing, name, owner)
        return values, False
    raise TypeError(
        f"{owner}: the time column {name} has dtype {values.dtype}; it must be "
        "numeric (e.g. unix seconds) or datetime64. Convert it with "
        "pd.to_datetime(...) or .astype(float), or set time_column to the "
        "right column."
    )


def _raise_missing(missing: np.ndarray, name: str, owner: str) -> None:
    raise ValueError(
        f"{owner}: the time column {name} has {int(missing.sum())} missing "
        f"value(s) (NaN/NaT/None), first at row {int(np.flatnonzero(missing)[0])}."
        " Drop or fill those rows before splitting."
    )


def _time_key(X: Any, time_column: int | str, owner: str
              ) -> tuple[np.ndarray, bool]:
    """Read ``X[:, time_column]`` and convert it with :func:`_as_time_key`."""
    try:
        values = get_column(X, time_column)
    except (KeyError, IndexError) as exc:
        raise type(exc)(
            f"{owner}: time_column={time_column!r} is not a column of X: "
            f"{exc.args[0]} Set time_column to the position or name of the "
            "timestamp column."
        ) from exc
    return _as_time_key(values, f"time_column={time_column!r}", owner)


# --------------------------------------------------------------------------
# Splitters
# --------------------------------------------------------------------------


class _InteractionSplitter(BaseCrossValidator):
    """Base of the splitters: ``split`` over ``_iter_masks`` train/test masks."""

    def split(
        self, X: ArrayLike, y: ArrayLike | None = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Generate row indices to split interactions into train and test sets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_columns >= 2)
            Interactions: column 0 holds user ids, column 1 item ids, and
            temporal splitters read ``time_column``. A DataFrame or a 2-D
            array.
        y : array-like of shape (n_samples,), default=None
            Ratings or weights; only their length is checked.
        groups : object
            Always ignored, exists for compatibility.

        Yields
        ------
        train : ndarray of shape (n_train,)
            The training row indices for that split, in increasing order.
        test : ndarray of shape (n_test,)
            The test row indices for that split, in increasing order.
        """
        if not hasattr(X, "shape"):  # a list of rows: keep each column's type
            X = np.asarray(X, dtype=object)
        get_column(X, 0, estimator=type(self).__name__)  # shape errors first
        _check_y_length(X, y, type(self).__name__)
        for train_mask, test_mask in self._iter_masks(X):
            yield np.flatnonzero(train_mask), np.flatnonzero(test_mask)

    def _iter_masks(self, X: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (train_mask, test_mask) boolean arrays over the rows of X."""
        for test_mask in self._iter_test_masks(X):
            yield ~test_mask, test_mask

    def get_n_splits(
        self, X: Any = None, y: Any = None, groups: Any = None
    ) -> int:
        """Return the number of splitting iterations.

        Parameters
        ----------
        X : object
            Always ignored, exists for compatibility.
        y : object
            Always ignored, exists for compatibility.
        groups : object
            Always ignored, exists for compatibility.

        Returns
        -------
        n_splits : int
            The number of splits.
        """
        return getattr(self, "n_splits", 1)  # single-split classes have none


class PerUserKFold(_InteractionSplitter):
    """K-fold cross-validation within each user's rows.

    Each user's rows are spread over the ``n_splits`` folds (a user-stratified
    K-fold), so every test user keeps most of their rows in training: with
    ``n_u`` rows, a user has ``floor(n_u / n_splits)`` or
    ``ceil(n_u / n_splits)`` rows in each test fold. The folds' test sets
    partition the rows of the eligible users.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    shuffle : bool, default=True
        Whether to shuffle each user's rows before cutting them into folds
        (and which fold gets a user's larger share). If False, each user's
        rows are cut into consecutive blocks in row order, like
        :class:`~sklearn.model_selection.KFold`.
    random_state : int, RandomState instance or None, default=None
        Controls the shuffling when ``shuffle=True``. Pass an int for the
        same folds on every call to :meth:`split`.
    min_rows : int, default=None
        Users with fewer rows stay entirely in train in every fold. None
        means ``n_splits``, so that every eligible user is in every test
        fold. A smaller value (at least 2) lets users with fewer rows than
        folds appear in ``n_u`` of the test folds; they still keep training
        rows in every fold.

    See Also
    --------
    PerUserShuffleSplit : Repeated per-user random holdout.
    sklearn.model_selection.GroupKFold : Folds of whole users (cold-start).

    Notes
    -----
    Users with fewer than ``min_rows`` rows never appear in a test set, so
    the test sets cover only the eligible users; their rows are in every
    training set. :meth:`split` raises a ValueError when no user is eligible.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.model_selection import PerUserKFold
    >>> X = np.array([[user, item] for user in range(3) for item in range(4)])
    >>> cv = PerUserKFold(n_splits=2, random_state=0)
    >>> cv
    PerUserKFold(min_rows=None, n_splits=2, random_state=0, shuffle=True)
    >>> for train, test in cv.split(X):
    ...     print(len(train), len(test), np.unique(X[test, 0]))
    6 6 [0 1 2]
    6 6 [0 1 2]
    """

    def __init__(
        self,
        n_splits: int = 5,
        *,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        min_rows: int | None = None,
    ) -> None:
        owner = type(self).__name__
        _check_n_splits(n_splits, owner)
        if min_rows is not None:
            _check_min_rows(min_rows, owner)
        if not shuffle and random_state is not None:
            raise ValueError(
                f"{owner}: random_state={random_state!r} has no effect since "
                "shuffle=False. Leave random_state=None, or set shuffle=True."
            )
        store_params(self, locals())

    def _iter_test_masks(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[np.ndarray]:
        owner = type(self).__name__
        k = self.n_splits
        codes, counts = _user_codes(X, owner)
        if self.min_rows is None:
            min_rows, param = k, "n_splits"
        else:
            min_rows, param = self.min_rows, "min_rows"
        eligible = _check_some_eligible(counts, min_rows, owner, param)
        n = codes.size
        if self.shuffle:
            rng = check_random_state(self.random_state)
            ranks = _rank_within_user(codes, counts, rng.permutation(n))
            offsets = rng.randint(k, size=counts.size)
        else:
            ranks = _rank_within_user(codes, counts, np.arange(n))
            offsets = np.zeros(counts.size, dtype=np.intp)
        row_counts = counts[codes]
        fold = (ranks * k // row_counts + offsets[codes]) % k
        fold[~eligible[codes]] = -1
        sizes = np.bincount(fold[fold >= 0], minlength=k)
        if not sizes.all():
            raise ValueError(
                f"{owner}: fold {int(np.argmin(sizes))} would have no test "
                f"rows: too few users have min_rows={min_rows} or more rows "
                f"for n_splits={k} folds. Lower n_splits, or raise min_rows."
            )
        for i in range(k):
            yield fold == i


class PerUserShuffleSplit(_InteractionSplitter):
    """Per-user random holdout, optionally repeated.

    For each user with ``n_u >= min_rows`` rows, a random
    ``test_size`` share of their rows goes to test and the rest to train:
    the "per-user random 80/20 holdout" of top-N evaluation. Every test user
    keeps at least one training row.

    Parameters
    ----------
    n_splits : int, default=1
        Number of independent re-shuffled splits.
    test_size : float or int, default=0.2
        A float in (0, 1) holds out that fraction of each user's rows,
        rounded half up (``floor(test_size * n_u + 0.5)``); an int holds out
        that many rows per user. Either is clipped to between 1 and
        ``n_u - 1`` rows.
    random_state : int, RandomState instance or None, default=None
        Controls the shuffling. Pass an int for the same splits on every
        call to :meth:`split`.
    min_rows : int, default=2
        Users with fewer rows stay entirely in train.

    See Also
    --------
    PerUserKFold : Per-user K-fold, where the test sets partition the rows.
    PerUserTemporalSplit : Holds out each user's latest rows instead.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.model_selection import PerUserShuffleSplit
    >>> X = np.array([[user, item] for user in range(2) for item in range(10)])
    >>> cv = PerUserShuffleSplit(n_splits=3, test_size=0.2, random_state=0)
    >>> cv.get_n_splits()
    3
    >>> train, test = next(cv.split(X))
    >>> np.bincount(X[test, 0])
    array([2, 2])
    """

    def __init__(
        self,
        n_splits: int = 1,
        *,
        test_size: float | int = 0.2,
        random_state: int | np.random.RandomState | None = None,
        min_rows: int = 2,
    ) -> None:
        owner = type(self).__name__
        check_k(n_splits, name="n_splits", estimator=owner)
        _check_test_size(test_size, owner, unit="rows of each user")
        _check_min_rows(min_rows, owner)
        store_params(self, locals())

    def _iter_test_masks(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[np.ndarray]:
        owner = type(self).__name__
        codes, counts = _user_codes(X, owner)
        rng = check_random_state(self.random_state)
        for _ in range(self.n_splits):
            ranks = _rank_within_user(codes, counts, rng.permutation(codes.size))
            yield _holdout_mask(codes, counts, ranks, self.test_size,
                                self.min_rows, owner)


class PerUserTemporalSplit(_InteractionSplitter):
    """Per-user temporal holdout: each user's latest rows go to test.

    For each user with ``n_u >= min_rows`` rows, the latest ``test_size``
    share of their rows (by ``time_column``) goes to test, so that every
    test row of a user is at or after all of that user's training rows.
    There is a single split.

    Parameters
    ----------
    test_size : float or int, default=0.2
        A float in (0, 1) holds out that fraction of each user's rows,
        rounded half up (``floor(test_size * n_u + 0.5)``); an int holds out
        that many rows per user. Either is clipped to between 1 and
        ``n_u - 1`` rows.
    time_column : int or str, default=2
        Position, or DataFrame column name, of the time column: numbers
        (e.g. unix seconds) or dates (datetime64, with or without time
        zone).
    min_rows : int, default=2
        Users with fewer rows stay entirely in train.

    See Also
    --------
    LeaveLastOut : The same split with a number of rows per user.
    TemporalSplit : One global cut in time for all users.

    Notes
    -----
    Rows of a user with equal times are ordered by their position in ``X``:
    the later row counts as the later interaction.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.model_selection import PerUserTemporalSplit
    >>> X = np.array([[0, 10, 5], [0, 11, 1], [0, 12, 3], [0, 13, 2],
    ...               [1, 10, 7], [1, 12, 9]])
    >>> cv = PerUserTemporalSplit(test_size=0.5)
    >>> train, test = next(cv.split(X))
    >>> X[test]
    array([[ 0, 10,  5],
           [ 0, 12,  3],
           [ 1, 12,  9]])
    """

    def __init__(
        self,
        test_size: float | int = 0.2,
        *,
        time_column: int | str = 2,
        min_rows: int = 2,
    ) -> None:
        owner = type(self).__name__
        _check_test_size(test_size, owner, unit="rows of each user")
        _check_time_column(time_column, owner)
        _check_min_rows(min_rows, owner)
        store_params(self, locals())

    def _iter_test_masks(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[np.ndarray]:
        owner = type(self).__name__
        codes, counts = _user_codes(X, owner)
        key, _ = _time_key(X, self.time_column, owner)
        # latest first: rank in reversed time order, ties by reversed row order
        ranks = _rank_within_user(codes, counts, codes.size - 1 - _time_order(key))
        yield _holdout_mask(codes, counts, ranks, self.test_size,
                            self.min_rows, owner)


class LeaveLastOut(PerUserTemporalSplit):
    """Leave-last-n-out: each user's ``n`` latest rows go to test.

    The classic leave-last-one-out protocol for sequential and top-N
    recommendation: for each user with at least ``min_rows`` rows, their
    ``n`` latest rows by ``time_column`` go to test (at most ``n_u - 1``,
    so that each test user keeps a training row). There is a single split.

    Parameters
    ----------
    n : int, default=1
        Rows held out per user.
    time_column : int or str, default=2
        Position, or DataFrame column name, of the time column: numbers
        (e.g. unix seconds) or dates (datetime64, with or without time
        zone).
    min_rows : int, default=2
        Users with fewer rows stay entirely in train.

    See Also
    --------
    PerUserTemporalSplit : The same with a fraction of each user's rows.

    Notes
    -----
    Rows of a user with equal times are ordered by their position in ``X``:
    the later row counts as the later interaction.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recs.model_selection import LeaveLastOut
    >>> X = pd.DataFrame({"user": ["a", "a", "a", "b", "b", "c"],
    ...                   "item": [1, 2, 3, 1, 3, 2],
    ...                   "time": [30, 10, 20, 5, 5, 1]})
    >>> train, test = next(LeaveLastOut(time_column="time").split(X))
    >>> X.iloc[test]
      user  item  time
    0    a     1    30
    4    b     3     5
    """

    def __init__(
        self, n: int = 1, *, time_column: int | str = 2, min_rows: int = 2
    ) -> None:
        owner = type(self).__name__
        check_k(n, name="n", estimator=owner)
        _check_time_column(time_column, owner)
        _check_min_rows(min_rows, owner)
        store_params(self, locals())

    @property
    def test_size(self) -> int:
        """Rows held out per user: ``n``."""
        return self.n


class TemporalSplit(_InteractionSplitter):
    """Global temporal split: every row after a point in time goes to test.

    The rows are cut at one point in time for all users: either the latest
    ``test_size`` share of all rows, or every row at or after ``cutoff``.
    This mimics deployment (train on the past, evaluate on the future).
    There is a single split.

    Parameters
    ----------
    test_size : float or int, default=None
        A float in (0, 1) puts that fraction of all rows (the latest,
        rounded half up) in test; an int puts that many rows. None means 0.2
        unless ``cutoff`` is given. Pass either ``test_size`` or ``cutoff``.
    cutoff : number, str or datetime-like, default=None
        Rows with a time ``>= cutoff`` go to test, the rest to train. A
        number for a numeric time column (in its units), a date (a string
        such as ``"1998-03-01"``, a ``datetime`` or ``Timestamp``) for a
        datetime column; naive dates are read as UTC.
    time_column : int or str, default=2
        Position, or DataFrame column name, of the time column: numbers
        (e.g. unix seconds) or dates (datetime64, with or without time
        zone).
    drop_cold_users : bool, default=False
        Whether to drop from the test set the rows of users who have no
        training row (they go to neither set, and a :class:`DataWarning`
        gives how many rows of how many users). A recommender cannot
        personalise for such users; keep them to measure cold-start
        behaviour.

    See Also
    --------
    PerUserTemporalSplit : A cut in time per user, so every test user has
        training rows.

    Notes
    -----
    Unlike the per-user splitters, some test users (and items) may be absent
    from the training rows: users whose first interaction is after the cut.
    Estimators then use their documented cold-start fallback; set
    ``drop_cold_users=True`` to evaluate known users only. With
    ``test_size``, rows of equal time are ordered by their position in
    ``X``, so a cut can fall between two rows of the same time.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.model_selection import TemporalSplit
    >>> X = np.array([[0, 10, 1], [1, 11, 2], [0, 12, 3], [2, 13, 4],
    ...               [1, 10, 5]])
    >>> train, test = next(TemporalSplit(cutoff=4).split(X))
    >>> train, test
    (array([0, 1, 2]), array([3, 4]))
    >>> import warnings
    >>> cv = TemporalSplit(cutoff=4, drop_cold_users=True)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     train, test = next(cv.split(X))
    >>> train, test
    (array([0, 1, 2]), array([4]))
    >>> print(caught[0].message)  # user 2's row 3 is in neither set
    TemporalSplit: drop_cold_users=True dropped 1 test rows of 1 users without a training row; they are in neither set.
    """

    def __init__(
        self,
        test_size: float | int | None = None,
        *,
        cutoff: Any = None,
        time_column: int | str = 2,
        drop_cold_users: bool = False,
    ) -> None:
        owner = type(self).__name__
        if test_size is not None and cutoff is not None:
            raise ValueError(
                f"{owner}: test_size={test_size!r} and cutoff={cutoff!r} were "
                "both given; pass only one of them."
            )
        if test_size is not None:
            _check_test_size(test_size, owner, unit="rows")
        _check_time_column(time_column, owner)
        store_params(self, locals())

    def _iter_masks(self, X: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        owner = type(self).__name__
        key, is_date = _time_key(X, self.time_column, owner)
        n = key.size
        if self.cutoff is None:
            test_size = 0.2 if self.test_size is None else self.test_size
            if isinstance(test_size, numbers.Integral):
                n_test = int(test_size)
            else:
                n_test = int(np.floor(test_size * n + 0.5))
            if not 1 <= n_test < n:
                raise ValueError(
                    f"{owner}: test_size={test_size} puts {n_test} of the {n} "
                    "rows in test; both sets need at least one row. Pick a "
                    "test_size between 1 and n_samples - 1 rows."
                )
            test = _time_order(key) >= n - n_test
        else:
            test = key >= self._cutoff_key(is_date, owner)
            if test.all() or not test.any():
                lo, hi = key.min(), key.max()
                if is_date:
                    lo, hi = pd.Timestamp(lo), pd.Timestamp(hi)
                raise ValueError(
                    f"{owner}: cutoff={self.cutoff!r} leaves the "
                    f"{'train' if test.all() else 'test'} set empty: the "
                    f"times range from {lo} to {hi}. Pick a cutoff after the "
                    "first time and at or before the last."
                )
        train = ~test
        if self.drop_cold_users:
            codes, counts = _user_codes(X, owner)
            known = np.bincount(codes[train], minlength=counts.size) > 0
            cold = test & ~known[codes]
            test &= ~cold
            if cold.any():
                warnings.warn(
                    f"{owner}: drop_cold_users=True dropped {int(cold.sum())} test "
                    f"rows of {np.unique(codes[cold]).size} users without a "
                    "training row; they are in neither set.", DataWarning, stacklevel=user_stacklevel())
            if not test.any():
                raise ValueError(
                    f"{owner}: drop_cold_users=True left no test rows: no "
                    "test user has a training row. Move the cut later, or "
                    "set drop_cold_users=False."
                )
        yield train, test

    def _cutoff_key(self, is_date: bool, owner: str) -> Any:
        """Convert ``cutoff`` to the units of the time key."""
        cutoff = self.cutoff
        is_number = isinstance(cutoff, numbers.Real) and not isinstance(cutoff, bool)
        if is_date:
            if is_number:
                raise TypeError(
                    f"{owner}: cutoff={cutoff!r} is a number but the time "
                    "column holds dates; pass a date such as '1998-03-01' or "
                    "a pd.Timestamp."
                )
            try:
                stamp = pd.Timestamp(cutoff)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"{owner}: cutoff={cutoff!r} could not be read as a date "
                    f"({exc}); pass a date such as '1998-03-01'."
                ) from exc
            if stamp.tzinfo is not None:
                stamp = stamp.tz_convert(None)
            return stamp.value
        if not is_number:
            raise TypeError(
                f"{owner}: cutoff={cutoff!r} is not a number but the time "
                "column is numeric; pass a number in the column's units (e.g. "
                "unix seconds)."
            )
        return cutoff


# --------------------------------------------------------------------------
# train_test_split
# --------------------------------------------------------------------------


def _take(data: Any, indices: np.ndarray) -> Any:
    """Select rows of ``data`` keeping its type (pandas by position)."""
    if isinstance(data, pd.DataFrame | pd.Series):
        return data.iloc[indices]
    if isinstance(data, np.ndarray):
        return data[indices]
    return [data[i] for i in indices]


def train_test_split(
    X: ArrayLike,
    y: ArrayLike | None = None,
    *,
    test_size: float | int = 0.2,
    strategy: str = "per_user",
    random_state: int | np.random.RandomState | None = None,
    time_column: int | str = 2,
    min_rows: int = 2,
) -> list[Any]:
    """Split interactions into a train and a test set by a recommender protocol.

    Like :func:`sklearn.model_selection.train_test_split`, with the split
    chosen by ``strategy``. Rows keep their original order in both sets.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_columns >= 2)
        Interactions: column 0 holds user ids, column 1 item ids. A
        DataFrame (split with ``.iloc``, keeping its index), a 2-D array or a
        list of rows.
    y : array-like of shape (n_samples,), default=None
        Ratings or weights, split alongside ``X``.
    test_size : float or int, default=0.2
        A float in (0, 1) is a fraction (of each user's rows for the
        per-user strategies, of all rows otherwise); an int is a number of
        rows (per user for the per-user strategies, in all otherwise).
    strategy : {"per_user", "leave_last", "temporal", "random"}, \
default="per_user"
        - "per_user": a random ``test_size`` of each user's rows
          (:class:`PerUserShuffleSplit`).
        - "leave_last": each user's latest ``test_size`` rows by
          ``time_column`` (:class:`PerUserTemporalSplit`); ``test_size=1``
          is leave-last-one-out.
        - "temporal": the latest ``test_size`` of all rows
          (:class:`TemporalSplit`); some test users may be unknown in train.
        - "random": a plain shuffle of the rows
          (:class:`~sklearn.model_selection.ShuffleSplit`).
    random_state : int, RandomState instance or None, default=None
        Controls the shuffling of "per_user" and "random"; the temporal
        strategies are deterministic.
    time_column : int or str, default=2
        Position or name of the time column, for "leave_last" and
        "temporal".
    min_rows : int, default=2
        For "per_user" and "leave_last": users with fewer rows stay entirely
        in train.

    Returns
    -------
    splitting : list of length 2 or 4
        ``[X_train, X_test]``, or ``[X_train, X_test, y_train, y_test]``
        when ``y`` is given, each of the type of its input.

    See Also
    --------
    PerUserShuffleSplit, PerUserTemporalSplit, TemporalSplit : The splitters
        behind the strategies, for use as ``cv=``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.model_selection import train_test_split
    >>> X = np.array([[user, item] for user in range(3) for item in range(5)])
    >>> y = np.arange(15.0)
    >>> X_train, X_test, y_train, y_test = train_test_split(
    ...     X, y, test_size=0.2, random_state=0)
    >>> X_train.shape, X_test.shape, y_test.shape
    ((12, 2), (3, 2), (3,))
    >>> np.unique(X_test[:, 0])
    array([0, 1, 2])
    """
    if strategy == "per_user":
        cv = PerUserShuffleSplit(test_size=test_size, random_state=random_state,
                                 min_rows=min_rows)
    elif strategy == "leave_last":
        cv = PerUserTemporalSplit(test_size=test_size, time_column=time_column,
                                  min_rows=min_rows)
    elif strategy == "temporal":
        cv = TemporalSplit(test_size=test_size, time_column=time_column)
    elif strategy == "random":
        _check_test_size(test_size, "train_test_split", unit="rows")
        get_column(X, 0, estimator="train_test_split")
        _check_y_length(X, y, "train_test_split")
        cv = ShuffleSplit(n_splits=1, test_size=test_size,
                          random_state=random_state)
    else:
        raise ValueError(
            f"train_test_split: strategy={strategy!r} is not supported; "
            f"choose one of {list(_STRATEGIES)}."
        )
    train, test = next(cv.split(X, y))
    train, test = np.sort(train), np.sort(test)
    arrays = [X] if y is None else [X, y]
    return [part for data in arrays for part in (_take(data, train),
                                                 _take(data, test))]

"""Input validation shared by every estimator, splitter and scorer.

The data contract of the package: ``X`` is array-like of shape
``(n_samples, >=2)`` whose column 0 holds user ids and column 1 item ids
(ints, floats or strings), one row per interaction -- a DataFrame with
columns ``user_id`` and ``item_id`` is read by those names, in any order; further columns (a
timestamp, say) are ignored unless an estimator or splitter is told to use
them. ``y`` holds explicit ratings, or non-negative implicit weights.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..exceptions import DataWarning
from ._stack import user_stacklevel

__all__ = [
    "check_interactions",
    "check_ids",
    "check_k",
    "warn_if_ratings",
    "get_column",
    "get_times",
]

# The documented names of the id columns of a DataFrame X (those of
# fetch_movielens): used by name, in any order, wherever both are present.
ID_COLUMNS = ("user_id", "item_id")

# Ratings and weights beyond this size overflow float32 once multiplied
# (similarities, Gram matrices), so they are rejected at fit.
_MAX_ABS_VALUE = 1e15


def _name(estimator: Any) -> str:
    if estimator is None:
        return ""
    if isinstance(estimator, str):
        return estimator + ": "
    return type(estimator).__name__ + ": "


_ACCEPTED_X = ("X must be array-like (a list of (user id, item id) rows or a 2-D numpy "
               "array) or a pandas DataFrame with user and item columns")
_ACCEPTED_IDS = "array-like (a list, a 1-D numpy array, a pandas Series or Index)"


def _conversion(value: Any) -> str:
    """How to turn a container of the wrong type into an accepted one."""
    if isinstance(value, dict):
        return "pd.DataFrame(...) for a dict of columns"
    if isinstance(value, (str, bytes)) or np.ndim(value) == 0 and not hasattr(value, "__iter__"):
        return "pass every row, not a single value"
    return "list(...) for a set, a generator or another iterable"


def _check_container(X: Any, prefix: str, accepted: str) -> None:
    """A TypeError saying what is accepted for a set, dict, generator or scalar."""
    if (isinstance(X, (pd.DataFrame, pd.Series, pd.Index, np.ndarray, list, tuple))
            or sp.issparse(X) or hasattr(X, "__array__")):
        return
    if isinstance(X, (set, frozenset, dict, str, bytes)) or not hasattr(X, "__len__"):
        raise TypeError(
            f"{prefix}{accepted}; got a value of type {type(X).__name__}. Convert it first: "
            f"{_conversion(X)}."
        )


def _as_2d(X: Any, estimator: Any = None):
    """Return ``X`` as a DataFrame or a 2-D ndarray, with clear errors."""
    prefix = _name(estimator)
    _check_container(X, prefix, _ACCEPTED_X)
    if sp.issparse(X):
        raise TypeError(
            f"{prefix}sparse X is not supported: X holds (user id, item id) "
            "rows, not features. Pass a dense 2-D array or a DataFrame (for an "
            "interaction matrix M: rows, columns = M.nonzero(); "
            "X = np.column_stack([rows, columns]), y = M.data)."
        )
    if isinstance(X, pd.DataFrame):
        frame = X
    else:
        if isinstance(X, pd.Series):
            X = X.to_numpy()
        try:
            # A list of rows is read as objects, so that each column keeps
            # its own type (numpy would turn ints into strings beside strings).
            rows_of_objects = isinstance(X, list | tuple)
            frame = np.asarray(X, dtype=object if rows_of_objects else None)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{prefix}X could not be read as a 2-D array ({exc}). Pass a "
                "2-D array or a DataFrame with user and item columns."
            ) from exc
        if frame.dtype.kind == "c":
            raise ValueError(f"{prefix}Complex data not supported in X; ids must be integers or strings.")
    if frame.ndim != 2:
        raise ValueError(
            f"{prefix}X must be 2-D with at least 2 columns (user id, item id); "
            f"got {type(X).__name__} of shape {frame.shape}. Reshape your data: pass a "
            "2-D array or a DataFrame with user and item columns "
            "(X.reshape(1, -1) for a single row)."
        )
    n_rows, n_cols = frame.shape
    if n_cols < 2:
        raise ValueError(
            f"{prefix}X has {n_cols} feature(s) (shape={frame.shape}) while a "
            "minimum of 2 is required: column 0 holds user ids and column 1 "
            "item ids."
        )
    if n_rows == 0:
        raise ValueError(
            f"{prefix}X is empty: found array with 0 sample(s) (shape "
            f"{frame.shape}); at least 1 interaction is required."
        )
    return frame


def get_column(X: Any, column: int | str, *, estimator: Any = None) -> np.ndarray:
    """Return one column of ``X`` as a 1-D ndarray.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_columns)
        A DataFrame or a 2-D array.
    column : int or str
        Position, or name for a DataFrame. For a DataFrame with columns
        ``user_id`` and ``item_id``, positions 0 and 1 mean those columns,
        wherever they are; one of the two names without the other raises.
    estimator : object or str, default=None
        Named in error messages.

    Returns
    -------
    values : ndarray of shape (n_samples,)
        The column.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.utils.validation import get_column
    >>> get_column(np.array([[1, 10, 5], [2, 20, 6]]), 2)
    array([5, 6])
    """
    frame = _as_2d(X, estimator)
    prefix = _name(estimator)
    if isinstance(frame, pd.DataFrame):
        if isinstance(column, numbers.Integral) and column in (0, 1):
            named = [name in frame.columns for name in ID_COLUMNS]
            if all(named):  # by name, in whatever order the columns come
                column = ID_COLUMNS[column]
            elif any(named):
                raise ValueError(
                    f"{prefix}X has a column {ID_COLUMNS[named.index(True)]!r} but no "
                    f"{ID_COLUMNS[named.index(False)]!r}; expected both {list(ID_COLUMNS)} "
                    "(read by name, in any order) or neither (then column 0 holds user "
                    f"ids and column 1 item ids). X has columns {list(frame.columns)}; "
                    "rename them, e.g. X.rename(columns={...})."
                )
        if isinstance(column, str):
            if column not in frame.columns:
                raise KeyError(
                    f"{prefix}unknown column {column!r}; X has columns "
                    f"{list(frame.columns)}."
                )
            return frame[column].to_numpy()
        if not -frame.shape[1] <= column < frame.shape[1]:
            raise IndexError(
                f"{prefix}column {column} is out of range: X has "
                f"{frame.shape[1]} columns."
            )
        return frame.iloc[:, column].to_numpy()
    if isinstance(column, str):
        raise KeyError(
            f"{prefix}column {column!r} given by name, but X is an array "
            "without column names. Pass a DataFrame or the column's position."
        )
    if not -frame.shape[1] <= column < frame.shape[1]:
        raise IndexError(
            f"{prefix}column {column} is out of range: X has "
            f"{frame.shape[1]} columns."
        )
    return frame[:, column]


def check_ids(ids: Any, *, what: str = "ids", estimator: Any = None) -> np.ndarray:
    """Validate a 1-D sequence of user or item ids.

    Ids may be integers, floats or strings, but not missing (NaN, None) or
    infinite, and not a mix of numbers and strings.

    Parameters
    ----------
    ids : array-like of shape (n,)
        The ids. A scalar is treated as a sequence of one.
    what : str, default="ids"
        How to name them in error messages ("user ids", "item ids").
    estimator : object or str, default=None
        Named in error messages.

    Returns
    -------
    ids : ndarray of shape (n,)
        Numeric ids keep their numeric dtype; anything else is an object
        array of strings.

    Examples
    --------
    >>> from sklearn_recs.utils.validation import check_ids
    >>> check_ids([3, 1, 2], what="user ids")
    array([3, 1, 2])
    """
    prefix = _name(estimator)
    if not np.isscalar(ids):
        _check_container(ids, prefix, f"{what} must be {_ACCEPTED_IDS}")
    if isinstance(ids, pd.Series | pd.Index):
        if isinstance(ids.dtype, pd.CategoricalDtype):
            ids = ids.astype(ids.dtype.categories.dtype)
        ids = ids.to_numpy(dtype=None)
    arr = np.asarray(ids)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{prefix}{what} must be 1-D; got shape {arr.shape}.")
    if arr.dtype.kind in "biuf":
        if arr.dtype.kind == "b":
            arr = arr.astype(np.int64)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            bad = arr[~np.isfinite(arr)][0]
            raise ValueError(
                f"{prefix}{what} contain {np.sum(~np.isfinite(arr))} missing or "
                f"infinite value(s) (e.g. {bad}). Drop or fill those rows "
                "before calling this method."
            )
        return arr
    if arr.dtype.kind in "US":
        return arr.astype(object)
    if arr.dtype.kind == "O":
        if arr.size == 0:
            return arr
        missing = pd.isna(arr)
        if missing.any():
            raise ValueError(
                f"{prefix}{what} contain {int(missing.sum())} missing value(s) "
                "(NaN or None). Drop or fill those rows before calling this "
                "method."
            )
        kinds = pd.api.types.infer_dtype(arr, skipna=False)
        if kinds == "integer":
            return check_ids(_as_int64(arr, what, prefix), what=what, estimator=estimator)
        if kinds in ("floating", "mixed-integer-float", "decimal"):
            return check_ids(arr.astype(np.float64), what=what, estimator=estimator)
        if kinds != "string":
            odd = next((v for v in arr if not isinstance(v, str | numbers.Number)), None)
            if odd is not None:  # not an id at all: no conversion applies
                raise TypeError(
                    f"{prefix}{what} must be numbers or strings, one id per element; "
                    f"got {odd!r} of type {type(odd).__name__}. Pass a flat array-like "
                    "of ids (a list, a 1-D numpy array, a pandas Series)."
                )
            example = next(
                (v for v in arr if not isinstance(v, str)), arr[0]
            )
            raise TypeError(
                f"{prefix}{what} must be all numbers or all strings; got "
                f"{kinds!r} values (e.g. {example!r} of type "
                f"{type(example).__name__}). Convert them with "
                ".astype(str) or to integers."
            )
        return arr
    raise TypeError(
        f"{prefix}{what} have unsupported dtype {arr.dtype}; use integers or "
        "strings."
    )


def _as_int64(arr: np.ndarray, what: str, prefix: str) -> np.ndarray:
    """Python ints as int64, or a clear error for ids beyond its range."""
    try:
        return arr.astype(np.int64)
    except OverflowError:
        big = next(v for v in arr if not -2**63 <= v < 2**63)
        raise ValueError(
            f"{prefix}{what} hold integers beyond the int64 range (e.g. {big}). "
            "Pass such ids as strings (.astype(str))."
        ) from None


def check_interactions(
    X: Any,
    y: Any = None,
    *,
    implicit: bool = False,
    y_required: bool = False,
    estimator: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate interaction data and return its user, item and value columns.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_columns >= 2)
        Column 0 holds user ids, column 1 item ids; further columns are
        ignored here.
    y : array-like of shape (n_samples,), default=None
        Explicit ratings, or non-negative implicit weights.
    implicit : bool, default=False
        Whether ``y`` holds implicit weights (which must be >= 0).
    y_required : bool, default=False
        Whether ``y`` must be given (rating estimators).
    estimator : object or str, default=None
        Named in error messages.

    Returns
    -------
    users : ndarray of shape (n_samples,)
        User ids.
    items : ndarray of shape (n_samples,)
        Item ids.
    y : ndarray of shape (n_samples,) of float64, or None
        The ratings or weights, or None where ``y`` was not given.

    Raises
    ------
    ValueError
        On a wrong shape, empty data, missing or infinite ids or values,
        values beyond 1e15 in absolute value,
        mismatched lengths, or negative implicit weights.

    Examples
    --------
    >>> from sklearn_recs.utils.validation import check_interactions
    >>> users, items, y = check_interactions([[1, 10], [2, 10]], [4.0, 3.5])
    >>> users, items, y
    (array([1, 2]), array([10, 10]), array([4. , 3.5]))
    """
    prefix = _name(estimator)
    frame = _as_2d(X, estimator)
    users = check_ids(get_column(frame, 0), what="user ids (column 0 of X)",
                      estimator=estimator)
    items = check_ids(get_column(frame, 1), what="item ids (column 1 of X)",
                      estimator=estimator)
    if y is None:
        if y_required:
            raise ValueError(
                f"{prefix}requires y to be passed, but the target y is None. "
                "Pass the ratings as y."
            )
        return users, items, None
    if sp.issparse(y):
        raise TypeError(f"{prefix}sparse y is not supported; pass a 1-D array.")
    if isinstance(y, pd.DataFrame):
        y = y.to_numpy()
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        import warnings

        from sklearn.exceptions import DataConversionWarning

        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please "
            "change the shape of y to (n_samples,), for example using ravel().",
            DataConversionWarning,
            stacklevel=user_stacklevel(),
        )
        y_arr = y_arr.ravel()
    if y_arr.ndim != 1:
        raise ValueError(
            f"{prefix}y must be 1-D with one value per row of X; got shape "
            f"{y_arr.shape}."
        )
    if y_arr.shape[0] != users.shape[0]:
        raise ValueError(
            f"{prefix}X and y have inconsistent numbers of samples: X has "
            f"{users.shape[0]} rows, y has {y_arr.shape[0]}."
        )
    try:
        values = y_arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        example = next((v for v in y_arr.ravel().tolist()
                        if not isinstance(v, numbers.Number)), y_arr[0])
        raise ValueError(
            f"{prefix}y must be numeric (ratings or weights); got a "
            f"non-numeric value {example!r}. Convert y to floats."
        ) from exc
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(
            f"{prefix}y contains {int(bad.sum())} NaN or infinite value(s) "
            f"(first at row {int(np.flatnonzero(bad)[0])}). Drop or fill those "
            "rows first."
        )
    largest = np.abs(values).max(initial=0.0)
    if largest > _MAX_ABS_VALUE:
        raise ValueError(
            f"{prefix}y holds values up to {largest:g}, beyond the limit of "
            f"{_MAX_ABS_VALUE:g}: products of such values overflow the float32 "
            "arithmetic of several models. Rescale y, e.g. y / y.max() or np.log1p(y)."
        )
    if implicit and (values < 0).any():
        neg = values[values < 0]
        raise ValueError(
            f"{prefix}implicit weights in y must be >= 0; got {neg.size} "
            f"negative value(s) (e.g. {neg[0]:g}). Pass counts or confidences, "
            "or y=None to treat every row as a positive."
        )
    return users, items, values


def check_k(k: Any, *, name: str = "k", estimator: Any = None, minimum: int = 1,
            why: str = "") -> int:
    """Validate a positive integer such as ``k`` or ``top_n``.

    Parameters
    ----------
    k : int
        The value to check.
    name : str, default="k"
        The parameter's name, for the error message.
    estimator : object or str, default=None
        Named in error messages.
    minimum : int, default=1
        The smallest valid value.
    why : str, default=""
        Why ``minimum`` is the bound, and what to do instead: a sentence
        appended to the message of a value below it.

    Returns
    -------
    k : int
        The value as a Python int.

    Examples
    --------
    >>> from sklearn_recs.utils.validation import check_k
    >>> check_k(10)
    10
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(
            f"{_name(estimator)}{name}={k!r} is invalid; {name} must be an int "
            f">= {minimum}."
        )
    if k < minimum:
        raise ValueError(
            f"{_name(estimator)}{name}={k} is invalid; {name} must be an int "
            f">= {minimum}.{' ' + why if why else ''}"
        )
    return int(k)


def _check_bool(value: Any, name: str, estimator: Any = None) -> bool:
    """Return ``value`` as a bool, or raise for anything but True or False.

    A truthy string such as ``"no"`` would otherwise silently mean True.
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(
            f"{_name(estimator)}{name}={value!r} is invalid; pass True or False."
        )
    return bool(value)


def get_times(X: Any, time_column: int | str, *, estimator: Any = None) -> np.ndarray:
    """Return the time column of ``X`` as float64 (seconds for datetimes).

    Used to decay old interactions (``half_life``): the values must be
    numbers or datetimes, none missing.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_columns)
        A DataFrame or a 2-D array.
    time_column : int or str
        Position, or name for a DataFrame.
    estimator : object or str, default=None
        Named in error messages.

    Returns
    -------
    times : ndarray of shape (n_samples,) of float64
        The times; datetimes as Unix seconds.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recs.utils.validation import get_times
    >>> get_times(pd.DataFrame({"u": [1], "i": [2], "t": pd.to_datetime(["1970-01-02"])}), "t")
    array([86400.])
    """
    prefix = _name(estimator)
    times = get_column(X, time_column, estimator=estimator)
    if np.issubdtype(times.dtype, np.datetime64):
        times = times.astype("datetime64[s]").astype(np.int64)
    try:
        times = times.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{prefix}time_column={time_column!r} must hold numbers or datetimes "
            f"to apply half_life; got {times.dtype} values."
        ) from exc
    if not np.isfinite(times).all():
        raise ValueError(
            f"{prefix}time_column={time_column!r} has missing or infinite times; "
            "fill them or set half_life=None."
        )
    return times


def warn_if_ratings(values: Any, *, estimator: Any = None) -> None:
    """Warn when the weights given to an implicit model look like ratings.

    An implicit-feedback model reads ``y`` as non-negative weights: a rating
    of 1 then counts as a weak positive, not as a dislike, and a model fitted
    on ratings as weights ranks worse than one fitted on interactions (EASE
    on MovieLens 100k: NDCG@10 0.442 with ``y=None``, 0.359 with the
    ratings). Values that all lie on a half-star grid between 0.5 and 5, with
    at least two distinct values, look like ratings and raise a
    :class:`~sklearn_recs.exceptions.DataWarning`.

    Parameters
    ----------
    values : ndarray of shape (n_samples,) or None
        The implicit weights; None (every row a positive) never warns.
    estimator : estimator instance, default=None
        Named in the message.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_recs.utils.validation import warn_if_ratings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_if_ratings([4.0, 3.5, 1.0])
    ...     warn_if_ratings([12.0, 1.0, 3.0])  # counts: no warning
    >>> len(caught)
    1
    """
    if values is None:
        return
    values = np.asarray(values, dtype=float)
    halves = values * 2
    if not (values.size and values.min() >= 0.5 and values.max() <= 5
            and np.array_equal(halves, np.round(halves)) and np.unique(values).size > 1):
        return
    warnings.warn(
        f"{_name(estimator) if estimator is not None else ''}y looks like explicit ratings (values from {values.min():g} to "
        f"{values.max():g}), but this model reads y as implicit weights, so a low "
        "rating counts as a weak positive. Pass y=None to train on the "
        "interactions, or a thresholded signal such as y=(ratings >= 4) with "
        "the rows below the threshold dropped; models with a `weighting` "
        "parameter take an explicit weighting choice instead.",
        DataWarning,
        stacklevel=user_stacklevel(),
    )


def _is_per_user_exclude(exclude):
    """Whether ``recommend``'s ``exclude`` is one list of item ids per user
    (a non-empty list or tuple of 1-D lists, arrays or sets) rather than
    one flat list of item ids for every user."""
    return (isinstance(exclude, (list, tuple)) and len(exclude) > 0
            and all(np.ndim(entry) == 1 or isinstance(entry, (set, frozenset))
                    for entry in exclude))

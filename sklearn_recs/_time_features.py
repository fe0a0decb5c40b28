"""Time features of (user, item) pairs for the two-stage reranker: where an
item's interactions lie in time against a user's."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["TimeStats", "interaction_times"]

_DAY = 86400.0


def interaction_times(X, column, *, owner):
    """The times of ``X``'s column ``column`` as float seconds (datetimes as
    seconds since the epoch; numbers as they are, read as seconds)."""
    if isinstance(X, pd.DataFrame):
        values = X[column] if isinstance(column, str) else X.iloc[:, column]
    else:
        if isinstance(column, str):
            raise ValueError(
                f"{owner}: the time column {column!r} is a name, but X is not a "
                "DataFrame; give the column's position instead.")
        values = pd.Series(np.asarray(X, dtype=object)[:, column])
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.to_numpy("datetime64[ns]").astype(np.int64) / 1e9
    try:
        return pd.to_numeric(values).to_numpy(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{owner}: the time column {column!r} holds {values.iloc[0]!r}, neither "
            "numbers (seconds) nor datetimes; convert it (pandas.to_datetime) "
            "first.") from exc


def _median_by(codes, times, n):
    """The median of ``times`` per code in ``range(n)`` (NaN where none)."""
    order = np.lexsort((times, codes))
    codes, times = codes[order], times[order]
    starts = np.searchsorted(codes, np.arange(n), "left")
    ends = np.searchsorted(codes, np.arange(n), "right")
    out = np.full(n, np.nan)
    some = ends > starts
    low, high = starts[some], ends[some] - 1
    out[some] = (times[(low + high) // 2] + times[(low + high + 1) // 2]) / 2
    return out


class TimeStats:
    """The time summaries of one training set (rows as user and item codes
    of its generator, and times in seconds) and the time ``features`` of
    (user, item) code pairs, in days.

    ``features`` gives, per pair: the item's median time less the user's
    median time, the item's median time less the user's latest time, the
    user's median time less the item's first time, and for each half-width
    ``w`` of ``WINDOWS`` the item's share of all the interactions within
    ``w`` days of the user's median time (0 where the window is empty).
    Items without training rows get NaN for the first three.
    """

    WINDOWS = (1, 7, 30)  # days

    def __init__(self, user_codes, item_codes, times, n_users, n_items):
        keep = (user_codes >= 0) & (item_codes >= 0) & np.isfinite(times)
        users, items, days = user_codes[keep], item_codes[keep], times[keep] / _DAY
        self.user_median = _median_by(users, days, n_users)
        self.user_last = np.full(n_users, np.nan)
        np.fmax.at(self.user_last, users, days)
        self.item_median = _median_by(items, days, n_items)
        self.item_first = np.full(n_items, np.nan)
        np.fmin.at(self.item_first, items, days)
        # Windows count rows by the rank of their time among the distinct times:
        # per item, through sorted keys item * stride + rank; over all items,
        # through the cumulated counts per rank.
        self.distinct = np.unique(days)
        rank = np.searchsorted(self.distinct, days)
        self.stride = len(self.distinct) + 1
        self.keys = np.sort(items.astype(np.int64) * self.stride + rank)
        self.cumulated = np.concatenate(
            [[0], np.cumsum(np.bincount(rank, minlength=len(self.distinct)))])

    @classmethod
    def names(cls):
        return (["time_item_minus_user", "time_item_minus_last", "time_item_age"]
                + [f"time_window_share_{w}d" for w in cls.WINDOWS])

    def features(self, user_codes, item_codes):
        """The time features of the pairs, one array per name of ``names``."""
        centre = self.user_median[user_codes]
        item_median = self.item_median[item_codes]
        columns = [item_median - centre, item_median - self.user_last[user_codes],
                   centre - self.item_first[item_codes]]
        base = item_codes.astype(np.int64) * self.stride
        known = ~np.isnan(centre)
        for w in self.WINDOWS:
            low = np.where(known, np.searchsorted(self.distinct, centre - w, "left"), 0)
            high = np.where(known, np.searchsorted(self.distinct, centre + w, "right"), 0)
            count = (np.searchsorted(self.keys, base + high, "left")
                     - np.searchsorted(self.keys, base + low, "left"))
            total = self.cumulated[high] - self.cumulated[low]
            columns.append(count / np.maximum(total, 1))  # 0 in an empty window
        return columns

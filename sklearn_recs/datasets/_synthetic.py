"""Synthetic interaction data with planted structure: ``make_interactions``."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

from ..utils.validation import check_k

__all__ = ["make_interactions"]

_NAME = "make_interactions"
# Candidates drawn per round, and pair scores per block: bounds the memory.
_CHUNK = 1 << 21
# Concentration of the Dirichlet draws of user tastes and item topics (implicit).
_TOPIC_CONCENTRATION = 0.1
_START_TIME = 1577836800  # 2020-01-01 00:00:00 UTC
_TIME_SPAN = 2 * 365 * 24 * 3600


def _check_real(value: Any, name: str, *, low: float, high: float = np.inf) -> float:
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not low <= value <= high):
        bound = f">= {low}" if high == np.inf else f"in [{low}, {high}]"
        raise ValueError(
            f"{_NAME}: {name}={value!r} is invalid; {name} must be a real "
            f"number {bound}."
        )
    return float(value)


def _zipf_weights(n: int, alpha: float, rng: np.random.RandomState) -> np.ndarray:
    """Weights proportional to rank**-alpha, ranks shuffled over the ids."""
    weights = np.arange(1, n + 1, dtype=np.float64) ** -alpha
    return weights[rng.permutation(n)] / weights.sum()


def _dirichlet_rows(n: int, k: int, rng: np.random.RandomState) -> np.ndarray:
    draws = rng.gamma(_TOPIC_CONCENTRATION, size=(n, k)) + np.finfo(np.float64).tiny
    return draws / draws.sum(axis=1, keepdims=True)


def _isin_sorted(values: np.ndarray, sorted_ref: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(sorted_ref, values).clip(max=sorted_ref.size - 1)
    return sorted_ref[pos] == values


class _PairSampler:
    """Sample distinct (user, item) pairs, as keys ``user * n_items + item``.

    Pair ``(u, i)`` has weight ``activity[u] * (mix_users @ mix_items.T)[u, i]``
    where the rows of ``mix_users`` and the columns of ``mix_items`` sum to
    one: a user is drawn from ``activity``, one of the ``K`` components from
    the user's row of ``mix_users``, then an item from that component's
    column of ``mix_items``. ``sample(n)`` returns ``n`` distinct pairs drawn
    successively without replacement with these weights (a stream of draws
    with replacement whose repeats are dropped), by one of two exact methods:

    - streaming, O(n) when the pairs are sparse: draw rounds of pairs with
      replacement, keep the fresh distinct ones, and in the last round keep
      the ``need`` that a random stream order would have drawn first (the
      first arrival of a pair drawn ``c`` times is the minimum of ``c``
      uniforms, which is sampled directly).
    - enumeration, O(n_users * n_items) time in bounded memory: Gumbel-top-k
      over every pair not yet drawn, in blocks of users.

    It streams while the draws still expected (the pairs needed over the
    share of fresh pairs in the last round) cost less than enumerating, then
    enumerates the rest: a dense request, or weights so skewed that repeats
    dominate, never loops for long.
    """

    def __init__(self, activity: np.ndarray, mix_users: np.ndarray,
                 mix_items: np.ndarray, rng: np.random.RandomState) -> None:
        self.n_users, self.n_items = activity.size, mix_items.shape[0]
        self.activity, self.mix_users, self.mix_items = activity, mix_users, mix_items
        self.rng = rng

    def _draw(self, m: int) -> np.ndarray:
        """``m`` pair keys drawn with replacement, in no random order."""
        rng = self.rng
        remaining = rng.multinomial(m, self.activity)
        mass_left = np.ones(self.n_users)
        n_components = self.mix_users.shape[1]
        keys = []
        for z in range(n_components):
            # Per-user multinomial over the components, one binomial at a time.
            if z == n_components - 1:
                counts = remaining
            else:
                share = self.mix_users[:, z] / np.maximum(mass_left, np.finfo(float).tiny)
                counts = rng.binomial(remaining, np.clip(share, 0.0, 1.0))
                remaining = remaining - counts
                mass_left -= self.mix_users[:, z]
            users = np.repeat(np.arange(self.n_users), counts)
            item_counts = rng.multinomial(users.size, self.mix_items[:, z])
            items = rng.permutation(np.repeat(np.arange(self.n_items), item_counts))
            keys.append(users * self.n_items + items)
        return np.concatenate(keys)

    def _enumerate(self, n: int, exclude: np.ndarray) -> np.ndarray:
        n_items = self.n_items
        rows = max(1, max(_CHUNK, n) // n_items)
        log_activity = np.log(self.activity)
        best_scores = np.empty(0)
        best_keys = np.empty(0, dtype=np.int64)
        for start in range(0, self.n_users, rows):
            stop = min(start + rows, self.n_users)
            prob = self.mix_users[start:stop] @ self.mix_items.T
            scores = np.log(np.maximum(prob, np.finfo(np.float64).tiny))
            scores += log_activity[start:stop, None]
            scores += self.rng.gumbel(size=scores.shape)
            scores = scores.ravel()
            lo, hi = np.searchsorted(exclude, [start * n_items, stop * n_items])
            scores[exclude[lo:hi] - start * n_items] = -np.inf
            best_scores = np.concatenate([best_scores, scores])
            best_keys = np.concatenate(
                [best_keys, np.arange(start * n_items, stop * n_items)]
            )
            if best_scores.size > n:
                top = np.argpartition(-best_scores, n - 1)[:n]
                best_scores, best_keys = best_scores[top], best_keys[top]
        return best_keys

    def sample(self, n: int) -> np.ndarray:
        """Return ``n`` distinct pair keys, sorted."""
        n_pairs = self.n_users * self.n_items
        selected = np.empty(0, dtype=np.int64)
        fresh_rate = 1.0
        while (need := n - selected.size) > 0:
            expected_draws = need / fresh_rate
            if n_pairs <= 2 * expected_draws:
                rest = self._enumerate(need, selected)
                return np.sort(np.concatenate([selected, rest]))
            m = int(min(max(1.1 * expected_draws, 1024), _CHUNK))
            keys = np.sort(self._draw(m))
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            fresh = np.ones(starts.size, dtype=bool)
            if selected.size:
                fresh = ~_isin_sorted(keys[starts], selected)
            keys = keys[starts[fresh]]
            fresh_rate = max(keys.size, 1) / m
            if keys.size > need:
                copies = np.diff(starts, append=m)[fresh]
                first_arrival = 1 - self.rng.random_sample(keys.size) ** (1 / copies)
                keys = np.sort(keys[np.argpartition(first_arrival, need - 1)[:need]])
            # Both runs are sorted: the stable sort (timsort) merges them in O(n).
            selected = np.sort(np.concatenate([selected, keys]), kind="stable")
        return selected


def _row_dots(a: np.ndarray, b: np.ndarray, rows_a: np.ndarray,
              rows_b: np.ndarray) -> np.ndarray:
    """``(a[rows_a] * b[rows_b]).sum(axis=1)`` in chunks of bounded memory."""
    out = np.empty(rows_a.size)
    for start in range(0, rows_a.size, _CHUNK):
        sl = slice(start, start + _CHUNK)
        out[sl] = np.einsum("ij,ij->i", a[rows_a[sl]], b[rows_b[sl]])
    return out


def make_interactions(
    n_users: int = 1000,
    n_items: int = 500,
    n_interactions: int = 20000,
    *,
    implicit: bool = False,
    n_factors: int = 8,
    noise: float | None = None,
    rating_scale: tuple[float, float] = (1, 5),
    rating_step: float | None = 1.0,
    popularity_alpha: float = 1.0,
    activity_alpha: float = 1.0,
    with_timestamps: bool = True,
    random_state: int | np.random.RandomState | None = None,
    as_frame: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[Any, Any]:
    """Generate user-item interactions with power-law popularity and planted factors.

    Exactly ``n_interactions`` distinct (user, item) pairs are drawn
    without replacement. User activity and item popularity follow Zipf
    laws: the user and the item of rank ``r`` (ranks shuffled over the ids)
    have weight ``r ** -activity_alpha`` and ``r ** -popularity_alpha``.
    A low-rank structure is planted that models can learn:

    - explicit (``implicit=False``): pairs are drawn with probability
      proportional to ``user_activity[u] * item_popularity[i]``, and the
      rating is ``global_mean + user_bias[u] + item_bias[i] +
      user_factors[u] @ item_factors[i] + noise * N(0, 1)``, clipped to
      ``rating_scale`` and rounded to ``rating_step``. The factors are
      Gaussian, scaled with the rating scale so that they carry most of the
      variance.
    - implicit (``implicit=True``): each user has tastes over ``n_factors``
      topics (``user_factors``, rows sum to 1) and each topic a distribution
      over items weighted by popularity (``item_factors``, columns sum to 1).
      A user picks item ``i`` with probability ``(1 - noise) *
      user_factors[u] @ item_factors[i] + noise * item_popularity[i]``: the
      higher the planted score, the likelier the interaction. The target is
      a count: ``1 + Poisson(user_factors[u] @ item_factors[i] /
      item_popularity[i])``, higher where the user's taste beats the item's
      popularity.

    Everything is vectorised and memory-bounded: 10 million rows take
    seconds.

    Parameters
    ----------
    n_users : int, default=1000
        Number of users; ids are ``0 .. n_users - 1``. Users who drew no
        interaction do not appear in the data.
    n_items : int, default=500
        Number of items; ids are ``0 .. n_items - 1``.
    n_interactions : int, default=20000
        Number of rows, each a distinct (user, item) pair; at most
        ``n_users * n_items``.
    implicit : bool, default=False
        Generate implicit feedback (counts) instead of explicit ratings.
    n_factors : int, default=8
        Rank of the planted structure: latent factors (explicit) or topics
        (implicit).
    noise : float or None, default=None
        Explicit: standard deviation of the Gaussian noise on the ratings,
        in rating units (>= 0); None means 0.5. Implicit: share of the
        interactions drawn from item popularity alone, ignoring the user's
        tastes (in [0, 1]); None means 0.1.
    rating_scale : tuple of (float, float), default=(1, 5)
        Lowest and highest rating (explicit only).
    rating_step : float or None, default=1.0
        Ratings are rounded to ``rating_scale[0] + k * rating_step`` (use 0.5
        for half stars); None keeps them continuous. Explicit only.
    popularity_alpha : float, default=1.0
        Zipf exponent of item popularity (>= 0; 0 gives uniform popularity).
    activity_alpha : float, default=1.0
        Zipf exponent of user activity (>= 0; 0 gives uniform activity).
    with_timestamps : bool, default=True
        Add a ``timestamp`` column: Unix seconds drawn uniformly over 2020
        and 2021.
    random_state : int, RandomState instance or None, default=None
        Seed of every random draw; the same seed gives the same output.
    as_frame : bool, default=True
        Return ``data`` as a DataFrame and ``target`` as a Series, else as
        int64 and float64 (explicit) or int64 (implicit) ndarrays.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : DataFrame of shape (n_interactions, 2 or 3) or ndarray
            Columns ``user_id``, ``item_id`` (and ``timestamp``), int64,
            sorted by user then item.
        target : Series of shape (n_interactions,) or ndarray
            Explicit: the ``rating`` (float64). Implicit: the ``count``
            (int64, >= 1).
        frame : DataFrame or None
            ``data`` and ``target`` together; None when ``as_frame=False``.
        feature_names : list of str
            The columns of ``data``.
        target_names : list of str
            ``["rating"]`` or ``["count"]``.
        user_factors : ndarray of shape (n_users, n_factors)
            The planted user factors (explicit) or topic tastes (implicit).
        item_factors : ndarray of shape (n_items, n_factors)
            The planted item factors (explicit) or topic-item distributions
            (implicit).
        user_activity : ndarray of shape (n_users,)
            The users' sampling weights (sum to 1).
        item_popularity : ndarray of shape (n_items,)
            The items' popularity weights (sum to 1).
        global_mean, user_bias, item_bias : float, ndarray, ndarray
            Explicit only: the planted intercept and biases.
        DESCR : str
            Short description of the generator and its parameters.

    (data, target) : tuple
        When ``return_X_y=True``.

    Raises
    ------
    ValueError
        On an invalid parameter, or ``n_interactions > n_users * n_items``.

    See Also
    --------
    fetch_movielens : Real ratings (MovieLens).

    Notes
    -----
    The pairs are drawn successively without replacement: a stream of
    draws with replacement whose repeats are dropped, vectorised in rounds,
    which switches to a Gumbel-top-k over all pairs not yet drawn when the
    request is dense (or repeats dominate) and enumerating is cheaper. Both
    give exactly ``n_interactions`` rows from the same distribution.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.datasets import make_interactions
    >>> X, y = make_interactions(n_users=50, n_items=20, n_interactions=300,
    ...                          random_state=0, return_X_y=True)
    >>> X.shape, y.shape
    ((300, 3), (300,))
    >>> list(X.columns)
    ['user_id', 'item_id', 'timestamp']
    >>> np.unique(y).tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0]
    >>> bunch = make_interactions(n_users=50, n_items=20, n_interactions=300,
    ...                           implicit=True, random_state=0)
    >>> bunch.target.name, int(bunch.target.min())
    ('count', 1)
    """
    n_users = check_k(n_users, name="n_users", estimator=_NAME)
    n_items = check_k(n_items, name="n_items", estimator=_NAME)
    n_interactions = check_k(n_interactions, name="n_interactions", estimator=_NAME)
    n_factors = check_k(n_factors, name="n_factors", estimator=_NAME)
    if n_interactions > n_users * n_items:
        raise ValueError(
            f"{_NAME}: n_interactions={n_interactions} exceeds the "
            f"n_users * n_items = {n_users * n_items} distinct (user, item) "
            "pairs. Lower n_interactions, or raise n_users or n_items."
        )
    if noise is None:
        noise = 0.1 if implicit else 0.5
    noise = _check_real(noise, "noise", low=0.0, high=1.0 if implicit else np.inf)
    popularity_alpha = _check_real(popularity_alpha, "popularity_alpha", low=0.0)
    activity_alpha = _check_real(activity_alpha, "activity_alpha", low=0.0)
    if not implicit:
        try:
            low, high = (float(v) for v in rating_scale)
        except (TypeError, ValueError):
            low = high = np.nan
        if not low < high:
            raise ValueError(
                f"{_NAME}: rating_scale={rating_scale!r} is invalid; pass "
                "(lowest, highest) with lowest < highest, e.g. (1, 5)."
            )
        if rating_step is not None:
            rating_step = _check_real(rating_step, "rating_step", low=0.0)
            if rating_step == 0:
                raise ValueError(
                    f"{_NAME}: rating_step=0 is invalid; pass a step > 0, or "
                    "None for continuous ratings."
                )

    rng = check_random_state(random_state)
    activity = _zipf_weights(n_users, activity_alpha, rng)
    popularity = _zipf_weights(n_items, popularity_alpha, rng)
    extra: dict[str, Any] = {}
    if implicit:
        user_factors = _dirichlet_rows(n_users, n_factors, rng)
        item_factors = popularity[:, None] * _dirichlet_rows(n_items, n_factors, rng)
        item_factors /= item_factors.sum(axis=0)
        mix_users = np.hstack([(1 - noise) * user_factors,
                               np.full((n_users, 1), noise)])
        mix_items = np.hstack([item_factors, popularity[:, None]])
    else:
        width = high - low
        factor_scale = np.sqrt(0.2 * width / np.sqrt(n_factors))
        extra = {
            "global_mean": low + 0.6 * width,
            "user_bias": rng.normal(0.0, 0.1 * width, n_users),
            "item_bias": rng.normal(0.0, 0.1 * width, n_items),
        }
        user_factors = rng.normal(0.0, factor_scale, (n_users, n_factors))
        item_factors = rng.normal(0.0, factor_scale, (n_items, n_factors))
        mix_users = np.ones((n_users, 1))
        mix_items = popularity[:, None]

    keys = _PairSampler(activity, mix_users, mix_items, rng).sample(n_interactions)
    users, items = np.divmod(keys, n_items)
    columns = {"user_id": users, "item_id": items}
    if with_timestamps:
        columns["timestamp"] = _START_TIME + rng.randint(
            0, _TIME_SPAN, size=n_interactions, dtype=np.int64
        )
    scores = _row_dots(user_factors, item_factors, users, items)
    if implicit:
        target_name = "count"
        target = 1 + rng.poisson(scores / popularity[items]).astype(np.int64)
    else:
        target_name = "rating"
        target = (extra["global_mean"] + extra["user_bias"][users]
                  + extra["item_bias"][items] + scores
                  + noise * rng.normal(size=n_interactions))
        if rating_step is not None:
            target = low + np.round((target - low) / rating_step) * rating_step
        target = np.clip(target, low, high)

    if as_frame:
        data = pd.DataFrame(columns)
        target = pd.Series(target, name=target_name)
    else:
        data = np.column_stack(list(columns.values()))
    if return_X_y:
        return data, target
    frame = pd.concat([data, target], axis=1) if as_frame else None
    kind = "implicit counts" if implicit else f"ratings in {rating_scale}"
    descr = (
        f"Synthetic interactions from make_interactions: {n_interactions} "
        f"distinct (user, item) pairs among {n_users} users and {n_items} "
        f"items, with {kind}. Item popularity and user activity follow Zipf "
        f"laws (exponents {popularity_alpha:g} and {activity_alpha:g}); a "
        f"structure of rank {n_factors} is planted (noise={noise:g})."
    )
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=list(columns),
        target_names=[target_name],
        user_factors=user_factors,
        item_factors=item_factors,
        user_activity=activity,
        item_popularity=popularity,
        DESCR=descr,
        **extra,
    )

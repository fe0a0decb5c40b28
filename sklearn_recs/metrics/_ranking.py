"""Ranking metrics of top-k recommendation lists: precision, recall, MAP, NDCG,
hit rate and MRR at k.

Every metric takes ``(y_true, y_pred)``, one entry per user:

- ``y_pred``: the recommendations, best first: a 2-D array of shape
  ``(n_users, n_ranked)`` or a sequence of per-user ranked id sequences
  (ragged lists for users with fewer recommendations).
- ``y_true``: the relevant items: per user a collection of ids (list, array,
  set) with relevance 1, or a mapping ``{item id: gain}`` (a dict or a pandas
  Series indexed by id) for graded relevance.

All metrics share one vectorised builder that encodes the ids and fills a
``(n_users, k)`` matrix with the gain of the item at each rank.
"""

from __future__ import annotations

import itertools
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.exceptions import UndefinedMetricWarning

from ..utils._stack import user_stacklevel
from ..utils.validation import check_ids, check_k

__all__ = [
    "average_precision_at_k_score",
    "hit_rate_at_k_score",
    "ndcg_at_k_score",
    "precision_at_k_score",
    "recall_at_k_score",
    "reciprocal_rank_at_k_score",
]

Average = Literal["mean"] | None


# -- input normalisation (shared with _beyond.py) ---------------------------
def _concatenate(rows: list, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Length and concatenation of the first ``limit`` entries of every row.

    Rows that are all 1-D ndarrays (as from ``np.split``) are joined by numpy;
    any other rows are read element by element into an object array.
    """
    if all(type(row) is np.ndarray and row.ndim == 1 for row in rows):
        rows = [row[:limit] for row in rows]
        lengths = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
        nonempty = [row for row in rows if row.size]
        if not nonempty:
            return lengths, np.empty(0, dtype=object)
        # numpy would silently turn numbers into strings in a mix of both
        mixed = len({row.dtype.kind in "OSU" for row in nonempty}) > 1
        return lengths, np.concatenate(nonempty, dtype=object if mixed else None)
    lengths = np.fromiter((min(len(row), limit) for row in rows), dtype=np.intp,
                          count=len(rows))
    flat = np.fromiter(
        itertools.chain.from_iterable(itertools.islice(row, limit) for row in rows),
        dtype=object, count=int(lengths.sum()),
    )
    return lengths, flat


def _reject_sparse(value: Any, name: str) -> None:
    if sp.issparse(value):
        raise TypeError(
            f"sparse {name} is not supported: it holds item ids, not a "
            "user x item matrix. Pass a 2-D array or a sequence of id lists, "
            "e.g. the output of recommend()."
        )


def _flatten_rankings(
    y_pred: Any, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Flatten the top ``k`` of each ranked list.

    Returns the user index, the 0-based rank and the item id of every kept
    entry, in user-major then rank order, and the number of users.
    """
    _reject_sparse(y_pred, "y_pred")
    if isinstance(y_pred, pd.DataFrame):
        y_pred = y_pred.to_numpy()
    if isinstance(y_pred, np.ndarray) and y_pred.ndim > 2:
        raise ValueError(
            f"y_pred must be a 2-D array of shape (n_users, n_ranked) or a "
            f"sequence of ranked id sequences; got an array of shape {y_pred.shape}."
        )
    if isinstance(y_pred, np.ndarray) and y_pred.ndim == 2:
        top = y_pred[:, :k]
        n_users, width = top.shape
        users = np.repeat(np.arange(n_users), width)
        ranks = np.tile(np.arange(width), n_users)
        items = check_ids(top.ravel(), what="item ids in y_pred")
        return users, ranks, items, n_users
    if isinstance(y_pred, str) or not isinstance(y_pred, Iterable):
        raise TypeError(
            f"y_pred must be a 2-D array or a sequence of ranked id sequences "
            f"(one per user); got {type(y_pred).__name__}."
        )
    rows = list(y_pred)
    for row in rows:
        if isinstance(row, str) or not isinstance(row, Iterable):
            raise ValueError(
                "y_pred must hold one ranked id sequence per user; got a row "
                f"{row!r}. For a single user, pass [ranking]."
            )
        if isinstance(row, set | frozenset | Mapping):
            raise TypeError(
                f"y_pred rows must be ordered sequences, best first; got a "
                f"{type(row).__name__}. Pass a list or an array."
            )
    lengths, flat = _concatenate(rows, k)
    users = np.repeat(np.arange(len(rows)), lengths)
    starts = np.cumsum(lengths) - lengths
    ranks = np.arange(len(flat)) - np.repeat(starts, lengths)
    return users, ranks, check_ids(flat, what="item ids in y_pred"), len(rows)


def _flatten_relevance(y_true: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Flatten the relevant items: user index, item id and gain of each entry."""
    _reject_sparse(y_true, "y_true")
    if isinstance(y_true, str) or not isinstance(y_true, Iterable):
        raise TypeError(
            "y_true must be a sequence of per-user relevant id collections "
            f"(or {{item id: gain}} mappings); got {type(y_true).__name__}."
        )
    keys, gains = [], []  # gains[u] is None for a plain collection (gain 1)
    for row in y_true:
        if type(row) in (np.ndarray, list, tuple):  # the common case, first
            keys.append(row)
            gains.append(None)
        elif isinstance(row, pd.Series):
            keys.append(row.index)
            gains.append(row.to_numpy())
        elif isinstance(row, Mapping):
            keys.append(row.keys())
            gains.append(row.values())
        elif isinstance(row, str) or not isinstance(row, Iterable):
            raise ValueError(
                "y_true must hold one collection of relevant ids per user; got "
                f"a row {row!r}. For a single user, pass [relevant_ids]."
            )
        else:  # a set or another collection
            keys.append(list(row))
            gains.append(None)
    lengths, items = _concatenate(keys, sys.maxsize)
    total = int(lengths.sum())
    try:
        gain = np.ones(total) if all(value is None for value in gains) else np.fromiter(
            itertools.chain.from_iterable(
                itertools.repeat(1.0, len(key)) if value is None else value
                for key, value in zip(keys, gains)
            ),
            dtype=np.float64, count=total,
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"y_true gains must be numbers ({exc}). Pass {{item id: gain}} "
            "with numeric gains, or plain id collections for binary relevance."
        ) from exc
    if not np.all(np.isfinite(gain)) or (gain < 0).any():
        bad = gain[~np.isfinite(gain) | (gain < 0)][0]
        raise ValueError(
            f"y_true gains must be finite and >= 0; got {bad}. Give "
            "non-relevant items gain 0 or leave them out."
        )
    users = np.repeat(np.arange(len(keys)), lengths)
    return users, check_ids(items, what="relevant item ids in y_true"), gain, len(keys)


def _joint_codes(pred_items: np.ndarray, true_items: np.ndarray):
    """Encode the recommended and relevant ids into one integer vocabulary."""
    if pred_items.size and true_items.size and (
        (pred_items.dtype == object) != (true_items.dtype == object)
    ):
        raise TypeError(
            f"y_true holds {'string' if true_items.dtype == object else 'numeric'}"
            f" ids but y_pred holds "
            f"{'string' if pred_items.dtype == object else 'numeric'} ids, so "
            "they can never match. Convert one side, e.g. with .astype(str)."
        )
    codes, vocabulary = pd.factorize(np.concatenate([pred_items, true_items]))
    return codes[:pred_items.size], codes[pred_items.size:], max(len(vocabulary), 1)


# -- the shared hit matrix ---------------------------------------------------
@dataclass(frozen=True)
class _TopK:
    """Gains of the recommended items at each rank, for all users at once.

    ``gains[u, r]`` is the gain of user ``u``'s item at rank ``r`` (0-based;
    0 for a non-relevant item, a repeated item or an empty slot);
    ``ideal[u]`` holds the user's relevant gains sorted in decreasing order;
    ``n_relevant[u]`` counts the user's relevant items (positive gain). Both
    matrices have ``min(k, longest list or relevant set)`` columns, so a huge
    ``k`` allocates nothing extra.
    """

    gains: np.ndarray
    ideal: np.ndarray
    n_relevant: np.ndarray
    k: int

    @property
    def hits(self) -> np.ndarray:
        return self.gains > 0


def _top_k(y_true: Any, y_pred: Any, k: Any) -> _TopK:
    k = check_k(k)
    pred_users, ranks, pred_items, n_users = _flatten_rankings(y_pred, k)
    true_users, true_items, gain, n_true = _flatten_relevance(y_true)
    if n_users != n_true:
        raise ValueError(
            f"y_true and y_pred must have one entry per user: got {n_true} "
            f"relevance sets and {n_users} rankings."
        )
    pred_codes, true_codes, n_codes = _joint_codes(pred_items, true_items)
    pred_keys = pred_users * n_codes + pred_codes
    true_keys = true_users * n_codes + true_codes

    # Relevant items with positive gain; an id listed twice keeps its largest gain.
    relevant = gain > 0
    true_keys, true_users, gain = true_keys[relevant], true_users[relevant], gain[relevant]
    order = np.lexsort((-gain, true_keys))
    true_keys, true_users, gain = true_keys[order], true_users[order], gain[order]
    first = np.ones(len(true_keys), dtype=bool)
    first[1:] = true_keys[1:] != true_keys[:-1]
    true_keys, true_users, gain = true_keys[first], true_users[first], gain[first]
    n_relevant = np.bincount(true_users, minlength=n_users)

    width = max(1, min(k, max(ranks.max(initial=-1), n_relevant.max(initial=0) - 1) + 1))

    # Match each recommendation with the user's relevant items; a repeated id
    # earns its gain once, at its best rank (entries are in rank order).
    where = np.minimum(np.searchsorted(true_keys, pred_keys), max(len(true_keys) - 1, 0))
    hit = np.flatnonzero(true_keys[where] == pred_keys) if len(true_keys) else where[:0]
    hit = hit[~pd.Index(pred_keys[hit]).duplicated()]
    gains = np.zeros((n_users, width))
    gains[pred_users[hit], ranks[hit]] = gain[where[hit]]

    # Ideal ranking: each user's relevant gains in decreasing order, cut at k.
    order = np.lexsort((-gain, true_users))
    sorted_users = true_users[order]
    position = np.arange(len(order)) - np.repeat(np.cumsum(n_relevant) - n_relevant,
                                                 n_relevant)
    keep = position < width
    ideal = np.zeros((n_users, width))
    ideal[sorted_users[keep], position[keep]] = gain[order][keep]
    return _TopK(gains=gains, ideal=ideal, n_relevant=n_relevant, k=k)


def _average(per_user: np.ndarray, average: Average) -> float | np.ndarray:
    """Mean over the users whose score is defined (not NaN), or the array."""
    if average is None:
        return per_user
    defined = ~np.isnan(per_user)
    if not defined.any():
        warnings.warn(
            "The metric is undefined for every user (no relevant items for a "
            "ranking metric; an empty list, or one item for diversity); "
            "returning nan.",
            UndefinedMetricWarning,
            stacklevel=user_stacklevel(),
        )
        return float("nan")
    return float(per_user[defined].mean())


def _check_average(average: Any) -> None:
    if average not in ("mean", None):
        raise ValueError(
            f"average={average!r} is invalid; use 'mean' (mean over users) or "
            "None (one score per user)."
        )


def _score(
    y_true: Any,
    y_pred: Any,
    k: Any,
    average: Any,
    per_user: Callable[[_TopK], np.ndarray],
) -> float | np.ndarray:
    """Compute a ranking metric: per-user values, NaN without relevant items."""
    _check_average(average)
    top = _top_k(y_true, y_pred, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = per_user(top).astype(np.float64)
    values[top.n_relevant == 0] = np.nan
    return _average(values, average)


# -- per-user formulas -------------------------------------------------------
def _precision(top: _TopK) -> np.ndarray:
    return top.hits.sum(axis=1) / top.k


def _recall(top: _TopK) -> np.ndarray:
    return top.hits.sum(axis=1) / top.n_relevant


def _average_precision(top: _TopK) -> np.ndarray:
    hits = top.hits
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    return (precision_at_rank * hits).sum(axis=1) / np.minimum(top.k, top.n_relevant)


def _ndcg(top: _TopK) -> np.ndarray:
    discount = 1.0 / np.log2(np.arange(top.gains.shape[1]) + 2.0)
    return (top.gains @ discount) / (top.ideal @ discount)


def _hit_rate(top: _TopK) -> np.ndarray:
    return top.hits.any(axis=1)


def _reciprocal_rank(top: _TopK) -> np.ndarray:
    hits = top.hits
    return np.where(hits.any(axis=1), 1.0 / (hits.argmax(axis=1) + 1.0), 0.0)


# -- public metrics ----------------------------------------------------------
_SHARED_NOTES = """Conventions shared by every ranking metric of this module:

    - The list order is the ranking: ties in the scores that produced it
      play no role.
    - Only the first ``k`` entries of each list count; a list shorter than
      ``k`` (or a ``k`` larger than the list) simply has no more entries.
    - A recommended id repeated within a list earns credit once, at its first
      (best) rank; its later copies count as non-relevant entries.
    - A relevant id listed twice in ``y_true`` counts once (with its largest
      gain); ids with gain 0 are not relevant.
    - A user with no relevant item has an undefined score: NaN with
      ``average=None``, left out of the mean with ``average="mean"``. If every
      user is undefined the mean is NaN, with an ``UndefinedMetricWarning``.
"""

_PARAMETERS = """Parameters
    ----------
    y_true : sequence of length n_users
        Relevant items of each user: a collection of ids (list, array, set),
        or a mapping ``{item id: gain}`` (dict or pandas Series indexed by
        id) where items with a positive gain are relevant.
    y_pred : array-like of shape (n_users, n_ranked) or sequence of sequences
        Recommended ids of each user, best first. Rows may have different
        lengths (a ragged list) when some users have fewer recommendations.
    k : int, default=10
        Cut-off: the number of top-ranked entries evaluated.
    average : {"mean"} or None, default="mean"
        ``"mean"``: the mean over users with at least one relevant item.
        None: the score of every user (NaN where it is undefined).

    Returns
    -------
    float or ndarray of shape (n_users,)
        {returns}
"""


def precision_at_k_score(
    y_true: Sequence[Any], y_pred: Any, *, k: int = 10, average: Average = "mean"
) -> float | np.ndarray:
    """Precision at k: the share of the top k recommendations that are relevant.

    For a user with relevant set :math:`R` and ranked list :math:`L`,
    ``precision@k = |L[:k] ∩ R| / k``. The denominator is always ``k``, even
    when fewer than ``k`` items are recommended: missing recommendations
    count as misses, so a model is not rewarded for returning short lists.

    {parameters}
    See Also
    --------
    recall_at_k_score : Share of the relevant items that are recommended.

    Notes
    -----
    {notes}
    Examples
    --------
    >>> from sklearn_recs.metrics import precision_at_k_score
    >>> y_true = [[1, 2], [3]]
    >>> y_pred = [[1, 5, 2], [4, 5, 6]]
    >>> precision_at_k_score(y_true, y_pred, k=2)
    0.25
    >>> precision_at_k_score(y_true, y_pred, k=3, average=None)
    array([0.666..., 0. ])
    """
    return _score(y_true, y_pred, k, average, _precision)


def recall_at_k_score(
    y_true: Sequence[Any], y_pred: Any, *, k: int = 10, average: Average = "mean"
) -> float | np.ndarray:
    """Recall at k: the share of the relevant items found in the top k.

    ``recall@k = |L[:k] ∩ R| / |R|``, the standard definition, whose
    denominator is the number of relevant items :math:`|R|`. A user with
    more than ``k`` relevant items therefore cannot reach 1. (Some libraries,
    LensKit for one, divide by ``min(k, |R|)`` instead.)

    {parameters}
    See Also
    --------
    precision_at_k_score : Share of the recommendations that are relevant.

    Notes
    -----
    {notes}
    Examples
    --------
    >>> from sklearn_recs.metrics import recall_at_k_score
    >>> recall_at_k_score([[1, 2], [3]], [[1, 5, 2], [4, 5, 6]], k=2, average=None)
    array([0.5, 0. ])
    """
    return _score(y_true, y_pred, k, average, _recall)


def average_precision_at_k_score(
    y_true: Sequence[Any], y_pred: Any, *, k: int = 10, average: Average = "mean"
) -> float | np.ndarray:
    """Average precision at k; its mean over users is MAP@k.

    ``AP@k = (1 / min(k, |R|)) * sum_{i=1..k} precision@i * rel_i``, where
    ``rel_i`` is 1 when the item at rank ``i`` is relevant. The normaliser
    ``min(k, |R|)`` is the number of hits of a perfect list, so AP@k is 1
    exactly when the top ``min(k, |R|)`` entries are all relevant.

    {parameters}
    See Also
    --------
    ndcg_at_k_score : Rank-discounted gain, also for graded relevance.

    Notes
    -----
    {notes}
    Examples
    --------
    >>> from sklearn_recs.metrics import average_precision_at_k_score
    >>> # hits at ranks 1 and 3: (1/1 + 2/3) / min(3, 2)
    >>> average_precision_at_k_score([[1, 2]], [[1, 5, 2]], k=3)
    0.833...
    """
    return _score(y_true, y_pred, k, average, _average_precision)


def ndcg_at_k_score(
    y_true: Sequence[Any], y_pred: Any, *, k: int = 10, average: Average = "mean"
) -> float | np.ndarray:
    """Normalised discounted cumulative gain at k, binary or graded.

    ``DCG@k = sum_{i=1..k} gain(L[i]) / log2(i + 1)``: the gain of an item
    is its relevance (1 for the ids of a plain collection, the given value
    for a ``{item id: gain}`` mapping, 0 for non-relevant items), and the
    rank ``i`` starts at 1. ``NDCG@k = DCG@k / IDCG@k``, where the ideal
    ``IDCG@k`` is the DCG of the user's relevant items sorted by decreasing
    gain, truncated at ``k``. It lies in [0, 1].

    {parameters}
    See Also
    --------
    average_precision_at_k_score : Binary-relevance MAP@k.

    Notes
    -----
    {notes}
    References
    ----------
    .. [1] K. Järvelin and J. Kekäläinen, "Cumulated gain-based evaluation of
       IR techniques", ACM TOIS 20(4), 2002.

    Examples
    --------
    >>> from sklearn_recs.metrics import ndcg_at_k_score
    >>> # binary: DCG = 1/log2(2) + 1/log2(4) = 1.5, IDCG = 1 + 1/log2(3)
    >>> ndcg_at_k_score([[1, 2]], [[1, 5, 2]], k=3)
    0.919...
    >>> # graded: DCG = 1/log2(2) + 3/log2(3), IDCG = 3 + 1/log2(3)
    >>> ndcg_at_k_score([{1: 1.0, 2: 3.0}], [[1, 2]], k=2)
    0.796...
    """
    return _score(y_true, y_pred, k, average, _ndcg)


def hit_rate_at_k_score(
    y_true: Sequence[Any], y_pred: Any, *, k: int = 10, average: Average = "mean"
) -> float | np.ndarray:
    """Hit rate at k: whether at least one relevant item is in the top k.

    ``hit@k = 1 if |L[:k] ∩ R| > 0 else 0``; its mean is the share of users
    with a hit. With one held-out item per user (leave-one-out), it equals
    recall@k.

    {parameters}
    See Also
    --------
    reciprocal_rank_at_k_score : Also rewards finding the hit early.

    Notes
    -----
    {notes}
    Examples
    --------
    >>> from sklearn_recs.metrics import hit_rate_at_k_score
    >>> hit_rate_at_k_score([[1, 2], [3]], [[1, 5, 2], [4, 5, 6]], k=2)
    0.5
    """
    return _score(y_true, y_pred, k, average, _hit_rate)


def reciprocal_rank_at_k_score(
    y_true: Sequence[Any], y_pred: Any, *, k: int = 10, average: Average = "mean"
) -> float | np.ndarray:
    """Reciprocal rank at k; its mean over users is MRR@k.

    ``RR@k = 1 / i`` where ``i`` (from 1) is the rank of the first relevant
    item of ``L[:k]``, and 0 when there is none.

    {parameters}
    See Also
    --------
    hit_rate_at_k_score : Whether any relevant item is found.

    Notes
    -----
    {notes}
    Examples
    --------
    >>> from sklearn_recs.metrics import reciprocal_rank_at_k_score
    >>> # first hits at ranks 2 and (within k=3) none
    >>> reciprocal_rank_at_k_score([[2], [3]], [[1, 2, 3], [4, 5, 6]], k=3, average=None)
    array([0.5, 0. ])
    """
    return _score(y_true, y_pred, k, average, _reciprocal_rank)


_RETURNS = {
    precision_at_k_score: "Precision@k, in [0, 1].",
    recall_at_k_score: "Recall@k, in [0, 1].",
    average_precision_at_k_score: "AP@k per user; with ``average='mean'``, MAP@k. In [0, 1].",
    ndcg_at_k_score: "NDCG@k, in [0, 1].",
    hit_rate_at_k_score: "1.0 or 0.0 per user; with ``average='mean'``, the hit rate.",
    reciprocal_rank_at_k_score: "RR@k per user; with ``average='mean'``, MRR@k. In [0, 1].",
}
for _metric, _returns in _RETURNS.items():
    if _metric.__doc__:  # None under python -OO
        _metric.__doc__ = _metric.__doc__.replace(
            "{parameters}", _PARAMETERS.replace("{returns}", _returns)
        ).replace("{notes}", _SHARED_NOTES)
del _metric, _returns

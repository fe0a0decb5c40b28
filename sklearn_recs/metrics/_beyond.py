"""Beyond-accuracy metrics: catalogue coverage, intra-list diversity, novelty
and popularity bias of top-k recommendation lists.

They describe the lists themselves and need no relevant items. ``y_pred`` is
as for the ranking metrics: a 2-D array of shape ``(n_users, n_ranked)`` or a
sequence of per-user ranked id sequences, best first; only the first ``k``
entries of each list count, and a list is used as given (an id repeated
within a list counts every time).

Per-item data (vectors, similarities, popularity) is given in one of three
ways: a pandas Series or DataFrame indexed by item id; a mapping
``{item id: value}``; or an array whose rows are the items ``item_ids`` (by
default ``0, 1, ..., n_items - 1``, for integer item codes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from ..utils.validation import check_ids, check_k
from ._ranking import Average, _average, _check_average, _flatten_rankings

__all__ = [
    "average_popularity_score",
    "coverage_score",
    "intra_list_diversity_score",
    "novelty_score",
]


def _item_table(table: Any, item_ids: Any, *, name: str) -> tuple[pd.Index, Any]:
    """Split per-item data into an index of item ids and aligned rows."""
    if isinstance(table, pd.Series | pd.DataFrame | Mapping) and item_ids is not None:
        raise ValueError(
            f"{name} is already keyed by item id ({type(table).__name__}); "
            "leave item_ids=None, or pass a plain array aligned with item_ids."
        )
    if isinstance(table, pd.Series | pd.DataFrame):
        ids, values = table.index, table.to_numpy()
    elif isinstance(table, Mapping):
        ids, values = list(table.keys()), list(table.values())
        if any(map(sp.issparse, values)):
            values = sp.vstack(values, format="csr")
    else:
        values = table
    values = _as_finite_floats(values, name)
    if not isinstance(table, pd.Series | pd.DataFrame | Mapping):
        ids = np.arange(values.shape[0]) if item_ids is None else item_ids
    index = pd.Index(check_ids(ids, what=f"item ids of {name}"))
    if len(index) != values.shape[0]:
        raise ValueError(
            f"{name} has {values.shape[0]} rows but item_ids has {len(index)} "
            "ids; they must be aligned, one id per row."
        )
    if not index.is_unique:
        duplicate = index[index.duplicated()][:1].tolist()[0]
        raise ValueError(
            f"item ids of {name} must be unique; {duplicate!r} appears more "
            "than once."
        )
    return index, values


def _as_finite_floats(values: Any, name: str) -> Any:
    """``values`` as float64 (dense or sparse), or a clear error."""
    try:
        values = (values.astype(np.float64) if sp.issparse(values)
                  else np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must hold numbers, in rows of equal length, one per item "
            f"({exc})."
        ) from exc
    bad = ~np.isfinite(values.data if sp.issparse(values) else values)
    if bad.any():
        raise ValueError(
            f"{name} holds {int(bad.sum())} NaN or infinite value(s); fill them "
            "(e.g. with 0) first."
        )
    return values


def _positions(items: np.ndarray, index: pd.Index, *, name: str) -> np.ndarray:
    """Row of each recommended item in a per-item table."""
    positions = index.get_indexer(items)
    missing = positions < 0
    if missing.any():
        raise ValueError(
            f"{int(missing.sum())} recommended item(s) are missing from {name} "
            f"(e.g. {items[missing][:1].tolist()[0]!r}). Give a value for every "
            "item that can be recommended, or pass item_ids aligned with its rows."
        )
    return positions


def _popularity(item_popularity: Any, item_ids: Any) -> tuple[pd.Index, np.ndarray]:
    index, values = _item_table(item_popularity, item_ids, name="item_popularity")
    if sp.issparse(values):
        values = values.toarray()
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(
            "item_popularity must hold one number per item; got shape "
            f"{values.shape}."
        )
    return index, values


def _squared_row_norms(matrix: Any) -> np.ndarray:
    squared = matrix.multiply(matrix) if sp.issparse(matrix) else matrix * matrix
    return np.asarray(squared.sum(axis=1)).ravel()


def _mean_per_list(users: np.ndarray, values: np.ndarray, n_users: int,
                   average: Average) -> float | np.ndarray:
    """Mean of ``values`` within each list (NaN for an empty list), averaged."""
    counts = np.bincount(users, minlength=n_users)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_list = np.bincount(users, weights=values, minlength=n_users) / counts
    return _average(per_list, average)


def coverage_score(y_pred: Any, catalogue: int | Any, *, k: int = 10) -> float:
    """Catalogue coverage: the share of the catalogue recommended to anyone.

    ``coverage@k = |union of L_u[:k] over users u ∩ C| / |C|`` for the
    catalogue ``C`` (often all items seen in training). A recommender that
    gives every user the same list covers ``k / |C|``.

    Parameters
    ----------
    y_pred : array-like of shape (n_users, n_ranked) or sequence of sequences
        Recommended ids of each user, best first.
    catalogue : int or array-like of shape (n_items,)
        The catalogue: its size, or its item ids. With ids, recommended items
        outside the catalogue are ignored; with a size, every recommended id
        is taken to be in it.
    k : int, default=10
        Number of top-ranked entries of each list that count.

    Returns
    -------
    float
        Coverage, in [0, 1].

    See Also
    --------
    intra_list_diversity_score : Diversity within each list.

    Examples
    --------
    >>> from sklearn_recs.metrics import coverage_score
    >>> y_pred = [[1, 2, 3], [1, 2, 4]]
    >>> coverage_score(y_pred, 10, k=2)  # {1, 2} of 10 items
    0.2
    >>> coverage_score(y_pred, [1, 2, 3, 4, 5], k=3)  # {1, 2, 3, 4} of 5
    0.8
    """
    _, _, items, _ = _flatten_rankings(y_pred, check_k(k))
    if isinstance(catalogue, int | np.integer) and not isinstance(catalogue, bool):
        n_items = check_k(catalogue, name="catalogue")
        n_recommended = len(pd.unique(items))
        if n_recommended > n_items:
            raise ValueError(
                f"catalogue={n_items} is smaller than the {n_recommended} "
                "distinct items recommended; pass the catalogue's size or its "
                "item ids."
            )
        return n_recommended / n_items
    catalogue_ids = pd.Index(check_ids(catalogue, what="catalogue item ids")).unique()
    if catalogue_ids.empty:
        raise ValueError("catalogue is empty; pass its size or its item ids.")
    return float(catalogue_ids.isin(items).sum() / len(catalogue_ids))


def intra_list_diversity_score(
    y_pred: Any,
    item_vectors: Any = None,
    *,
    similarity: Any = None,
    item_ids: Any = None,
    k: int = 10,
    average: Average = "mean",
) -> float | np.ndarray:
    """Intra-list diversity: the mean pairwise distance within each list.

    ``ILD(L) = mean over pairs i < j of L[:k] of (1 - sim(i, j))``, where
    ``sim`` is the cosine similarity of the item vectors, or the given
    item-item similarity. A list with fewer than 2 items has no pair and an
    undefined (NaN) diversity, left out of the mean.

    Parameters
    ----------
    y_pred : array-like of shape (n_users, n_ranked) or sequence of sequences
        Recommended ids of each user, best first.
    item_vectors : {array-like, sparse matrix} of shape (n_items, n_features), \
            DataFrame or mapping, default=None
        Item feature vectors (genres, embeddings, TF-IDF rows): rows aligned
        with ``item_ids``, a DataFrame indexed by item id, or a mapping
        ``{item id: vector}``. A zero vector has similarity 0 with every item.
    similarity : {array-like, sparse matrix} of shape (n_items, n_items) or \
            DataFrame, default=None
        A precomputed item-item similarity instead of ``item_vectors``, rows
        and columns in the order of ``item_ids`` (or of a DataFrame's index).
        Give exactly one of ``item_vectors`` and ``similarity``.
    item_ids : array-like of shape (n_items,), default=None
        Item id of each row of an array; None means ``0, ..., n_items - 1``.
    k : int, default=10
        Number of top-ranked entries of each list that count.
    average : {"mean"} or None, default="mean"
        ``"mean"``: the mean over lists with at least 2 items. None: the
        diversity of every list.

    Returns
    -------
    float or ndarray of shape (n_users,)
        The diversity; with cosine similarity of non-negative vectors it lies
        in [0, 1].

    See Also
    --------
    coverage_score : Diversity across lists.

    Notes
    -----
    With item vectors the cost is linear in the list length: for the unit
    vectors :math:`u_i` of a list, the sum of pairwise similarities is
    :math:`(\\|\\sum_i u_i\\|^2 - \\sum_i \\|u_i\\|^2) / 2`.

    References
    ----------
    .. [1] C.-N. Ziegler, S. M. McNee, J. A. Konstan and G. Lausen,
       "Improving recommendation lists through topic diversification",
       WWW 2005.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.metrics import intra_list_diversity_score
    >>> genres = np.array([[1, 0], [1, 0], [0, 1]])  # items 0, 1, 2
    >>> # pairs of [0, 1, 2]: (0, 1) distance 0, (0, 2) and (1, 2) distance 1
    >>> intra_list_diversity_score([[0, 1, 2], [0, 1]], genres, average=None)
    array([0.666..., 0. ])
    """
    _check_average(average)
    users, ranks, items, n_users = _flatten_rankings(y_pred, check_k(k))
    if (item_vectors is None) == (similarity is None):
        raise ValueError(
            "Give exactly one of item_vectors (cosine similarity of item "
            "vectors) and similarity (a precomputed item-item matrix)."
        )
    if item_vectors is not None:
        index, vectors = _item_table(item_vectors, item_ids, name="item_vectors")
        if vectors.ndim != 2:
            raise ValueError(
                f"item_vectors must be 2-D (n_items, n_features); got shape "
                f"{vectors.shape}."
            )
        rows = _positions(items, index, name="item_vectors")
        unit = normalize(vectors.astype(np.float64), norm="l2")
        membership = sp.csr_array((np.ones(len(rows)), (users, rows)),
                                  shape=(n_users, len(index)))
        total_sq = _squared_row_norms(membership @ unit)
        self_sq = np.bincount(users, weights=_squared_row_norms(unit)[rows],
                              minlength=n_users)
        n = np.bincount(users, minlength=n_users)
        n_pairs = n * (n - 1) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            per_list = 1.0 - (total_sq - self_sq) / 2.0 / n_pairs
        return _average(per_list, average)

    index, matrix = _item_table(similarity, item_ids, name="similarity")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(
            f"similarity must be a square (n_items, n_items) matrix; got shape "
            f"{matrix.shape}."
        )
    if sp.issparse(matrix):
        matrix = sp.csr_array(matrix)
    width = int(ranks.max(initial=-1)) + 1
    codes = np.full((n_users, width), -1, dtype=np.intp)
    codes[users, ranks] = _positions(items, index, name="similarity")
    first, second = np.triu_indices(width, 1)
    left, right = codes[:, first], codes[:, second]
    pair = (left >= 0) & (right >= 0)
    distance = np.zeros(pair.shape)
    distance[pair] = 1.0 - np.asarray(matrix[left[pair], right[pair]]).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        per_list = distance.sum(axis=1) / pair.sum(axis=1)
    return _average(per_list, average)


def novelty_score(
    y_pred: Any,
    item_popularity: Any,
    *,
    item_ids: Any = None,
    k: int = 10,
    average: Average = "mean",
) -> float | np.ndarray:
    """Novelty: the mean self-information of the recommended items.

    ``novelty(L) = mean over i in L[:k] of -log2(p_i)``, where ``p_i`` is the
    probability that a user knows item ``i``, usually the share of training
    users who interacted with it. Recommending rarer items scores higher;
    an item every user knows adds 0 bits.

    Parameters
    ----------
    y_pred : array-like of shape (n_users, n_ranked) or sequence of sequences
        Recommended ids of each user, best first.
    item_popularity : array-like of shape (n_items,), Series or mapping
        The probability ``p_i`` in (0, 1] of each item, e.g.
        ``train.groupby(item)[user].nunique() / train[user].nunique()``:
        values aligned with ``item_ids``, a Series indexed by item id, or a
        mapping ``{item id: p}``. Only recommended items need a value.
    item_ids : array-like of shape (n_items,), default=None
        Item id of each value of an array; None means ``0, ..., n_items - 1``.
    k : int, default=10
        Number of top-ranked entries of each list that count.
    average : {"mean"} or None, default="mean"
        ``"mean"``: the mean over non-empty lists. None: the novelty of every
        list (NaN for an empty one).

    Returns
    -------
    float or ndarray of shape (n_users,)
        Novelty in bits, >= 0.

    See Also
    --------
    average_popularity_score : Mean popularity of the recommended items.

    References
    ----------
    .. [1] T. Zhou et al., "Solving the apparent diversity-accuracy dilemma of
       recommender systems", PNAS 107(10), 2010.

    Examples
    --------
    >>> from sklearn_recs.metrics import novelty_score
    >>> p = {"a": 0.5, "b": 0.25, "c": 1.0}
    >>> # (-log2(0.5) - log2(0.25)) / 2 = (1 + 2) / 2
    >>> novelty_score([["a", "b"], ["c"]], p, average=None)
    array([1.5, 0. ])
    """
    _check_average(average)
    users, _, items, n_users = _flatten_rankings(y_pred, check_k(k))
    index, probability = _popularity(item_popularity, item_ids)
    p = probability[_positions(items, index, name="item_popularity")]
    if p.size and not (np.all(p > 0) and np.all(p <= 1)):
        bad = p[~((p > 0) & (p <= 1))][0]
        raise ValueError(
            f"item_popularity must hold probabilities in (0, 1] for every "
            f"recommended item; got {bad:g}. Divide counts by the number of "
            "users, and smooth zero counts (e.g. (count + 1) / (n_users + 1))."
        )
    return _mean_per_list(users, -np.log2(p), n_users, average)


def average_popularity_score(
    y_pred: Any,
    item_popularity: Any,
    *,
    item_ids: Any = None,
    k: int = 10,
    average: Average = "mean",
) -> float | np.ndarray:
    """Average recommendation popularity (ARP), a measure of popularity bias.

    ``ARP(L) = mean over i in L[:k] of pop_i``: how popular the recommended
    items are, on the scale of ``item_popularity`` (counts of training
    interactions, or shares). Lower means less popularity bias; compare it
    with the mean popularity of the catalogue or of a popularity ranking.

    Parameters
    ----------
    y_pred : array-like of shape (n_users, n_ranked) or sequence of sequences
        Recommended ids of each user, best first.
    item_popularity : array-like of shape (n_items,), Series or mapping
        Popularity of each item (any non-negative scale): values aligned
        with ``item_ids``, a Series indexed by item id (``train[item]
        .value_counts()``), or a mapping ``{item id: popularity}``.
    item_ids : array-like of shape (n_items,), default=None
        Item id of each value of an array; None means ``0, ..., n_items - 1``.
    k : int, default=10
        Number of top-ranked entries of each list that count.
    average : {"mean"} or None, default="mean"
        ``"mean"``: the mean over non-empty lists. None: the ARP of every list
        (NaN for an empty one).

    Returns
    -------
    float or ndarray of shape (n_users,)
        Mean popularity of the recommended items.

    See Also
    --------
    novelty_score : Mean self-information of the recommended items.

    References
    ----------
    .. [1] H. Abdollahpouri, R. Burke and B. Mobasher, "Managing popularity
       bias in recommender systems with personalized re-ranking", FLAIRS 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.metrics import average_popularity_score
    >>> counts = np.array([50, 10, 2])  # interactions of items 0, 1, 2
    >>> average_popularity_score([[0, 1], [1, 2]], counts)  # mean of 30 and 6
    18.0
    """
    _check_average(average)
    users, _, items, n_users = _flatten_rankings(y_pred, check_k(k))
    index, popularity = _popularity(item_popularity, item_ids)
    values = popularity[_positions(items, index, name="item_popularity")]
    return _mean_per_list(users, values, n_users, average)

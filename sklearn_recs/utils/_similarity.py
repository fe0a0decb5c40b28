"""Pairwise similarities between the rows of a sparse matrix, pruned per row.

The kernels of :mod:`sklearn_recs.neighbors`. Rows are the entities compared
(items for item-item, users for user-user), columns the raters. Similarities
are computed block by block of rows with sparse (or, for small data, BLAS)
products, and each block is pruned to its rows' top ``n_neighbors`` before
the next one is computed, so that memory stays ``O(n_rows * n_neighbors)``
plus one block of ``working_memory`` (scikit-learn's setting).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn import get_config

__all__ = ["KERNELS", "bm25_weight", "pairwise_similarity", "tfidf_weight"]

#: ``"cosine"``: cosine of whole rows; ``"dot"``: inner product of whole
#: rows; ``"co_cosine"``: cosine over the co-rated columns only (the norms
#: are taken over the columns both rows hold); ``"msd"``: ``1 / (1 + msd)``
#: with ``msd`` the mean squared difference over the co-rated columns.
KERNELS = ("cosine", "dot", "co_cosine", "msd")

# Dense float32 arrays of one block's width held at once (products, the
# similarity, top-k's scratch), in bytes per entry.
_BYTES_PER_ENTRY = 48
# Right-hand operands are made dense when they hold at most this many entries.
_DENSE_LIMIT = 2**24


def tfidf_weight(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """TF-IDF weights of a rows-by-columns matrix: ``sqrt(x) * idf(column)``.

    ``idf = log(n_rows) - log1p(n_rows_holding_the_column)``, as in the
    implicit library.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix of shape (n_rows, n_columns)
        Non-negative weights; rows are the documents (the entities compared).

    Returns
    -------
    weighted : scipy.sparse.csr_matrix of shape (n_rows, n_columns)
        Same sparsity pattern.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_recs.utils._similarity import tfidf_weight
    >>> tfidf_weight(sp.csr_matrix([[1.0, 4.0], [0.0, 1.0]])).toarray().round(3)
    array([[ 0.   , -0.811],
           [ 0.   , -0.405]])
    """
    weighted = matrix.tocsr(copy=True)
    idf = np.log(weighted.shape[0]) - np.log1p(np.bincount(weighted.indices,
                                                            minlength=weighted.shape[1]))
    weighted.data = np.sqrt(weighted.data) * idf[weighted.indices]
    return weighted


def bm25_weight(matrix: sp.csr_matrix, *, k1: float = 100.0, b: float = 0.8) -> sp.csr_matrix:
    """Okapi BM25 weights of a rows-by-columns matrix, as in the implicit library.

    ``x * (k1 + 1) / (k1 * norm(row) + x) * idf(column)``, with
    ``norm(row) = 1 - b + b * row_sum / mean_row_sum`` and ``idf`` as in
    :func:`tfidf_weight`.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix of shape (n_rows, n_columns)
        Non-negative weights; rows are the documents (the entities compared).
    k1 : float, default=100.0
        Saturation of repeated weights.
    b : float, default=0.8
        Strength of the row-length normalisation, in [0, 1].

    Returns
    -------
    weighted : scipy.sparse.csr_matrix of shape (n_rows, n_columns)
        Same sparsity pattern.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_recs.utils._similarity import bm25_weight
    >>> x = sp.csr_matrix([[1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0],
    ...                    [1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]])
    >>> bm25_weight(x).toarray().round(2)
    array([[0.26, 0.26, 0.  , 0.  ],
           [0.  , 0.26, 0.62, 0.  ],
           [0.26, 0.  , 0.  , 0.26],
           [0.  , 0.  , 0.  , 0.44]])
    """
    weighted = matrix.tocsr(copy=True)
    n_rows = weighted.shape[0]
    idf = np.log(n_rows) - np.log1p(np.bincount(weighted.indices, minlength=weighted.shape[1]))
    row_sums = np.asarray(weighted.sum(axis=1)).ravel()
    length_norm = (1.0 - b) + b * row_sums / max(row_sums.mean(), np.finfo(float).tiny)
    rows = np.repeat(np.arange(n_rows), np.diff(weighted.indptr))
    x = weighted.data
    weighted.data = x * (k1 + 1.0) / (k1 * length_norm[rows] + x) * idf[weighted.indices]
    return weighted


def pairwise_similarity(
    values: sp.csr_matrix,
    *,
    kernel: str,
    n_neighbors: int | None = None,
    shrinkage: float = 0.0,
    min_support: int = 1,
    amplification: float = 1.0,
    working_memory: float | None = None,
) -> sp.csr_matrix:
    """Positive similarities between the rows of ``values``, each row pruned to its top ones.

    Parameters
    ----------
    values : scipy.sparse.csr_matrix of shape (n_rows, n_columns)
        Row vectors; a stored entry (even 0.0) marks a co-rating column for
        the ``co_*`` and ``msd`` kernels.
    kernel : {"cosine", "dot", "co_cosine", "msd"}
        See :data:`KERNELS`. Where the similarity is undefined (a zero norm,
        no co-rated column) it is 0.
    n_neighbors : int, default=None
        Keep each row's ``n_neighbors`` largest similarities (which of
        equal similarities at the cut are kept is unspecified); None keeps
        them all.
    shrinkage : float, default=0.0
        Significance shrinkage: ``s * n_common / (n_common + shrinkage)``,
        ``n_common`` the number of co-rated columns.
    min_support : int, default=1
        Pairs with fewer co-rated columns get similarity 0.
    amplification : float, default=1.0
        Exponent applied to the (positive) similarities, after shrinkage.
    working_memory : float, default=None
        MiB for one block of rows; scikit-learn's ``working_memory`` by default.

    Returns
    -------
    similarity : scipy.sparse.csr_matrix of shape (n_rows, n_rows), float32
        Only positive similarities are stored; the diagonal is empty;
        column indices are sorted.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_recs.utils._similarity import pairwise_similarity
    >>> x = sp.csr_matrix([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    >>> pairwise_similarity(x, kernel="cosine").toarray().round(3)
    array([[0.   , 0.707, 0.5  ],
           [0.707, 0.   , 0.   ],
           [0.5  , 0.   , 0.   ]], dtype=float32)
    """
    x = sp.csr_matrix(values, dtype=np.float32, copy=True)
    x.sum_duplicates()
    n_rows = x.shape[0]
    if kernel == "cosine":
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        x.data /= np.where(norms > 0, norms, 1.0)[np.repeat(np.arange(n_rows), np.diff(x.indptr))]
    pattern = x.copy()
    pattern.data[:] = 1.0
    squares = x.multiply(x).tocsr()
    # Each product is left[block] @ right.T.
    products = {"dot": (x, x)}
    if kernel in ("co_cosine", "msd"):
        products["sq_a"] = (squares, pattern)
        products["sq_b"] = (pattern, squares)
    if kernel == "msd" or shrinkage > 0 or min_support > 1:
        products["common"] = (pattern, pattern)
    right = {name: _right_operand(r) for name, (_, r) in products.items()}
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    step = max(1, int(working_memory * 2**20) // (max(n_rows, 1) * _BYTES_PER_ENTRY))
    keep = n_rows if n_neighbors is None else min(n_neighbors, n_rows)
    pieces = []
    for start in range(0, n_rows, step):
        stop = min(start + step, n_rows)
        block = {name: _dense(left[start:stop] @ right[name])
                 for name, (left, _) in products.items()}
        sim = _kernel_block(kernel, block)
        common = block.get("common")
        if shrinkage > 0:
            sim *= common / (common + np.float32(shrinkage))
        if min_support > 1:
            sim[common < min_support] = 0.0
        np.maximum(sim, 0.0, out=sim)
        if amplification != 1.0:
            np.power(sim, np.float32(amplification), out=sim)
        sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
        pieces.append(_prune(sim, keep, start))
    rows, cols, data = (np.concatenate(part) for part in zip(*pieces)) if pieces else ([], [], [])
    similarity = sp.csr_matrix((data, (rows, cols)), shape=(n_rows, n_rows), dtype=np.float32)
    similarity.sort_indices()
    return similarity


def _right_operand(matrix):
    """The transposed right operand, dense when small (faster products)."""
    transposed = matrix.T.tocsr()
    if transposed.shape[0] * transposed.shape[1] <= _DENSE_LIMIT:
        return transposed.toarray()
    return transposed


def _dense(product):
    return product.toarray() if sp.issparse(product) else np.asarray(product)


def _kernel_block(kernel, block):
    """The raw similarity of one block from its products (float32, finite)."""
    dot = block["dot"]
    if kernel in ("cosine", "dot"):
        return dot
    with np.errstate(divide="ignore", invalid="ignore"):
        if kernel == "co_cosine":
            denominator = np.sqrt(block["sq_a"] * block["sq_b"])
            sim = dot / denominator
            sim[~(denominator > 0)] = 0.0
            return sim
        # msd: mean of (a - b)^2 over the co-rated columns.
        common = block["common"]
        msd = (block["sq_a"] + block["sq_b"] - 2.0 * dot) / common
        sim = 1.0 / (1.0 + np.maximum(msd, 0.0))
        sim[common == 0] = 0.0
        return sim


def _prune(sim, keep, offset):
    """(rows, columns, values) of each row's ``keep`` largest positive entries."""
    if keep < sim.shape[1]:
        cols = np.argpartition(sim, sim.shape[1] - keep, axis=1)[:, sim.shape[1] - keep:]
        values = np.take_along_axis(sim, cols, axis=1)
    else:
        cols = np.broadcast_to(np.arange(sim.shape[1]), sim.shape)
        values = sim
    rows = np.broadcast_to(np.arange(offset, offset + sim.shape[0])[:, None], cols.shape)
    positive = values > 0
    return rows[positive], cols[positive], values[positive]

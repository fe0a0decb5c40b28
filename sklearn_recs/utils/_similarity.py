"""Pairwise similarities between the rows of a sparse matrix, pruned per row.

The kernels of :mod:`sklearn_recs.neighbors`. Rows are the entities compared
(items for item-item, users for user-user), columns the raters. Similarities
are computed block by block of rows, and each block is pruned to its rows'
top ``n_neighbors`` before the next one is computed, so that memory stays
``O(n_rows * n_neighbors)`` plus one block of ``working_memory``
(scikit-learn's setting) per thread.

The inner products ("cosine", "dot") pruned to ``n_neighbors`` take
:func:`~sklearn_recs.utils._gram_topk.gram_topk` instead: only the upper
triangle of the symmetric product, each entry offered to both of its rows.

A block's products are split by rater: the raters who hold many rows (the
heavy users of a power-law catalogue, who cost the square of their length
in a sparse product) are multiplied as dense matrices by BLAS, the others
by a sparse-sparse product written straight into the dense block (torch's,
imported when first needed: scipy's builds a sparse result first, several
times slower when the block is dense).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn import get_config

from ._gram_topk import gram_topk
from ._sparse_topk import top_positive
from ._threads import thread_map

__all__ = ["KERNELS", "bm25_weight", "pairwise_similarity", "tfidf_weight"]

#: ``"cosine"``: cosine of whole rows; ``"dot"``: inner product of whole
#: rows; ``"co_cosine"``: cosine over the co-rated columns only (the norms
#: are taken over the columns both rows hold); ``"msd"``: ``1 / (1 + msd)``
#: with ``msd`` the mean squared difference over the co-rated columns.
KERNELS = ("cosine", "dot", "co_cosine", "msd")

# Dense float32 arrays of one block's width held at once (products, the
# similarity, top-k's scratch), in bytes per entry.
_BYTES_PER_ENTRY = 48
# Rows longer than this many times the entries kept are pruned by a numba
# selection (top_positive: one comparison per entry); shorter ones by
# argpartition, faster where the kept entries are a large share of the row.
_SELECTION_RATIO = 64
# Right-hand operands are made dense when they hold at most this many entries.
_DENSE_LIMIT = 2**24
# Otherwise a rater is multiplied as dense when it holds more than this share
# of the rows (measured on power-law data: about where a rater costs the
# sparse product as much as BLAS).
_DENSE_SHARE = 1 / 10


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
    n_jobs: int | None = None,
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
        MiB for one block of rows (each thread holds one); scikit-learn's
        ``working_memory`` by default.
    n_jobs : int, default=None
        Threads computing blocks at once (the products release the GIL);
        None means 1, -1 all processors. The result does not depend on it.

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
    needs_common = kernel == "msd" or shrinkage > 0 or min_support > 1
    # Each product is left[block] @ right.T.
    products = {"dot": (x, x)}
    if kernel in ("co_cosine", "msd") or needs_common:
        pattern = x.copy()
        pattern.data[:] = 1.0
    if kernel in ("co_cosine", "msd"):
        squares = x.multiply(x).tocsr()
        products["sq_a"] = (squares, pattern)
        products["sq_b"] = (pattern, squares)
    if needs_common:
        products["common"] = (pattern, pattern)
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    if kernel in ("cosine", "dot") and not needs_common and n_neighbors is not None \
            and n_neighbors < n_rows - 1:
        # (An inner product pruned per row: its upper triangle suffices.)
        similarity = gram_topk(x, n_neighbors, dense_share=_DENSE_SHARE,
                               working_memory=working_memory, n_jobs=n_jobs)
        if amplification != 1.0:  # (monotone: the kept entries stay the top ones)
            similarity.data **= np.float32(amplification)
            similarity.eliminate_zeros()
        return similarity
    products = {name: _BlockProduct(left, right) for name, (left, right) in products.items()}
    step = max(1, int(working_memory * 2**20) // (max(n_rows, 1) * _BYTES_PER_ENTRY))
    keep = n_rows if n_neighbors is None else min(n_neighbors, n_rows)

    def pruned_block(start):
        stop = min(start + step, n_rows)
        block = {name: product.rows(start, stop) for name, product in products.items()}
        sim = _kernel_block(kernel, block)
        common = block.get("common")
        if shrinkage > 0:
            sim *= common / (common + np.float32(shrinkage))
        if min_support > 1:
            sim[common < min_support] = 0.0
        # (Only positive similarities are kept: _prune drops the others.)
        if amplification != 1.0:
            np.maximum(sim, 0.0, out=sim)
            np.power(sim, np.float32(amplification), out=sim)
        sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
        return _prune(sim, keep, start)

    pieces = thread_map(pruned_block, range(0, n_rows, step), n_jobs)
    rows, cols, data = (np.concatenate(part) for part in zip(*pieces)) if pieces else ([], [], [])
    similarity = sp.csr_matrix((data, (rows, cols)), shape=(n_rows, n_rows), dtype=np.float32)
    similarity.sort_indices()
    return similarity


class _BlockProduct:
    """``left[start:stop] @ right.T`` for blocks of rows, as dense float32 blocks.

    ``left`` and ``right`` share their columns (the raters). When ``right``
    is small it is made dense and each block is one sparse-dense product
    (torch's).
    Otherwise the raters that hold more than ``_DENSE_SHARE`` of ``right``'s
    rows are multiplied as dense matrices by BLAS, the others by a
    sparse-sparse product written straight into the dense block (torch's).
    """

    def __init__(self, left, right):
        import torch

        n_rows, n_raters = right.shape
        self.n_rows = n_rows
        self.left = left
        with warnings.catch_warnings():
            # torch warns once per process that its sparse CSR support is in
            # beta: here, in the calling thread, not in the threads of rows()
            # (catch_warnings is not thread-safe), which then convert their
            # blocks silently.
            warnings.simplefilter("ignore", UserWarning)
            _torch_csr(left[:1])
        self.small = n_rows * n_raters <= _DENSE_LIMIT
        if self.small:
            dense = right.T.toarray().astype(np.float32, copy=False)
            self.right_dense = torch.from_numpy(dense)
            return
        dense = np.bincount(right.indices, minlength=n_raters) > n_rows * _DENSE_SHARE
        self.light, self.heavy = np.flatnonzero(~dense), np.flatnonzero(dense)
        self.right_sparse = _torch_csr(right[:, self.light].T) if self.light.size else None
        self.right_dense = right[:, self.heavy].T.toarray() if self.heavy.size else None

    def rows(self, start, stop):
        """The dense float32 block ``left[start:stop] @ right.T``."""
        import torch

        left = self.left[start:stop]
        if self.small:  # (torch's sparse-dense product is vectorised, scipy's is not)
            return torch.sparse.mm(_torch_csr(left), self.right_dense).numpy()
        out = torch.empty((stop - start, self.n_rows), dtype=torch.float32)
        if self.right_sparse is None:
            out.zero_()
        else:
            # beta=0: the product overwrites the uninitialised block.
            torch.addmm(out, _torch_csr(left[:, self.light]), self.right_sparse, beta=0,
                        out=out)
        if self.right_dense is not None:
            out.addmm_(torch.from_numpy(left[:, self.heavy].toarray()),
                       torch.from_numpy(self.right_dense))
        return out.numpy()


def _torch_csr(matrix):
    """A float32 scipy sparse matrix as a torch sparse CSR tensor (no copy of the data)."""
    import torch

    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    return torch.sparse_csr_tensor(
        torch.from_numpy(matrix.indptr), torch.from_numpy(matrix.indices),
        torch.from_numpy(matrix.data), size=matrix.shape, check_invariants=False)


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
    n_columns = sim.shape[1]
    if keep >= n_columns:
        rows, cols = np.nonzero(sim > 0)
        return rows + offset, cols, sim[rows, cols]
    if keep * _SELECTION_RATIO > n_columns:
        # (Where keep is a large share of the row, a partial sort wins.)
        cols = np.argpartition(sim, n_columns - keep, axis=1)[:, n_columns - keep:]
        values = np.take_along_axis(sim, cols, axis=1)
        cols[values <= 0] = -1
    else:
        cols, values = top_positive(sim, keep)
    rows = np.broadcast_to(np.arange(offset, offset + sim.shape[0])[:, None], cols.shape)
    positive = cols >= 0
    return rows[positive], cols[positive], values[positive]

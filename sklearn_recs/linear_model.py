"""Learned item-item models: ridge regressions of each item on the others.

:class:`EASE` solves the whole model in closed form (Steck 2019): one dense
``n_items x n_items`` inverse. :class:`SparseEASE` restricts each item's
regression to its most co-occurring neighbours and solves those small
problems in batches, so that it scales to large catalogues.

Both are linear models (ridge regressions with a zero-diagonal
constraint), hence the module name, as in :mod:`sklearn.linear_model`.
"""

import os
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.linalg import get_lapack_funcs
from sklearn import get_config
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet
from sklearn.utils._param_validation import Interval, StrOptions

from ._explain import item_item_terms
from ._scoring import FormulaScoring
from .base import _PARTIAL_FIT_DOC, RecommenderMixin, _extend_vocabulary, _implicit_tags
from .utils._docs import IMPLICIT_FITTED_ATTRIBUTES as _FITTED_ATTRIBUTES
from .utils._docs import fill_doc, shared_doc
from .utils._params import store_params
from .utils._neighbourhood_ridge import cholesky_solve_each, scatter_gram, solve_neighbourhoods
from .utils._similarity import pairwise_similarity
from .utils._threads import thread_map
from .utils.validation import check_interactions

__all__ = ["EASE", "SLIM", "SparseEASE"]

_DTYPES = {"float32": np.float32, "float64": np.float64}
# SparseEASE: Gram entries kept per item, as a multiple of its neighbours.
_GRAM_FACTOR = 2
# SparseEASE: most items whose Gram entries are gathered into one dense block.
_BLOCK_ITEMS = 4096
# SparseEASE: the most popular items, whose Gram entries are kept densely.
_HEAD_ITEMS = 2048
# SparseEASE: MiB (at most) of the co-occurrence blocks computed at once
# (sized so that 10M interactions over 50k items fit in under 2 GB).
_COOCCURRENCE_MEMORY = 128
# SparseEASE: rows of the co-occurrence matrix ranked at once.
_NEIGHBOURHOOD_ROWS = 4096
# SparseEASE: matrix entries of the systems solved in one batch.
_SOLVE_ENTRIES = 2**23
# EASE.partial_fit: the inverse is updated (Woodbury) when the update's rank
# (twice the users whose interactions changed) is at most n_items / this,
# and computed again otherwise.
_UPDATE_RANK_SHARE = 4
# EASE: blocks of columns the Gram matrix is built in (and mirrored in).
_N_BLOCKS = 32
# EASE: bytes per entry of a block's temporaries (a float64 dense block and
# a sparse product with float64 values and int32 indices).
_BLOCK_BYTES_PER_ENTRY = 20


@shared_doc
class _BaseItemRegression(FormulaScoring, RecommenderMixin, BaseEstimator):
    """Scoring shared by the item-item regressions: ``score(u, j) = x_u @ coef_[:, j]``."""

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the item-item coefficients.

        {fit_X}.
        y : array-like of shape (n_samples,), default=None
            Non-negative interaction weights (counts, confidence); None means
            every row weighs 1. Values that look like ratings (all on a
            half-star grid in 0.5-5) are still read as weights, with a
            ``DataWarning``: pass None, or the rows you count as positives
            (``X[ratings >= 4]``).

        {fit_returns}
        """
        self._fit_interactions(X, y, implicit=True)
        return self._fit_coef()

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        if not hasattr(self, "interactions_"):
            return self.fit(X, y)
        previous = (self.users_, self.items_, self.interactions_)
        self._partial_fit_interactions(X, y, implicit=True)
        return self._fit_coef(previous)

    partial_fit.__doc__ = _PARTIAL_FIT_DOC.format(
        aggregation="weights summed",
        how="""EASE updates the inverse ``P = (X^T X + alpha I)^-1`` behind
        ``coef_`` (recovered from ``coef_`` and ``diag(P)``, kept at fit) by
        Woodbury's identity: the Gram matrix changes by the rows of the users
        whose interactions changed, a term of rank twice their number, so
        the update costs ``O(n_items^2 * rank)`` instead of the
        ``O(n_items^3)`` solve; a new item enters with its row of the
        inverse ``1 / alpha``. Where the rank exceeds a quarter of
        ``n_items`` (and for SparseEASE, or after ``alpha`` or ``dtype``
        changed), the coefficients are solved again from the Gram matrix of
        the updated ``interactions_``. On ml-100k, a batch of the newest
        1000 ratings (34 users) updates in 0.03 s against 0.18 s for a new
        fit, with coefficients equal to it to ``1e-15`` in float64 and
        ``5e-7`` in float32 (the largest is 0.13).""",
        more_x="",
        y_doc="""array-like of shape (n_samples,), default=None
            Non-negative weights; None means every row weighs 1 (rows of
            an earlier call keep their own weights).""")

    def _fit_coef(self, previous=None):
        """``coef_`` from ``interactions_`` (the part of fit that partial_fit redoes).

        ``previous`` (partial_fit): ``(users_, items_, interactions_)`` of the
        model being updated, for models that update ``coef_`` from them.
        """
        dtype = _DTYPES[self.dtype]
        # The scoring operand, in the dtype of the coefficients (a mixed
        # product would copy them).
        self._weights = self.interactions_.astype(dtype)
        coef = None if previous is None else self._update(self._weights, dtype, *previous)
        self.coef_ = self._solve(self._weights, dtype) if coef is None else coef
        coef = self.coef_.data if sp.issparse(self.coef_) else self.coef_
        if not np.isfinite(coef).all():
            raise ValueError(
                f"{type(self).__name__}: the coefficients overflowed {self.dtype}: "
                f"the weights in y reach {self.interactions_.data.max():g}. Rescale "
                "y (e.g. np.log1p(y)) or pass dtype='float64'."
            )
        self._formula()  # built now: serving never writes to the estimator
        return self

    def _update(self, weights, dtype, users, items, interactions):
        """Updated coefficients from the previous ones, or None to solve again."""
        return None

    # -- scoring (the "product" formula of sklearn_recs._scoring) -------------
    _factor_path = False  # whether the full-catalogue ranking is a sparse top-k

    def _similar_item_scores(self, item_codes):
        return self._formula().similar_item_scores(item_codes)

    def _explain_terms(self, user_codes, item_codes):
        return item_item_terms(self, user_codes, item_codes)

    def _serving_arrays(self):
        """``weights @ coef_``: the formula's operands, for scoring and ``save_npz``."""
        # coef_.T is a view (dense) or a CSC matrix sharing coef_'s arrays
        return "product", dict(left=self._weights, right=self.coef_.T,
                               similar="right_columns", factor_path=self._factor_path)

    def __sklearn_tags__(self):
        return _implicit_tags(super().__sklearn_tags__())


class _SparseItemRegression(_BaseItemRegression):
    """An item-item regression with a sparse ``coef_``: recommend ranks sparse products."""

    def _score_factors(self, user_codes):
        """Scores as the sparse product ``x_u @ coef_`` (see ``RecommenderMixin``)."""
        return self._weights[user_codes], self.coef_


def _available_memory():
    """Bytes of memory available to a new allocation (inf where unknown)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return float("inf")


def _block_width(n):
    """Width of the ``_N_BLOCKS`` blocks of ``range(n)``: a block's temporaries
    stay a small share of a dense ``n x n`` matrix."""
    return max(1, -(-n // _N_BLOCKS))


def _blocks(n):
    """Slices of ``range(n)`` of :func:`_block_width`."""
    step = _block_width(n)
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def _gram(weights, dtype):
    """The lower triangle of the dense ``weights.T @ weights`` in ``dtype``.

    Built one block of columns at a time, each from its diagonal down
    (half the products of the whole matrix); the upper triangle is left
    unset, since the Cholesky factorisation reads only the lower one.
    """
    n_items = weights.shape[1]
    gram = np.empty((n_items, n_items), dtype=dtype)
    left = weights.T.tocsr()
    right = weights.tocsc()
    for block in _blocks(n_items):
        gram[block.start:, block] = (left[block.start:] @ right[:, block]).toarray()
    return gram


def _inverse_in_place(matrix):
    """Inverse of a symmetric positive definite C-ordered matrix, in its own memory.

    Only its lower triangle is read (the upper one may hold anything).

    LAPACK's Cholesky factorisation ``potrf`` then ``potri`` (the inverse
    from the factor), which fill one triangle; the other is copied over
    block by block.
    """
    potrf, potri = get_lapack_funcs(("potrf", "potri"), (matrix,))
    # The transpose of a C-ordered symmetric matrix is itself, in Fortran order.
    fortran = matrix.T
    factor, info = potrf(fortran, lower=False, overwrite_a=True, clean=False)
    if info > 0:
        raise np.linalg.LinAlgError(
            f"the Gram matrix plus alpha is not positive definite (leading minor {info}); "
            "increase alpha."
        )
    inverse, info = potri(factor, lower=False, overwrite_c=True)
    if not np.shares_memory(inverse, fortran):  # LAPACK worked on a copy
        fortran[...] = inverse
    # Fortran upper triangle = C-order lower triangle: mirror it upwards.
    for block in _blocks(matrix.shape[0]):
        diagonal = matrix[block, block]
        diagonal[...] = np.tril(diagonal) + np.tril(diagonal, -1).T
        matrix[block, block.stop:] = matrix[block.stop:, block].T
    return matrix


class EASE(_BaseItemRegression):
    """Embarrassingly shallow autoencoder: exact item-item ridge regression.

    Each item's column of the interaction matrix is regressed on all the
    other items' columns: ``coef_`` minimises ``||X - X B||^2 + alpha *
    ||B||^2`` subject to ``diag(B) = 0`` (Steck 2019). Its closed form is
    ``B = I - P diag(1 / diag(P))`` with ``P = (X^T X + alpha I)^-1``. A
    user's score for item ``j`` is ``x_u @ B[:, j]``. On implicit-feedback
    top-N benchmarks it is among the strongest simple models.

    The model is a dense ``n_items x n_items`` matrix and fitting costs
    ``O(n_items^3)``: use :class:`SparseEASE` beyond a few tens of
    thousands of items.

    Parameters
    ----------
    alpha : float, default=500.0
        The ridge penalty ``lambda`` (> 0): the parameter that matters most;
        larger data sets want larger values. 500 looks large for a ridge
        penalty, but it is added to Gram entries that count co-occurrences
        (hundreds on MovieLens); it is the best of 100, 250, 500 and 1000 on
        validation data carved from MovieLens 100k's training part
        (``benchmarks/results/defaults.json``).
    dtype : {"float32", "float64"}, default="float32"
        Precision of the Gram matrix, of its inverse and of ``coef_``.
        float32 halves the memory and is about twice as fast.
    max_memory : float, default=None
        Budget in GiB for the dense matrix (``n_items^2`` floats, plus
        about 3% for the blocks that build it). Fitting raises a ``MemoryError``
        before allocating it when it needs more; None means the memory
        available on the machine at fit time.

    Attributes
    ----------
    coef_ : ndarray of shape (n_items_, n_items_)
        The learned item-item weights ``B`` (zero diagonal), rows and columns
        in the order of ``items_``: ``coef_[i, j]`` is how much an
        interaction with item ``i`` adds to item ``j``'s score.
    {fitted_attributes}

    See Also
    --------
    SparseEASE : The same regressions restricted to each item's neighbours.
    sklearn_recs.neighbors.ItemKNN : Item-item similarities, not learned.

    Notes
    -----
    ``y`` holds non-negative weights (counts, confidence), and ratings passed
    as ``y`` are used as weights too (a 1-star rating then weighs less than
    a 5-star one, but still counts as a positive): to learn from the fact of
    a rating alone, fit with ``y=None``; to drop low ratings, filter the rows
    first.

    The inverse comes from LAPACK's Cholesky routines (``potrf``, ``potri``)
    working in place, so the fit holds one dense ``n_items x n_items``
    matrix (``n_items^2 * 4`` bytes in float32) plus small blocks.
    ``predict`` scores ``x_u @ coef_[:, j]`` for each pair; ``recommend``
    scores blocks of users with one sparse-dense product.
    ``similar_items`` ranks row ``coef_[i]``.

    References
    ----------
    .. [1] H. Steck, "Embarrassingly shallow autoencoders for sparse data",
       WWW 2019.

    Examples
    --------
    >>> from sklearn_recs.linear_model import EASE
    >>> from sklearn_recs.utils._testing import checkerboard
    >>> model = EASE(alpha=1.0).fit(checkerboard(10, 10))
    >>> model.coef_.shape
    (10, 10)

    On a checkerboard, user 0 (even) scores the even item 2, not the odd 3.

    >>> model.predict([[0, 2], [0, 3]]).round(3)
    array([0.952, 0.   ])
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "dtype": [StrOptions(set(_DTYPES))],
        "max_memory": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(self, *, alpha=500.0, dtype="float32", max_memory=None):
        store_params(self, locals())

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        if hasattr(self, "interactions_"):
            # Checked before the model changes: the update holds a second
            # dense matrix (the grown or updated inverse) beside coef_.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the update validates (and warns) again
                _, items, _ = check_interactions(X, y, implicit=True, y_required=False,
                                                 estimator=self)
            self._check_id_kind(items, "item")
            self._check_memory(len(_extend_vocabulary(self.items_, items)[0]),
                               held=self.coef_.nbytes)
        return super().partial_fit(X, y)

    partial_fit.__doc__ = _BaseItemRegression.partial_fit.__doc__

    def _check_memory(self, n_items, held=0):
        """A MemoryError, before allocating, where ``n_items`` need more than the budget.

        ``held``: bytes of the ``coef_`` kept while ``partial_fit`` builds
        the updated one (counted against ``max_memory``; the memory
        available excludes it already).
        """
        needed = n_items**2 * np.dtype(_DTYPES[self.dtype]).itemsize + (
            n_items * _block_width(n_items) * _BLOCK_BYTES_PER_ENTRY)
        if self.max_memory is None:
            budget, where = _available_memory(), "available"
        else:
            budget = self.max_memory * 2**30 - held
            where = f"{'left of' if held else 'allowed by'} max_memory={self.max_memory}"
        if needed <= budget:
            return
        matrix = f"a dense {n_items} x {n_items} {self.dtype} matrix"
        if held:
            raise MemoryError(
                f"EASE.partial_fit: {n_items} items need {needed / 2**30:.1f} GiB ({matrix} "
                f"and the blocks that build it) besides the {held / 2**30:.1f} GiB of coef_, "
                f"more than the {budget / 2**30:.1f} GiB {where}. "
                "Fit a new EASE on all the data (it holds one such matrix), use SparseEASE "
                "(sklearn_recs.linear_model), or raise max_memory."
            )
        raise MemoryError(
            f"EASE: {n_items} items need {needed / 2**30:.1f} GiB ({matrix} and the blocks "
            f"that build it), more than the {budget / 2**30:.1f} GiB {where}. Use SparseEASE "
            "(sklearn_recs.linear_model), whose memory grows as n_items * n_neighbors, or "
            "raise max_memory."
        )

    def _solve(self, weights, dtype):
        n_items = weights.shape[1]
        self._check_memory(n_items)
        gram = _gram(weights, dtype)
        gram.flat[:: n_items + 1] += dtype(self.alpha)
        return _coefficients(_inverse_in_place(gram), self)

    def _update(self, weights, dtype, users, items, interactions):
        """Low-rank update of the inverse, or None where solving again is cheaper."""
        diagonal = getattr(self, "_precision_diagonal", None)
        if diagonal is None or self.coef_.dtype != dtype or self._solved_alpha != self.alpha:
            return None
        # The earlier interactions in the new codes; the users whose rows changed.
        old = interactions.tocoo()
        old = sp.csr_matrix((old.data, (self._user_index.get_indexer(users)[old.row],
                                        self._item_index.get_indexer(items)[old.col])),
                            shape=weights.shape, dtype=dtype)
        change = abs(weights - old)
        touched = np.flatnonzero(np.diff(change.indptr) > 0) if change.nnz else []
        rows_old = old[touched]
        rows_old = rows_old[np.flatnonzero(np.diff(rows_old.indptr))]
        factors = sp.vstack([weights[touched], rows_old]).tocsr()
        if factors.shape[0] > self.n_items_ // _UPDATE_RANK_SHARE:
            return None
        signs = np.concatenate([np.ones(len(touched)), -np.ones(rows_old.shape[0])])
        return _coefficients(_woodbury(_precision(self.coef_, diagonal, items, self._item_index,
                                                  self.alpha),
                                       factors, signs), self)


def _coefficients(precision, model):
    """EASE's ``B = I - P / diag(P)``, in the memory of ``P``; keeps ``diag(P)``
    (and the ``alpha`` it was solved with) on ``model`` for partial_fit."""
    diagonal = precision.diagonal().copy()
    model._precision_diagonal, model._solved_alpha = diagonal, model.alpha
    precision /= -diagonal
    precision.flat[:: len(diagonal) + 1] = 0.0
    return precision


def _precision(coef, diagonal, items, item_index, alpha):
    """``P = (X^T X + alpha I)^-1`` from ``coef = I - P / diag(P)``, in the memory
    of ``coef`` where the items are the same; grown to the items of
    ``item_index`` otherwise (a new item's row of ``X^T X`` was 0)."""
    precision = coef
    precision *= -1
    precision.flat[:: len(diagonal) + 1] = 1.0
    precision *= diagonal
    moved = item_index.get_indexer(items)
    if len(item_index) == len(items):  # same items: sorted, so in the same order
        return precision
    grown = np.zeros((len(item_index), len(item_index)), dtype=precision.dtype)
    grown[np.ix_(moved, moved)] = precision
    fresh = np.setdiff1d(np.arange(len(item_index)), moved)
    grown[fresh, fresh] = 1.0 / alpha
    return grown


def _woodbury(precision, factors, signs):
    """The inverse of ``A + F^T diag(signs) F`` from ``precision = A^-1``, in its memory.

    Woodbury's identity: ``P - P F^T (diag(signs) + F P F^T)^-1 F P`` with
    ``F`` sparse (one row per rank-one term, ``signs`` of +-1).
    """
    if not len(signs):
        return precision
    left = np.asarray(factors @ precision)  # F P, (rank x n)
    system = np.asarray(factors @ left.T, dtype=np.float64)
    system.flat[:: len(signs) + 1] += signs
    precision -= left.T @ np.linalg.solve(system, left).astype(precision.dtype)
    return precision


def _neighbourhoods(cooccurrence, popularity, width):
    """Each item's ``width`` neighbours: its largest co-occurrences, then the most popular.

    ``cooccurrence`` holds positive co-occurrences (no diagonal); each row's
    ``width`` largest are kept (equal ones: the lower code first). Rows with
    fewer are filled with the most popular other items, so that ``width =
    n_items - 1`` gives every item all the others.
    """
    n_items = cooccurrence.shape[0]
    counts = np.diff(cooccurrence.indptr)
    neighbours = np.empty((n_items, width), dtype=np.intp)
    for start in range(0, n_items, _NEIGHBOURHOOD_ROWS):
        rows = slice(start, start + _NEIGHBOURHOOD_ROWS)
        neighbours[rows] = _top_columns(cooccurrence[rows], width)
    counts = np.minimum(counts, width)
    short = np.flatnonzero(counts < width)
    if short.size:
        # The width + 1 most popular items always leave enough candidates:
        # a row excludes at most its own entries and itself.
        candidates = np.argsort(-popularity, kind="stable")[: width + 1]
        keys = np.repeat(short, len(candidates)) * n_items + np.tile(candidates, len(short))
        present = cooccurrence[short].tocoo()
        taken = np.isin(keys, short[present.row] * n_items + present.col)
        taken |= np.tile(candidates, len(short)) == np.repeat(short, len(candidates))
        free = ~taken.reshape(len(short), len(candidates))
        rank = np.cumsum(free, axis=1) - 1 + counts[short, None]
        fill = free & (rank < width)
        fill_rows, fill_cols = np.nonzero(fill)
        neighbours[short[fill_rows], rank[fill]] = candidates[fill_cols]
    return neighbours


def _top_columns(matrix, width):
    """Column indices of each row's ``width`` largest stored entries.

    Equal entries: the lower column first (CSR indices are sorted). Rows
    with fewer entries end with arbitrary padding.
    """
    counts = np.diff(matrix.indptr)
    dense = np.full((matrix.shape[0], max(width, counts.max(initial=0))), -np.inf,
                    dtype=np.float32)
    columns = np.zeros(dense.shape, dtype=np.intp)
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    slots = np.arange(len(rows)) - np.repeat(matrix.indptr[:-1], counts)
    dense[rows, slots] = matrix.data
    columns[rows, slots] = matrix.indices
    order = np.argsort(-dense, axis=1, kind="stable")[:, :width]
    return np.take_along_axis(columns, order, axis=1)


class _GramLookup:
    """Entries of the Gram matrix ``G = X^T X`` of a large catalogue, without storing it.

    Exact for the diagonal, for any pair of the ``_HEAD_ITEMS`` most popular
    items (a dense block: neighbourhoods are mostly made of them), and for a
    pair where either item keeps the other among its largest
    ``cooccurrence`` entries (which is every pair for an item that co-occurs
    with fewer items); any other pair counts as 0.
    """

    def __init__(self, cooccurrence, diagonal, head, head_block):
        self.pruned = cooccurrence.maximum(cooccurrence.T).tocsr().astype(
            diagonal.dtype, copy=False)
        self.diagonal = diagonal
        self.head_position = np.full(len(diagonal), -1, dtype=np.intp)
        self.head_position[head] = np.arange(len(head))
        self.head_block = head_block.astype(diagonal.dtype, copy=False)

    def block(self, items):
        """The dense Gram matrix among ``items`` (codes)."""
        block = np.empty((len(items), len(items)), dtype=self.diagonal.dtype)
        position = self.head_position[items]
        in_head = np.flatnonzero(position >= 0)
        block[np.ix_(in_head, in_head)] = self.head_block[np.ix_(position[in_head],
                                                                  position[in_head])]
        # Rows (and, by symmetry, columns) of the items outside the head.
        outside = np.flatnonzero(position < 0)
        rows = self.pruned[items[outside]][:, items].toarray()
        block[outside] = rows
        block[:, outside] = rows.T
        block[np.arange(len(items)), np.arange(len(items))] = self.diagonal[items]
        return block


def _neighbour_systems(gram, targets, neighbours, alpha):
    """The ridge systems ``(G[N, N] + alpha I) b = G[N, j]`` of a batch of items.

    ``gram`` is a :class:`_GramLookup`; ``neighbours`` the ``(n_targets,
    width)`` neighbour codes of the items ``targets``. The entries among the
    items involved are gathered once into a dense block; neighbourhoods
    overlap much (they favour popular items), so the block is small. A
    batch whose block would exceed ``_BLOCK_ITEMS`` items is split in two.
    """
    involved, local = np.unique(np.concatenate([neighbours, targets[:, None]], axis=1),
                                return_inverse=True)
    if len(involved) > _BLOCK_ITEMS and len(targets) > 1:
        half = len(targets) // 2
        first = _neighbour_systems(gram, targets[:half], neighbours[:half], alpha)
        second = _neighbour_systems(gram, targets[half:], neighbours[half:], alpha)
        return tuple(np.concatenate(pair) for pair in zip(first, second))
    local = local.reshape(len(targets), -1)
    block = gram.block(involved)
    block[np.arange(len(involved)), np.arange(len(involved))] += alpha
    rows = local[:, :-1] * len(involved)
    lhs = np.take(block, rows[:, :, None] + local[:, None, :-1])
    rhs = np.take(block, rows + local[:, -1:])
    return lhs, rhs


def _dense_gram(user_rows):
    """The dense float32 Gram matrix ``user_rows.T @ user_rows`` (diagonal included)."""
    user_rows = sp.csr_matrix(user_rows, dtype=np.float32)
    user_rows.sum_duplicates()  # (sorted indices)
    gram = np.zeros((user_rows.shape[1],) * 2, dtype=np.float32)
    scatter_gram(user_rows.indptr, user_rows.indices, user_rows.data, gram)
    return gram


def _raise_not_positive_definite(info):
    raise np.linalg.LinAlgError(
        f"a neighbourhood's Gram matrix plus alpha is not positive definite "
        f"(leading minor {info}); increase alpha.")


def _solve_batch(lhs, rhs):
    """Solutions of the symmetric positive definite systems ``lhs @ x = rhs``.

    A Cholesky factorisation (LAPACK) and two triangular solves, one system
    at a time, in one compiled loop (``lhs`` is overwritten). Not numpy's
    batched solve (an LU, in twice the flops, on a copy of each system) nor
    torch's (its CPU batched solve hangs after ``torch.set_num_threads``
    changed, which the neural estimators do during training).
    """
    solutions = np.array(rhs, order="C")
    info = cholesky_solve_each(np.ascontiguousarray(lhs), solutions)
    if info:
        _raise_not_positive_definite(info)
    return solutions


def _solve_large_catalogue(weights, item_rows, diagonal, alpha, coef):
    """SparseEASE's solve beyond ``_HEAD_ITEMS`` items: ``coef`` filled, the neighbours returned.

    The co-occurrences are computed block by block and pruned; the Gram
    entries come from a :class:`_GramLookup`; items sharing their nearest
    neighbour are solved together in batches.
    """
    n_items, width = coef.shape
    head = np.argsort(-diagonal, kind="stable")[:_HEAD_ITEMS]
    working_memory = min(get_config()["working_memory"], _COOCCURRENCE_MEMORY)
    cooccurrence = pairwise_similarity(item_rows, kernel="dot",
                                       n_neighbors=min(_GRAM_FACTOR * width, n_items - 1),
                                       working_memory=working_memory)
    neighbours = _neighbourhoods(cooccurrence, diagonal, width)
    gram = _GramLookup(cooccurrence, diagonal, head, _dense_gram(weights[:, head]))
    del cooccurrence
    # Items sharing their nearest neighbour share much of their
    # neighbourhood: batching them together shrinks the gathered block.
    order = np.lexsort((np.arange(n_items), neighbours[:, 0]))
    step = max(1, _SOLVE_ENTRIES // width**2)
    for start in range(0, n_items, step):
        targets = order[start:start + step]
        coef[targets] = _solve_batch(*_neighbour_systems(gram, targets, neighbours[targets],
                                                         alpha))
    return neighbours


class SparseEASE(_SparseItemRegression):
    """EASE restricted to each item's nearest neighbours: scales to large catalogues.

    Each item ``j`` is regressed, as in :class:`EASE`, on other items,
    but only on its ``n_neighbors`` most co-occurring ones ``N_j``:
    ``coef_[N_j, j] = (G[N_j, N_j] + alpha I)^-1 G[N_j, j]`` with ``G =
    X^T X``. The small ridge problems are solved in batches, and ``coef_``
    is a sparse matrix with ``n_neighbors`` entries per column. With
    ``n_neighbors >= n_items - 1`` it is exactly :class:`EASE`.

    Parameters
    ----------
    alpha : float, default=500.0
        The ridge penalty ``lambda`` (> 0).
    n_neighbors : int, default=100
        Items each item is regressed on (its neighbourhood). An item that
        co-occurs with fewer items is given the most popular other items
        to fill its neighbourhood.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the ridge systems and of ``coef_``. The co-occurrences
        themselves are summed in float32 (exact for integer counts below
        ``2**24``).

    Attributes
    ----------
    coef_ : scipy.sparse.csr_matrix of shape (n_items_, n_items_)
        The learned item-item weights (zero diagonal), rows and columns in
        the order of ``items_``; column ``j`` holds the weights of ``j``'s
        neighbours.
    {fitted_attributes}

    See Also
    --------
    EASE : The exact model, for catalogues whose dense matrix fits in memory.
    sklearn_recs.neighbors.ItemKNN : Item-item similarities, not learned.

    Notes
    -----
    ``y`` is read as weights, as in :class:`EASE`.

    Up to 2048 items, the whole Gram matrix is kept densely and every
    system is exact; one compiled loop selects each item's neighbours,
    gathers its system and solves it (a Cholesky factorisation), so that
    the only temporaries are one system and the Gram matrix itself.

    Beyond, the neighbourhoods come from the co-occurrence matrix pruned to
    each item's ``2 * n_neighbors`` largest entries (computed block by
    block, as for :class:`~sklearn_recs.neighbors.ItemKNN`). The Gram
    entries between two neighbours of ``j`` are exact where either item
    keeps the other among those largest (always, for an item that
    co-occurs with fewer items), and among the 2048 most popular items,
    whose Gram block is kept densely (neighbourhoods are mostly made of
    popular items); any other entry is taken as 0. That, with the
    restriction of each regression to ``N_j``, is the approximation. Items
    sharing their nearest neighbour are solved together, their Gram entries
    gathered once into a dense block. Memory is ``O(n_items *
    n_neighbors)`` plus the 2048 x 2048 head block and one batch of
    systems; time is that of the co-occurrences plus ``O(n_items *
    n_neighbors^3)`` for the solves.

    The zero-diagonal constraint of EASE is implicit here, since an item
    is never its own neighbour. Restricting each item's regression to a
    neighbourhood is the idea of SLIM's feature selection (Ning and
    Karypis 2011) applied to EASE's closed-form ridge.

    References
    ----------
    .. [1] H. Steck, "Embarrassingly shallow autoencoders for sparse data",
       WWW 2019.
    .. [2] X. Ning and G. Karypis, "SLIM: sparse linear methods for top-N
       recommender systems", ICDM 2011.

    Examples
    --------
    >>> from sklearn_recs.linear_model import SparseEASE
    >>> from sklearn_recs.utils._testing import checkerboard
    >>> model = SparseEASE(alpha=1.0, n_neighbors=3).fit(checkerboard(10, 10))
    >>> model.coef_.getnnz(axis=0)
    array([3, 3, 3, 3, 3, 3, 3, 3, 3, 3])
    >>> model.predict([[0, 2], [0, 3]]).round(2)  # exactly 0.9375 (15/16)
    array([0.94, 0.  ])
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "dtype": [StrOptions(set(_DTYPES))],
    }

    def __init__(self, *, alpha=500.0, n_neighbors=100, dtype="float32"):
        store_params(self, locals())

    def _solve(self, weights, dtype):
        n_items = weights.shape[1]
        width = min(self.n_neighbors, n_items - 1)
        if width < 1:
            return sp.csr_matrix((n_items, n_items), dtype=dtype)
        item_rows = weights.T.tocsr()
        diagonal = np.asarray(item_rows.multiply(item_rows).sum(axis=1), dtype=dtype).ravel()
        coef = np.empty((n_items, width), dtype=dtype)
        if n_items <= _HEAD_ITEMS:
            # The whole Gram matrix is one dense block: select, gather and
            # solve item by item from it.
            neighbours = np.empty((n_items, width), dtype=np.intp)
            info = solve_neighbourhoods(_dense_gram(weights), diagonal,
                                         np.argsort(-diagonal, kind="stable"),
                                         dtype(self.alpha), neighbours, coef)
            if info:
                _raise_not_positive_definite(info)
        else:
            neighbours = _solve_large_catalogue(weights, item_rows, diagonal, self.alpha, coef)
        # Column j holds j's neighbours: built as CSC, then transposed in one pass.
        by_column = sp.csc_matrix((coef.ravel(), neighbours.ravel(),
                                   np.arange(0, n_items * width + 1, width)),
                                  shape=(n_items, n_items))
        return by_column.tocsr()

    _factor_path = True

    def _score_factors(self, user_codes):
        """Scores as the sparse product ``x_u @ coef_`` (see ``RecommenderMixin``)."""
        return self._formula().score_factors(user_codes)


def _slim_columns(weights, targets, params, neighbours=None, start=None):
    """SLIM's regressions of the items ``targets``: ``(rows, columns, values, n_iter)``.

    Each target column ``x_j`` of ``weights`` (CSC) is regressed by
    scikit-learn's :class:`~sklearn.linear_model.ElasticNet` (sparse
    coordinate descent, non-negative, no intercept) on the other columns:
    all of them, with column ``j`` zeroed (the zero-diagonal constraint), or
    only the columns of row ``j`` of ``neighbours`` (a CSR matrix whose rows
    hold each item's neighbourhood, never the item itself). ``start`` (a
    CSC ``coef_``, or None) holds the coefficients each regression starts
    from. Returns the nonzero coefficients as rows and columns of ``coef_``
    and each regression's coordinate-descent sweeps. Without
    ``neighbours`` the matrix is copied once per call, so that calls can
    run on threads.
    """
    if neighbours is None:
        weights = weights.copy()
    initial = np.zeros(weights.shape[1], dtype=weights.dtype)
    model = ElasticNet(fit_intercept=False, positive=True, copy_X=False,
                       warm_start=start is not None, **params)
    rows, values, n_iter = [], [], []
    everything = np.arange(weights.shape[1])
    for j in targets:
        column = slice(weights.indptr[j], weights.indptr[j + 1])
        target = np.zeros(weights.shape[0], dtype=weights.dtype)
        target[weights.indices[column]] = weights.data[column]
        if neighbours is None:
            features, saved = everything, weights.data[column].copy()
            weights.data[column] = 0.0
            design = weights
        else:
            features = neighbours.indices[neighbours.indptr[j]:neighbours.indptr[j + 1]]
            design = weights[:, features]
        if start is not None:
            previous = slice(start.indptr[j], start.indptr[j + 1])
            initial[start.indices[previous]] = start.data[previous]
            model.coef_ = initial[features]
            initial[start.indices[previous]] = 0.0
        coef, sweeps = np.zeros(0), 0  # an item co-occurring with none: all weights 0
        if features.size:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(design, target, check_input=False)
            coef, sweeps = model.coef_, model.n_iter_
        if neighbours is None:
            weights.data[column] = saved
        found = np.flatnonzero(coef)
        rows.append(features[found])
        values.append(coef[found])
        n_iter.append(sweeps)
    columns = np.repeat(targets, [len(r) for r in rows])
    return (np.concatenate(rows), columns, np.concatenate(values),
            np.asarray(n_iter, dtype=np.intp))


class SLIM(_SparseItemRegression):
    """Sparse linear method: non-negative elastic-net item-item regressions.

    Each item's column ``x_j`` of the interaction matrix is regressed on
    the other items' columns with an elastic-net penalty and non-negative
    weights (Ning and Karypis 2011): column ``j`` of ``coef_`` minimises::

        1 / (2 n_users) ||x_j - X w||^2 + alpha * l1_ratio * ||w||_1
            + 0.5 * alpha * (1 - l1_ratio) * ||w||^2

    subject to ``w >= 0`` and ``w_j = 0``, the objective of
    :class:`sklearn.linear_model.ElasticNet`, which solves it (sparse
    coordinate descent). A user's score for item ``j`` is ``x_u @
    coef_[:, j]``.

    Parameters
    ----------
    alpha : float, default=0.1
        Strength of the elastic-net penalty (> 0), as in
        :class:`~sklearn.linear_model.ElasticNet` (the squared error is
        divided by ``2 n_users``).
    l1_ratio : float, default=0.01
        Share of the L1 penalty in ``[0, 1]``: 1 is the lasso, 0 the ridge;
        more L1 gives a sparser ``coef_``.
    max_iter : int, default=100
        Most coordinate-descent sweeps per item.
    tol : float, default=1e-4
        Tolerance of the coordinate descent (ElasticNet's ``tol``).
    n_neighbors : int, default=None
        Regress each item only on its ``n_neighbors`` most co-occurring
        items (largest entries of ``X^T X``; which of equal ones at the cut
        are kept is unspecified), for large catalogues; None regresses it on
        all the other items. Items that never co-occur with ``j`` get weight
        0 either way (the weights are non-negative), so ``n_neighbors >=
        n_items - 1`` gives the unrestricted model.
    warm_start : bool, default=False
        Start each regression from the coefficients of the previous fit
        (or ``partial_fit``), as :class:`~sklearn.linear_model.ElasticNet`
        does: faster along a regularisation path (``set_params(alpha=...)``
        then ``fit``) and when refitting on grown data. The solution is the
        same up to ``tol``. Ignored (cold start) where the number of items
        changed.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the regressions and of ``coef_``.
    n_jobs : int, default=None
        Threads over blocks of items; None means 1, -1 all processors.

    Attributes
    ----------
    coef_ : scipy.sparse.csr_matrix of shape (n_items_, n_items_)
        The learned non-negative item-item weights (zero diagonal), rows and
        columns in the order of ``items_``: column ``j`` holds item ``j``'s
        regression.
    n_iter_ : ndarray of shape (n_items_,)
        Coordinate-descent sweeps of each item's regression (0 for an item
        with no neighbour).
    {fitted_attributes}

    See Also
    --------
    EASE : The same regressions with a ridge penalty only, in closed form.

    Notes
    -----
    ``y`` is read as weights, as in :class:`EASE`. An item's regression
    stops after ``max_iter`` sweeps even where the coordinate descent has
    not reached ``tol`` (no warning: the top-N ranking rarely changes).
    Fitting costs ``n_items`` sparse coordinate descents over the whole
    interaction matrix, or over the columns of each item's neighbours with
    ``n_neighbors`` (their co-occurrences are computed as for
    :class:`SparseEASE`, in blocks of memory ``O(n_items * n_neighbors)``).
    On MovieLens 100k, ``n_neighbors=100`` fits in a fraction of the time
    of the full model, at close NDCG@10 (``benchmarks/bench_models.py``).

    References
    ----------
    .. [1] X. Ning and G. Karypis, "SLIM: sparse linear methods for top-N
       recommender systems", ICDM 2011.

    Examples
    --------
    >>> from sklearn_recs.linear_model import SLIM
    >>> from sklearn_recs.utils._testing import checkerboard
    >>> model = SLIM(alpha=0.01).fit(checkerboard(10, 10))
    >>> bool((model.coef_.diagonal() == 0).all() and (model.coef_.data >= 0).all())
    True

    On a checkerboard, user 0 (even) scores the even item 2, not the odd 3.

    >>> model.predict([[0, 2], [0, 3]]).round(3)
    array([0.996, 0.   ])
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), None],
        "warm_start": ["boolean"],
        "dtype": [StrOptions(set(_DTYPES))],
        "n_jobs": [Integral, None],
    }

    def __init__(self, *, alpha=0.1, l1_ratio=0.01, max_iter=100, tol=1e-4,
                 n_neighbors=None, warm_start=False, dtype="float32", n_jobs=None):
        store_params(self, locals())

    def _solve(self, weights, dtype):
        from joblib import effective_n_jobs

        n_items = weights.shape[1]
        n_jobs = effective_n_jobs(self.n_jobs)
        params = dict(alpha=self.alpha, l1_ratio=self.l1_ratio, max_iter=self.max_iter,
                      tol=self.tol)
        columns = weights.tocsc()
        neighbours = None
        if self.n_neighbors is not None and n_items > 1:
            working_memory = min(get_config()["working_memory"], _COOCCURRENCE_MEMORY)
            neighbours = pairwise_similarity(
                weights.T.tocsr(), kernel="dot", n_neighbors=min(self.n_neighbors, n_items - 1),
                working_memory=working_memory, n_jobs=n_jobs)
        previous = getattr(self, "coef_", None) if self.warm_start else None
        start = None if previous is None or previous.shape[0] != n_items else previous.tocsc()
        blocks = np.array_split(np.arange(n_items), max(1, min(n_items, 4 * n_jobs)))
        parts = thread_map(
            lambda block: _slim_columns(columns, block, params, neighbours, start), blocks,
            n_jobs=n_jobs)
        rows, cols, values, n_iter = (np.concatenate(p) for p in zip(*parts))
        self.n_iter_ = n_iter
        return sp.csr_matrix((values, (rows, cols)), shape=(n_items, n_items), dtype=dtype)


for _model in (EASE, SLIM, SparseEASE):
    fill_doc(_model, fitted_attributes=_FITTED_ATTRIBUTES)

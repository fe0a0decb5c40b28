"""Matrix factorisation for implicit feedback by alternating least squares.

:class:`ImplicitALS` factorises the interaction matrix into user and item
factors, weighting each cell by a confidence (Hu, Koren and Volinsky 2008),
and solves each half-step's least-squares problems with a few steps of the
conjugate gradient, row by row in compiled code (numba) (Takács, Pilászy
and Tikk 2011). It is a decomposition of the interaction matrix,
hence the module name, as in :mod:`sklearn.decomposition`.
"""

from numbers import Integral, Real

import numba
import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from threadpoolctl import threadpool_limits

from ._explain import factor_model_terms
from ._retrieval import RETRIEVAL_CONSTRAINTS, check_retrieval, retrieval_arrays
from ._scoring import FormulaScoring
from .base import RecommenderMixin, _implicit_tags
from ._fold_in import FoldInMixin
from .utils._docs import IMPLICIT_FITTED_ATTRIBUTES as _FITTED_ATTRIBUTES
from .utils._docs import fill_doc, shared_doc
from .utils._params import store_params
from .utils._threads import thread_map

__all__ = ["ImplicitALS"]

# Fewest rows of one thread's block of the conjugate gradient.
_MIN_BLOCK_ROWS = 256
# A residual or curvature at most this is treated as zero (the row is solved).
_TINY = float(np.finfo(np.float32).tiny)


def _confidence_minus_one(weights, kind, scale):
    """``c - 1`` of each stored weight ``r``: ``scale * r`` or ``scale * log(1 + r)``."""
    data = weights.data if kind == "linear" else np.log1p(weights.data)
    return scale * data


# fastmath without "nnan"/"ninf": overflowed factors must stay visible (non-finite).
@numba.njit(nogil=True, cache=True, fastmath={"reassoc", "contract", "nsz", "arcp"})
def _cg_rows(indptr, indices, extra, factors, gram, x, steps, start, stop):
    """Conjugate-gradient steps for rows ``start:stop`` of ``x``, in place.

    See :func:`_conjugate_gradient`; one row at a time, so that the fixed
    factors of a row's positives are read from memory, never copied.
    """
    n_factors = factors.shape[1]
    zero, one = np.float32(0.0), np.float32(1.0)  # float32 sums, as the factors
    residual = np.empty(n_factors, dtype=x.dtype)
    direction = np.empty(n_factors, dtype=x.dtype)
    product = np.empty(n_factors, dtype=x.dtype)
    for row in range(start, stop):
        xu = x[row]
        # residual = Y^T c_u - (gram + Y_u^T diag(c_u - 1) Y_u) x_u
        for a in range(n_factors):
            total = zero
            for b in range(n_factors):
                total += gram[a, b] * xu[b]
            residual[a] = -total
        for pos in range(indptr[row], indptr[row + 1]):
            yi = factors[indices[pos]]
            dot = zero
            for a in range(n_factors):
                dot += yi[a] * xu[a]
            weight = one + extra[pos] - extra[pos] * dot
            for a in range(n_factors):
                residual[a] += weight * yi[a]
        norm = zero
        for a in range(n_factors):
            direction[a] = residual[a]
            norm += residual[a] * residual[a]
        for _ in range(steps):
            if norm <= _TINY:
                break
            for a in range(n_factors):
                total = zero
                for b in range(n_factors):
                    total += gram[a, b] * direction[b]
                product[a] = total
            for pos in range(indptr[row], indptr[row + 1]):
                yi = factors[indices[pos]]
                dot = zero
                for a in range(n_factors):
                    dot += yi[a] * direction[a]
                dot *= extra[pos]
                for a in range(n_factors):
                    product[a] += dot * yi[a]
            curvature = zero
            for a in range(n_factors):
                curvature += direction[a] * product[a]
            if curvature <= _TINY:
                break
            step = norm / curvature
            new_norm = zero
            for a in range(n_factors):
                xu[a] += step * direction[a]
                residual[a] -= step * product[a]
                new_norm += residual[a] * residual[a]
            ratio = new_norm / norm
            for a in range(n_factors):
                direction[a] = residual[a] + ratio * direction[a]
            norm = new_norm


def _conjugate_gradient(rows, factors, gram, x, steps, n_jobs=1):
    """Refine ``x`` towards the weighted ridge solutions of the rows of ``rows``.

    ``rows`` is a CSR matrix (one row per solved user or item) whose stored
    entries are the positives, with data ``c - 1``; ``factors`` are the
    fixed vectors of the other side and ``gram`` is ``factors.T @ factors
    + alpha * I``. Row ``u`` of the solution solves ``(gram + Y_u^T
    diag(c_u - 1) Y_u) x_u = Y_u^T c_u`` (Hu et al. 2008): ``steps`` steps
    of the conjugate gradient from ``x`` (Takács et al. 2011), row by row
    in compiled code, on ``n_jobs`` threads over blocks of rows of about
    equal numbers of positives. A row whose residual vanished stays where
    it is.
    """
    dtype = factors.dtype
    arrays = (rows.indptr, rows.indices, rows.data.astype(dtype, copy=False),
              np.ascontiguousarray(factors), np.ascontiguousarray(gram, dtype=dtype))
    n_rows = rows.shape[0]
    n_blocks = max(1, min(n_jobs, n_rows // _MIN_BLOCK_ROWS))
    # Blocks of about equal work: positives plus a Gram product per row.
    work = rows.indptr + np.arange(n_rows + 1) * factors.shape[1]
    edges = np.unique(np.searchsorted(work, np.linspace(0, work[-1], n_blocks + 1)))
    edges[0], edges[-1] = 0, n_rows
    thread_map(lambda block: _cg_rows(*arrays, x, steps, block[0], block[1]),
               list(zip(edges[:-1], edges[1:])), n_jobs=n_jobs)
    return x


def _solve_side(rows, factors, alpha, x, steps, n_jobs):
    """:func:`_conjugate_gradient` over every row of ``rows``, ``gram`` from ``factors``."""
    gram = factors.T @ factors
    gram.flat[:: gram.shape[0] + 1] += alpha
    return _conjugate_gradient(rows, factors, gram, x, steps, n_jobs)


@shared_doc
class ImplicitALS(FoldInMixin, FormulaScoring, RecommenderMixin, BaseEstimator):
    """Implicit-feedback matrix factorisation by alternating least squares (iALS).

    Every (user, item) cell is a preference ``p = 1`` where the user
    interacted with the item and ``p = 0`` elsewhere, weighted by a
    confidence ``c = 1 + confidence_scale * r`` (``"linear"``) or ``1 +
    confidence_scale * log(1 + r)`` (``"log"``) of the interaction weight
    ``r`` (1 for each row when ``y`` is None, and 1 for the cells without
    interaction). The factors minimise::

        sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + alpha (||X||^2 + ||Y||^2)

    (Hu, Koren and Volinsky 2008). Each iteration solves every user's
    weighted ridge regression with the item factors fixed, then every
    item's with the user factors fixed; each solve is ``cg_steps`` steps of
    the conjugate gradient started from the previous factors (Takács et
    al. 2011), compiled (numba), on ``n_jobs`` threads. The unobserved cells cost
    nothing beyond one ``n_factors x n_factors`` Gram matrix per half-step.

    Parameters
    ----------
    n_factors : int, default=128
        Dimension of the user and item factors.
    alpha : float, default=50.0
        The ridge penalty on the factors (> 0).
    confidence : {"linear", "log"}, default="linear"
        How the weight ``r`` of an interaction becomes its confidence.
    confidence_scale : float, default=5.0
        The scale ``s`` of the confidence (>= 0): ``c = 1 + s * r`` or
        ``1 + s * log(1 + r)``; 0 weighs the positives like the rest.
    max_iter : int, default=15
        Alternating iterations (one user half-step and one item half-step each).
    cg_steps : int, default=3
        Conjugate-gradient steps per least-squares solve; ``n_factors`` steps
        solve it exactly (to rounding).
    init_scale : float, default=0.01
        Standard deviation of the normal initial factors.
    {retrieval_parameters}
    n_jobs : int, default=None
        Threads over blocks of users (items), and of the HNSW search with
        ``retrieval="hnsw"``; None means 1, -1 all processors.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial factors.
    verbose : bool, default=False
        Show a progress bar of the iterations (tqdm).

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users_, n_factors)
        The user factors ``x_u`` (float32), rows in the order of ``users_``.
    item_factors_ : ndarray of shape (n_items_, n_factors)
        The item factors ``y_i`` (float32), rows in the order of ``items_``.
    {fitted_attributes}

    See Also
    --------
    sklearn_recs.neural.ImplicitMatrixFactorization : Factors for implicit
        feedback by stochastic gradient (BPR, BCE) in PyTorch.

    Notes
    -----
    A half-step costs ``O(nnz * n_factors * cg_steps + n * n_factors^2)``
    for ``n`` users (items) and ``nnz`` interactions. The factors are
    float32, like those of the ``implicit`` library.

    ``recommend`` ranks ``x_u . y_i``; ``similar_items`` ranks the cosine
    of the item factors. ``partial_fit`` folds in new users and new items
    (and new interactions of known ones) without refitting: it re-solves
    only the rows they touch, each exactly with the other side fixed.
    ``recommend(users, interactions=X_new)`` folds in users given only by
    their interactions, without changing the model: each such user's
    factors are that user's least-squares solution with the item factors
    fixed (the user half-step of a fit, solved exactly).

    References
    ----------
    .. [1] Y. Hu, Y. Koren and C. Volinsky, "Collaborative filtering for
       implicit feedback datasets", ICDM 2008.
    .. [2] G. Takács, I. Pilászy and D. Tikk, "Applications of the conjugate
       gradient method for implicit feedback collaborative filtering",
       RecSys 2011.

    Examples
    --------
    >>> from sklearn_recs.decomposition import ImplicitALS
    >>> from sklearn_recs.utils._testing import checkerboard
    >>> model = ImplicitALS(n_factors=2, alpha=0.1, random_state=0)
    >>> model = model.fit(checkerboard(10, 10))
    >>> model.user_factors_.shape
    (10, 2)

    On a checkerboard, user 0 (even) prefers the even item 2 to the odd 3.

    >>> bool(model.predict([[0, 2]])[0] > model.predict([[0, 3]])[0])
    True
    """

    _parameter_constraints: dict = {
        "n_factors": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "confidence": [StrOptions({"linear", "log"})],
        "confidence_scale": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "cg_steps": [Interval(Integral, 1, None, closed="left")],
        "init_scale": [Interval(Real, 0, None, closed="neither")],
        **RETRIEVAL_CONSTRAINTS,
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, *, n_factors=128, alpha=50.0, confidence="linear",
                 confidence_scale=5.0, max_iter=15, cg_steps=3, init_scale=0.01,
                 retrieval="exact", retrieval_params=None, n_jobs=None, random_state=None,
                 verbose=False):
        store_params(self, locals())

    # -- fitting ---------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the user and item factors.

        {fit_X}.
        y : array-like of shape (n_samples,), default=None
            Non-negative interaction weights ``r`` (counts, durations); None
            means every row weighs 1.

        {fit_returns}
        """
        from tqdm.auto import tqdm

        check_retrieval(self)
        self._fit_interactions(X, y, implicit=True)
        rng = check_random_state(self.random_state)
        shape = (self.n_factors,)
        self.user_factors_ = (rng.standard_normal((self.n_users_, *shape))
                              * self.init_scale).astype(np.float32)
        self.item_factors_ = (rng.standard_normal((self.n_items_, *shape))
                              * self.init_scale).astype(np.float32)
        by_user, by_item = self._confidences()
        with threadpool_limits(limits=1, user_api="blas"):
            for _ in tqdm(range(self.max_iter), desc="ImplicitALS", unit="iter",
                          disable=not self.verbose):
                self._alternate(by_user, by_item, self.cg_steps)
        self._check_finite()
        self._formula()  # built now (the HNSW graph too): serving never writes to the estimator
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Add interactions, new users and new items to the fitted model.

        The weights of ``X, y`` are added to ``interactions_`` (new ids join
        ``users_`` and ``items_``), then only the rows they touch are
        re-solved, each exactly (the conjugate gradient run for
        ``n_factors`` steps) with the other side fixed: the users in ``X``,
        then the items in ``X``, then those users again. New rows start
        from zero. The other rows keep their factors, so the result is an
        approximation of a ``fit`` on all the data, not equal to it.

        {partial_fit_implicit}
        """
        if not hasattr(self, "interactions_"):
            return self.fit(X, y)
        previous_users, previous_items = self.users_, self.items_
        _, added = self._add_interactions(X, y)
        self.user_factors_ = self._grown(self.user_factors_, self._user_index, previous_users)
        self.item_factors_ = self._grown(self.item_factors_, self._item_index, previous_items)
        added = added.tocoo()
        users, items = np.unique(added.row), np.unique(added.col)
        by_user, by_item = self._confidences()
        with threadpool_limits(limits=1, user_api="blas"):
            self._alternate(by_user, by_item, self.n_factors, users=users, items=items)
            self._alternate(by_user, None, self.n_factors, users=users)
        self._check_finite()
        self._formula()  # built now (the HNSW graph too): serving never writes to the estimator
        return self

    @staticmethod
    def _grown(factors, index, previous):
        """``factors`` of the ids ``previous`` in the rows of ``index``, zero elsewhere."""
        grown = np.zeros((len(index), factors.shape[1]), dtype=factors.dtype)
        grown[index.get_indexer(previous)] = factors
        return grown

    def _confidences(self):
        """``c - 1`` of the interactions, by user (CSR) and by item (CSR of the transpose)."""
        by_user = self.interactions_.copy()
        by_user.data = _confidence_minus_one(by_user, self.confidence, self.confidence_scale)
        by_user = by_user.astype(np.float32)
        return by_user, by_user.T.tocsr()

    def _alternate(self, by_user, by_item, steps, users=None, items=None):
        """One user half-step then one item half-step (none where ``by_item`` is
        None), over all rows or the given codes."""
        n_jobs = self._n_threads()
        sides = [(by_user, users, self.user_factors_, self.item_factors_),
                 (by_item, items, self.item_factors_, self.user_factors_)]
        for rows, codes, x, fixed in sides[: 1 if by_item is None else 2]:
            if codes is None:
                _solve_side(rows, fixed, self.alpha, x, steps, n_jobs)
            else:
                x[codes] = _solve_side(rows[codes], fixed, self.alpha, x[codes], steps, n_jobs)

    def _n_threads(self):
        from joblib import effective_n_jobs

        return effective_n_jobs(self.n_jobs)

    def _check_finite(self):
        if not (np.isfinite(self.user_factors_).all() and np.isfinite(self.item_factors_).all()):
            raise FloatingPointError(
                f"ImplicitALS: the factors overflowed (confidence_scale="
                f"{self.confidence_scale}, weights up to {self.interactions_.data.max():g}). "
                "Use confidence='log', a smaller confidence_scale or a larger alpha."
            )

    # -- fold-in (FoldInMixin) -------------------------------------------
    _implicit = True

    def _fold_in(self, matrix):
        """The factors of the users of ``matrix`` (CSR of weights over the items).

        Each row's weighted ridge regression on the fixed item factors, solved
        exactly (``n_factors`` conjugate-gradient steps from zero), as
        ``partial_fit`` solves a new user.
        """
        rows = matrix.astype(np.float32)
        rows.data = _confidence_minus_one(rows, self.confidence, self.confidence_scale)
        start = np.zeros((rows.shape[0], self.n_factors), dtype=self.item_factors_.dtype)
        with threadpool_limits(limits=1, user_api="blas"):
            return _solve_side(rows, self.item_factors_, self.alpha, start,
                               self.n_factors, self._n_threads())

    def _fold_in_rows(self, codes, extra):
        """Factor rows (and zero offsets) of known users (codes < n_users_) and
        fold-in users (rows of ``extra``)."""
        codes = np.asarray(codes)
        if extra is None:
            vectors = self.user_factors_[codes]
        else:
            new = codes >= self.n_users_
            vectors = self.user_factors_[np.where(new, 0, codes)]
            vectors[new] = extra[codes[new] - self.n_users_]
        return vectors, np.zeros(len(codes))

    def _score_fold_in(self, codes, item_codes, extra):
        """Scores of known users (codes < n_users_) and fold-in users (rows of ``extra``)."""
        vectors, _ = self._fold_in_rows(codes, extra)
        q = self.item_factors_ if item_codes is None else self.item_factors_[item_codes]
        return vectors @ q.T

    # -- scoring -----------------------------------------------------------
    def _predict_pairs(self, user_codes, item_codes):
        p = self.user_factors_[user_codes].astype(np.float64)
        q = self.item_factors_[item_codes].astype(np.float64)
        return (p * q).sum(1)

    def _score_users(self, user_codes, item_codes):
        return self._score_fold_in(user_codes, item_codes, None)

    def _unit_item_factors(self):
        norms = np.linalg.norm(self.item_factors_, axis=1)
        return self.item_factors_ / np.maximum(norms, 1e-12)[:, None]

    def _similar_item_scores(self, item_codes):
        unit = self._unit_item_factors()
        return unit[item_codes] @ unit.T

    def _explain_terms(self, user_codes, item_codes):
        return factor_model_terms(self, user_codes, item_codes)

    def _serving_arrays(self):
        """The factors, for :func:`sklearn_recs.serving.save_npz` (no biases)."""
        return "factors", dict(
            user_factors=self.user_factors_, item_factors=self.item_factors_,
            item_bias=np.zeros(self.n_items_), user_offset=np.zeros(self.n_users_),
            similarity_vectors=self._unit_item_factors(), **retrieval_arrays(self))

    def __sklearn_tags__(self):
        return _implicit_tags(super().__sklearn_tags__())


fill_doc(ImplicitALS, fitted_attributes=_FITTED_ATTRIBUTES)

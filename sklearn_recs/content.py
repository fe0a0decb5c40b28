"""Content-based recommendation: items described by features, users by profiles.

:class:`ContentRecommender` turns item side information (genres, tags,
titles, years, any column) into vectors with a scikit-learn transformer and
scores every item, rated or not, against a profile of each user built from
the items they rated. It ranks items nobody has rated yet (cold-start items)
and explains its recommendations by the features that drove them.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context, clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ._explain import content_terms
from ._scoring import FormulaScoring
from .base import RecommenderMixin, _fit_biases, _implicit_tags
from .exceptions import DataWarning
from .utils._docs import shared_doc
from .utils._features import check_feature_frame, transform_features
from .utils._params import store_params
from .utils._stack import user_stacklevel
from .utils._topk import block_size
from .utils.validation import get_column, get_times

__all__ = ["ContentRecommender"]

# Conjugate-gradient settings of the per-user ridge profiles.
_CG_MAX_ITER = 200
_CG_TOL = 1e-6
# The item biases of centering="baseline": BiasBaseline's defaults.
_BIAS_ALPHA_USER, _BIAS_ALPHA_ITEM, _BIAS_MAX_ITER = 5.0, 2.0, 10


# -- the default item transformer ----------------------------------------------
def _fill_empty(column):
    """Replace missing values of a text or label-list column by ``""``."""
    column = pd.Series(np.asarray(column, dtype=object).ravel())
    return column.where(column.notna(), "").to_numpy()


def _labels(value):
    """Tokens of a label cell: a list of labels, or one label as a string."""
    if isinstance(value, str):
        return [value] if value else []
    return [str(label) for label in value]


def _column_kind(column):
    if isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == bool:
        return "category"
    if pd.api.types.is_numeric_dtype(column.dtype):
        return "number"
    if pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype):
        present = column.dropna()
        if len(present) and present.map(lambda v: isinstance(v, list | tuple | set | np.ndarray)).all():
            return "labels"
        if present.map(lambda v: isinstance(v, str)).all():
            return "text"
    return None


def make_default_transformer(item_features):
    """Build the transformer :class:`ContentRecommender` uses by default.

    One block per column of ``item_features``, stacked by a
    :class:`~sklearn.compose.ColumnTransformer` (sparse output):

    - lists of labels (genres) -> TF-IDF over the labels, each row L2-normalised;
    - text (tags, titles) -> TF-IDF over words, English stop words removed,
      sublinear term frequencies, each row L2-normalised;
    - categories and booleans -> one-hot;
    - numbers (year) -> missing values replaced by the median, standardised.

    Missing text or label lists count as empty. Any other column type (dates,
    mixed objects) is an error: drop the column or pass your own transformer.

    Parameters
    ----------
    item_features : DataFrame of shape (n_items, n_columns)
        The item features, one row per item.

    Returns
    -------
    transformer : ColumnTransformer
        Unfitted.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recs.content import make_default_transformer
    >>> items = pd.DataFrame({"genres": [["Drama"], ["Comedy", "Drama"]],
    ...                       "year": [1995, 2001]})
    >>> make_default_transformer(items).fit_transform(items).shape
    (2, 3)
    """
    blocks = []
    for name in item_features.columns:
        kind = _column_kind(item_features[name])
        fill = FunctionTransformer(_fill_empty, feature_names_out="one-to-one")
        if kind == "labels":
            block = make_pipeline(fill, TfidfVectorizer(analyzer=_labels))
        elif kind == "text":
            block = make_pipeline(fill, TfidfVectorizer(stop_words="english", sublinear_tf=True))
        elif kind == "category":
            block = OneHotEncoder(handle_unknown="ignore")
            name = [name]
        elif kind == "number":
            block = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
            name = [name]
        else:
            raise TypeError(
                f"ContentRecommender: item_features column {name!r} has dtype "
                f"{item_features[name].dtype}, which the default transformer does "
                "not handle (it handles text, lists of labels, categories and "
                "numbers). Drop the column or pass transformer=..."
            )
        blocks.append((str(name if isinstance(name, str) else name[0]), block, name))
    return ColumnTransformer(blocks, sparse_threshold=1.0)


# -- sparse helpers --------------------------------------------------------------
def _sampled_dot(A, B, rows, cols):
    """``(A[rows] * B[cols]).sum(axis=1)`` for CSR ``A`` and ``B``, in O(nnz).

    Looks each nonzero of ``B[cols]`` up in ``A``'s sorted row-major keys,
    so no ``len(rows) x n_features`` intermediate is formed.
    """
    if not A.has_canonical_format:
        A = A.copy()
        A.sum_duplicates()
    n_features = A.shape[1]
    keys = np.repeat(np.arange(A.shape[0], dtype=np.int64), np.diff(A.indptr)) * n_features
    keys += A.indices
    sub = B[cols]
    pair = np.repeat(np.arange(len(cols)), np.diff(sub.indptr))
    wanted = rows[pair].astype(np.int64) * n_features + sub.indices
    found = np.searchsorted(keys, wanted).clip(max=max(len(keys) - 1, 0))
    hit = keys[found] == wanted if len(keys) else np.zeros(len(wanted), bool)
    products = np.where(hit, A.data[found] if len(keys) else 0.0, 0.0) * sub.data
    return np.bincount(pair, products, minlength=len(cols))


def _row_norms(M):
    return np.sqrt(np.asarray(M.multiply(M).sum(axis=1)).ravel())


def _scale_rows(M, factors):
    return sp.csr_matrix(sp.diags(factors) @ M)


def _safe_inverse(values):
    out = np.zeros_like(values, dtype=np.float64)
    np.divide(1.0, values, out=out, where=values > 1e-12)
    return out


def _batched_cg(gram, rhs):
    """Solve ``gram(x_u) = rhs_u`` for every row ``u`` at once by conjugate gradient.

    ``gram`` applies each row's symmetric positive definite system to the
    rows of a matrix; each row takes its own step sizes and stops on its
    own relative residual.
    """
    residual = rhs.copy()
    coef = np.zeros_like(residual)
    direction = residual.copy()
    rs = np.einsum("ij,ij->i", residual, residual)
    stop = _CG_TOL**2 * np.maximum(rs, 1e-300)
    for _ in range(_CG_MAX_ITER):
        active = rs > stop
        if not active.any():
            break
        Hd = gram(direction)
        curvature = np.einsum("ij,ij->i", direction, Hd)
        step = np.where(active, rs * _safe_inverse(curvature), 0.0)
        coef += step[:, None] * direction
        residual -= step[:, None] * Hd
        rs_new = np.einsum("ij,ij->i", residual, residual)
        direction = residual + (rs_new * _safe_inverse(rs))[:, None] * direction
        rs = rs_new
    return coef


@shared_doc
class ContentRecommender(FormulaScoring, RecommenderMixin, RegressorMixin, BaseEstimator):
    """Content-based recommender: item features against user profiles.

    Item features (a DataFrame indexed by item id, passed to ``fit``) are
    turned into sparse vectors ``v_i`` by ``transformer``. Each user gets a
    profile ``p_u`` in the same space, built from the items they rated:

    - ``profile="centroid"``: the weighted mean of their item vectors, with
      weights ``w_ui`` the mean-centred ratings (explicit feedback: liked
      items pull towards their features, disliked ones push away) or the
      interaction weights (implicit feedback), times a time decay when
      ``half_life`` is set. Items are scored by the cosine (or dot product)
      between ``p_u`` and ``v_i``.
    - ``profile="ridge"``: a regularised linear model per user, ``p_u``
      minimising ``sum_i c_ui (r_ui - mean_u - v_i . p_u)^2 + alpha |p_u|^2``
      (``c_ui`` the time decay, 1 by default), solved for all users at once
      by a batched conjugate gradient. Items are scored by ``v_i . p_u``.

    Every item of ``item_features`` is in the catalogue ``items_``, rated or
    not: items nobody rated in training are scored, predicted and
    recommended from their features alone.

    With ``centering="baseline"`` (explicit feedback) the ratings first lose
    each item's bias ``b_i`` of a regularised bias model (as in
    :class:`~sklearn_recs.baselines.BiasBaseline`), so the profiles explain
    what the biases leave over; ``b_i`` is added back by ``predict`` and
    ``recommend``. For implicit feedback, ``centering="baseline"`` with the
    ridge profiles fits each user's whole row of the catalogue (the weight
    ``y_ui`` where they interacted, 0 elsewhere: unobserved items count as
    weak negatives), less the item popularity ``b_i = mean_u y_ui``::

        p_u = argmin_p  sum_i (y_ui - b_i - v_i . p)^2 + alpha |p|^2

    and scores ``b_i + v_i . p_u``: the popularity, corrected by the
    features the user favours (fit on the interacted items alone, the
    profiles cannot tell a user's items from the rest and rank below
    :class:`~sklearn_recs.baselines.Popularity`). For explicit ratings ``predict`` maps a score back to the
    user's scale, ``b_i + mean_u + beta_ * score`` (centroid; ``beta_``
    fitted by least squares on leave-one-out scores of the training ratings, each user's mean and
    profile recomputed without the rating) or ``b_i + mean_u + score``
    (ridge; ``b_i`` is 0 with ``centering="mean"``), so the model also
    works as a regressor. For implicit feedback
    ``predict`` returns the score.

    Parameters
    ----------
    transformer : transformer, default=None
        Turns the ``item_features`` DataFrame into a (sparse) feature matrix:
        a ``TfidfVectorizer`` over one text column, a ``ColumnTransformer``,
        a ``Pipeline`` ending in ``TruncatedSVD``... It is cloned into
        ``transformer_`` at fit, so its parameters can be tuned by grid
        search as ``transformer__<name>``. None uses
        :func:`make_default_transformer`: TF-IDF for text and label lists,
        one-hot for categories, standardised numbers.
    profile : {"centroid", "ridge"}, default="ridge"
        How user profiles are built (see above). The default and ``alpha``
        are the best of a validation grid on ratings carved from ml-100k's
        ``u1.base``, items described by genres and year
        (``benchmarks/results/defaults.json``).
    similarity : {"cosine", "dot"}, default="cosine"
        Score of the centroid profiles: cosine, or the dot product with the
        raw item vectors. The ridge profiles always use the dot product.
    alpha : float, default=10.0
        Regularisation of the ridge profiles. Chosen on ratings; the
        implicit search of ``benchmarks/select_defaults.py`` keeps it, as
        within noise of its best (``benchmarks/results/defaults.json``).
    centering : {"baseline", "mean"}, default="baseline"
        Explicit feedback: what the ratings are centred on before the
        profiles are fitted. "mean": each user's mean rating; "baseline":
        each item's bias as well (see above; without it the model scores
        worse than :class:`~sklearn_recs.baselines.BiasBaseline`).
        Implicit feedback with the ridge profiles: "baseline" fits the
        whole catalogue less the item popularity (see above; without it
        the model ranks below :class:`~sklearn_recs.baselines.Popularity`),
        "mean" the interacted items alone; the centroid profiles of
        implicit feedback ignore it. Both defaults are the best of
        validation grids (``benchmarks/results/defaults.json``).
    feedback : {"explicit", "implicit"}, default="explicit"
        ``"explicit"``: ``y`` holds ratings, centred on each user's mean.
        ``"implicit"``: ``y`` holds non-negative weights (or None, every
        interaction a positive).
    half_life : float, default=None
        Half-life of an interaction's weight in the profile, in the units of
        ``time_column``, counted back from the user's latest interaction
        (implicit ``centering="baseline"``: of its weight ``y_ui``).
        None means no decay.
    time_column : int or str, default=2
        Column of ``X`` holding the interaction times, used only with
        ``half_life``.

    Attributes
    ----------
    transformer_ : transformer or None
        The fitted clone of ``transformer`` (or of the default), or None when
        fit without ``item_features``.
    item_vectors_ : scipy.sparse.csr_matrix of shape (n_items_, n_item_features)
        The transformed item features, rows in the order of ``items_``.
    user_profiles_ : scipy.sparse.csr_matrix of shape (n_users_, n_item_features)
        The user profiles: weighted mean item vectors (centroid) or ridge
        coefficients.
    user_mean_ : ndarray of shape (n_users_,)
        Each user's mean rating, less the item biases (explicit feedback;
        zeros for implicit).
    item_bias_ : ndarray of shape (n_items_,)
        Each item's bias (``centering="baseline"``: explicit feedback, 0 for
        items without ratings; implicit feedback with the ridge profiles,
        the popularity ``mean_u y_ui``); zeros otherwise.
    beta_ : float
        Scale from score to centred rating used by ``predict`` (1.0 for the
        ridge profiles and for implicit feedback).
    users_ : ndarray of shape (n_users_,)
        User ids seen at fit, sorted.
    items_ : ndarray of shape (n_items_,)
        The catalogue, sorted: the items of ``item_features`` (which must
        cover every item of ``X``), rated or not.
    n_users_ : int
        Number of users seen at fit.
    n_items_ : int
        Number of items in the catalogue.
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        The training ratings or weights (items without interactions have
        empty columns).
    n_features_in_ : int
        Number of columns of ``X`` at fit.

    See Also
    --------
    make_default_transformer : The default item transformer.
    sklearn_recs.hybrid.RankingBlend : Blends this model's ranking with
        collaborative ones.

    Notes
    -----
    ``item_features`` must describe every item of ``X``; an item missing
    from its index is an error (add a row with empty text, e.g. with
    ``item_features.reindex(...)``, to give it a zero vector). Its index
    must hold unique item ids of the same kind (numbers or strings) as
    ``X``. Fit without ``item_features`` (as scikit-learn's generic checks
    do), each item is its own one-hot feature: nothing generalises across
    items, so the model predicts each user's mean rating and cannot rank
    unrated items; a :class:`~sklearn_recs.exceptions.DataWarning` says so.

    To pass ``item_features`` through a ``Pipeline`` or ``GridSearchCV``,
    enable metadata routing (``sklearn.set_config(enable_metadata_routing=True)``)
    and request it with ``set_fit_request(item_features=True)``;
    ``GridSearchCV.fit(X, y, item_features=...)`` also works without routing.

    Unknown users get the popularity ranking and the bias baseline, as
    every recommender of the package does.

    Memory is O(nnz of the item features + users x features used): scores
    are computed in blocks of users, never as a dense users x items matrix.
    The ridge profiles are dense over the features used by rated items.

    References
    ----------
    .. [1] P. Lops, M. de Gemmis, G. Semeraro, "Content-based recommender
       systems: state of the art and trends", Recommender Systems Handbook,
       2011.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recs.content import ContentRecommender
    >>> items = pd.DataFrame(
    ...     {"genres": [["Action"], ["Action", "Sci-Fi"], ["Romance"],
    ...                 ["Romance", "Drama"], ["Sci-Fi"]]},
    ...     index=[10, 20, 30, 40, 50])
    >>> X = [[1, 10], [1, 30], [2, 30], [2, 10]]
    >>> model = ContentRecommender().fit(X, [5, 1, 5, 2], item_features=items)
    >>> model.recommend([1, 2], top_n=2)  # item 50 was never rated
    array([[20, 50],
           [40, 50]])
    >>> model.similar_items([40], top_n=1)
    array([[30]])
    >>> model.explain(1, 20).round(3)  # sums to predict([[1, 20]])
       user  item          source     kind  contribution  exact
    0     1    20       user mean     bias         3.000   True
    1     1    20       item bias     bias         0.000   True
    2     1    20  genres__Action  feature         0.121   True
    """

    _parameter_constraints: dict = {
        "transformer": [HasMethods(["fit", "transform"]), None],
        "profile": [StrOptions({"centroid", "ridge"})],
        "similarity": [StrOptions({"cosine", "dot"})],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "centering": [StrOptions({"baseline", "mean"})],
        "feedback": [StrOptions({"explicit", "implicit"})],
        "half_life": [Interval(Real, 0, None, closed="neither"), None],
        "time_column": [Integral, str],
    }

    def __init__(self, *, transformer=None, profile="ridge", similarity="cosine",
                 alpha=10.0, centering="baseline", feedback="explicit", half_life=None,
                 time_column=2):
        store_params(self, locals())

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, item_features=None):
        """Transform the item features and build the user profiles.

        {fit_X}; with ``half_life``,
            ``time_column`` holds the times.
        y : array-like of shape (n_samples,), default=None
            Ratings (``feedback="explicit"``, required) or non-negative
            weights (``feedback="implicit"``; None counts each row as 1).
        item_features : DataFrame of shape (n_catalogue, n_columns), default=None
            Item side information, indexed by item id (unique). It must cover
            every item of ``X``; its other items are cold-start items, scored
            from their features. None: see Notes.

        {fit_returns}
        """
        implicit = self.feedback == "implicit"
        catalogue = None
        if item_features is not None:
            item_features, catalogue = check_feature_frame(
                item_features, X, column=1, noun="item", estimator=self)
        users, items, values = self._fit_interactions(X, y, implicit=implicit,
                                                      extra_items=catalogue)
        vectors = self._item_vectors(item_features)
        weights = np.ones(len(users)) if values is None else values.copy()
        self.user_mean_ = np.zeros(self.n_users_)
        self.item_bias_ = np.zeros(self.n_items_)
        if not implicit and self.centering == "baseline":
            _, _, self.item_bias_ = _fit_biases(
                users, items, weights, self.n_users_, self.n_items_,
                alpha_user=_BIAS_ALPHA_USER, alpha_item=_BIAS_ALPHA_ITEM, max_iter=_BIAS_MAX_ITER)
            weights -= self.item_bias_[items]
        if not implicit:
            counts = np.bincount(users, minlength=self.n_users_)
            self.user_mean_ = np.bincount(users, weights, self.n_users_) / counts
            weights -= self.user_mean_[users]
        decay = self._decay(X, users, items)
        if self.profile == "ridge":
            self._V = vectors
            if implicit and self.centering == "baseline":
                targets = weights if decay is None else weights * decay
                self.item_bias_ = np.bincount(items, targets, self.n_items_) / self.n_users_
                self.user_profiles_ = self._catalogue_profiles(vectors, targets)
            else:
                self.user_profiles_ = self._ridge_profiles(vectors, users, items, weights,
                                                           decay)
            self._P = self.user_profiles_
            self.beta_ = 1.0
        else:
            self._centroid_profiles(vectors, users, items, weights, decay, implicit)
        self._unit_items = _scale_rows(vectors, _safe_inverse(_row_norms(vectors)))
        self._formula()  # built now: serving never writes to the estimator
        return self

    # -- fit helpers ---------------------------------------------------------
    def _item_vectors(self, item_features):
        """The item feature matrix (CSR, rows in the order of ``items_``)."""
        if item_features is None:
            warnings.warn(
                "ContentRecommender: fit without item_features, so each item is "
                "its own one-hot feature: the model predicts user means and "
                "cannot rank unrated items. Pass fit(X, y, item_features=...).",
                DataWarning,
                stacklevel=user_stacklevel(),
            )
            self.transformer_ = None
            self.item_vectors_ = sp.identity(self.n_items_, format="csr")
            return self.item_vectors_
        frame = item_features.iloc[pd.Index(item_features.index).get_indexer(self.items_)]
        self.transformer_ = (make_default_transformer(frame) if self.transformer is None
                             else clone(self.transformer))
        vectors = transform_features(self.transformer_, frame, self.items_,
                                     noun="item", estimator=self)
        self.item_vectors_ = vectors
        return vectors

    def _decay(self, X, users, items):
        """Time-decay weight of each unique (user, item) pair, or None."""
        if self.half_life is None:
            return None
        times = get_times(X, self.time_column, estimator=self)
        row_users = self._encode_users(get_column(X, 0))
        row_items = self._encode_items(get_column(X, 1))
        latest = pd.Series(times).groupby(row_users).max().to_numpy()
        row_decay = 0.5 ** ((latest[row_users] - times) / self.half_life)
        shape = (self.n_users_, self.n_items_)
        total = sp.csr_matrix((row_decay, (row_users, row_items)), shape=shape)
        count = sp.csr_matrix((np.ones(len(times)), (row_users, row_items)), shape=shape)
        total.sum_duplicates()
        count.sum_duplicates()
        return total.data / count.data

    def _centroid_profiles(self, vectors, users, items, weights, decay, implicit):
        cosine = self.similarity == "cosine"
        V = _scale_rows(vectors, _safe_inverse(_row_norms(vectors))) if cosine else vectors
        w = weights if decay is None else weights * decay
        W = sp.csr_matrix((w, self.interactions_.indices, self.interactions_.indptr),
                          shape=self.interactions_.shape)
        S = sp.csr_matrix(W @ V)
        total = np.bincount(users, np.abs(w), minlength=self.n_users_)
        self.user_profiles_ = _scale_rows(S, _safe_inverse(total))
        norms = _row_norms(S)
        self._P = _scale_rows(S, _safe_inverse(norms)) if cosine else self.user_profiles_
        self._V = V
        self.beta_ = 1.0
        if implicit:
            return
        # Leave-one-out score of each training rating: the profile rebuilt
        # without it, the user's mean included (else the remaining centred
        # ratings lean against the left-out one). With d the decay, e the
        # centred rating of the left-out pair and T = sum_k d_k v_k, it is
        # a + c b with a = S - w v, b = T - d v, c = e / (n_u - 1).
        d = np.ones(len(w)) if decay is None else decay
        T = sp.csr_matrix(sp.csr_matrix(
            (d, self.interactions_.indices, self.interactions_.indptr),
            shape=self.interactions_.shape) @ V)
        n_u = np.bincount(users, minlength=self.n_users_)
        c = weights * _safe_inverse(n_u[users] - 1.0)
        sv, tv = _sampled_dot(S, V, users, items), _sampled_dot(T, V, users, items)
        vv = _row_norms(V)[items] ** 2
        numerator = sv - w * vv + c * (tv - d * vv)
        if cosine:
            st = np.asarray(S.multiply(T).sum(axis=1)).ravel()[users]
            aa = norms[users] ** 2 - 2 * w * sv + w**2 * vv
            ab = st - d * sv - w * tv + w * d * vv
            bb = _row_norms(T)[users] ** 2 - 2 * d * tv + d**2 * vv
            loo_norm = np.sqrt(np.maximum(aa + 2 * c * ab + c**2 * bb, 0.0))
            denominator = loo_norm * np.sqrt(vv)
        else:
            denominator = total[users] - np.abs(w)
        loo = numerator * _safe_inverse(denominator)
        energy = float(loo @ loo)
        self.beta_ = float(loo @ weights) / energy if energy > 0 else 0.0

    def _catalogue_profiles(self, vectors, targets):
        """Ridge coefficients fit on each user's whole catalogue row, less the popularity.

        Solves ``(V' V + alpha I) p_u = V' (y_u - b)`` (``y_u`` the user's
        row of ``targets``, 0 off the interactions; ``b`` the item
        popularity ``item_bias_``), for blocks of users at once by batched
        conjugate gradient: the Gram is shared, so a step costs two sparse
        products with ``V`` and no user x item matrix of the whole data.
        """
        R = sp.csr_matrix((targets, self.interactions_.indices, self.interactions_.indptr),
                          shape=self.interactions_.shape)
        V = sp.csr_matrix(vectors)
        mean_row = self.item_bias_ @ V

        def gram(D):
            return np.asarray(V.T @ (V @ D.T)).T + self.alpha * D

        step = block_size(self.n_items_)
        parts = [_batched_cg(gram, np.asarray((R[start:start + step] @ V).todense()) - mean_row)
                 for start in range(0, self.n_users_, step)]
        profiles = sp.csr_matrix(np.vstack(parts) if parts else np.zeros((0, V.shape[1])))
        profiles.sort_indices()
        return profiles

    def _ridge_profiles(self, vectors, users, items, weights, decay):
        """Ridge coefficients of every user at once, by batched conjugate gradient.

        Solves ``(V_u' C_u V_u + alpha I) p_u = V_u' C_u r_u`` for all users
        together: each CG step is two sparse products over all ratings, with
        per-user step sizes, restricted to the features of rated items.
        """
        used = np.unique(vectors[np.unique(items)].indices)
        V = sp.csr_matrix(vectors[:, used])
        c = np.ones(len(users)) if decay is None else decay
        R = self.interactions_
        pair_vectors = V[items]
        nz_pair = np.repeat(np.arange(len(items)), np.diff(pair_vectors.indptr))
        nz_user, nz_feature = users[nz_pair], pair_vectors.indices

        def gram(D):
            fitted = np.bincount(nz_pair, D[nz_user, nz_feature] * pair_vectors.data,
                                 minlength=len(items))
            E = sp.csr_matrix((c * fitted, R.indices, R.indptr), shape=R.shape)
            return np.asarray((E @ V).todense()) + self.alpha * D

        B = sp.csr_matrix((c * weights, R.indices, R.indptr), shape=R.shape)
        coef = _batched_cg(gram, np.asarray((B @ V).todense()))
        full = sp.csr_matrix(coef)
        full = sp.csr_matrix((full.data, used[full.indices], full.indptr),
                             shape=(self.n_users_, vectors.shape[1]))
        full.sort_indices()
        return full

    # -- hooks of RecommenderMixin -------------------------------------------
    def _similar_item_scores(self, item_codes):
        return self._formula().similar_item_scores(item_codes)

    def _serving_arrays(self):
        """Profiles and item vectors: the formula of :mod:`sklearn_recs._scoring`
        (``predict``: ``user_mean_ + beta_ * profile @ item + item_bias_``;
        ``recommend`` ranks without the user's constant), also for
        :func:`sklearn_recs.serving.save_npz`."""
        arrays = dict(left=self._P, right=self._V, user_offset=self.user_mean_,
                      scale=self.beta_, similarity_vectors=self._unit_items)
        if self.item_bias_.any():  # ranked by beta_ * score + b_i
            arrays["item_offset"] = self.item_bias_
            if self.beta_ != 1.0:
                arrays.update(left=self._P * self.beta_, scale=1.0)
        return "product", arrays

    def _explain_terms(self, user_codes, item_codes):
        return content_terms(self, user_codes, item_codes)

    def _feature_names(self):
        if self.transformer_ is None:
            return np.array([f"item={item}" for item in self.items_], dtype=object)
        try:
            return np.asarray(self.transformer_.get_feature_names_out(), dtype=object)
        except (AttributeError, ValueError, TypeError):
            return np.array([f"x{j}" for j in range(self.item_vectors_.shape[1])],
                            dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        return _implicit_tags(tags) if self.feedback == "implicit" else tags

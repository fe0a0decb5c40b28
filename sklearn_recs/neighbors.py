"""Memory-based collaborative filtering: item-item and user-user neighbourhoods.

:class:`ItemKNN` and :class:`UserKNN` share one engine, :class:`_BaseKNN`,
which works on "entities" (the rows compared: items for ItemKNN, users for
UserKNN) and "raters" (the other axis). UserKNN is ItemKNN on the
transposed interaction matrix.
"""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._explain import item_item_terms, knn_terms
from ._scoring import FormulaScoring
from .base import _PARTIAL_FIT_DOC, RecommenderMixin, _fit_biases, _implicit_tags
from .utils._docs import IMPLICIT_FITTED_ATTRIBUTES as _FITTED_ATTRIBUTES
from .utils._docs import VOCABULARY_ATTRIBUTES, fill_doc, shared_doc
from .utils._params import store_params
from .utils._similarity import _prune, bm25_weight, pairwise_similarity, tfidf_weight
from .utils._topk import block_size, memory_share

__all__ = ["ItemKNN", "RP3Beta", "UserKNN"]

EXPLICIT_SIMILARITIES = ("cosine", "pearson", "adjusted_cosine", "msd", "pearson_baseline")
IMPLICIT_SIMILARITIES = ("cosine", "dot")

# Kernel of each explicit similarity, and what the ratings are centred on first.
_EXPLICIT_KERNELS = {
    "cosine": ("co_cosine", None),
    "pearson": ("co_cosine", "entity_mean"),
    "adjusted_cosine": ("co_cosine", "rater_mean"),
    "msd": ("msd", None),
    "pearson_baseline": ("co_cosine", "baseline"),
}
# Bytes of the sparse neighbour entries gathered at once when predicting pairs.
_BYTES_PER_NEIGHBOUR = 40


@shared_doc
class _BaseKNN(FormulaScoring, RecommenderMixin, RegressorMixin, BaseEstimator):
    """The neighbourhood engine shared by ItemKNN and UserKNN (see their docs).

    Implicit scores are the "product" formula of :mod:`sklearn_recs._scoring`
    (the estimator and its ``save_npz`` export score through the same
    object); rating predictions select each pair's neighbours, which is
    not a formula, and are computed here.
    """

    # Whether the entities are the users (UserKNN) or the items (ItemKNN).
    _user_based = False

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "min_neighbors": [Interval(Integral, 1, None, closed="left")],
        "similarity": [StrOptions({"auto", *EXPLICIT_SIMILARITIES, *IMPLICIT_SIMILARITIES})],
        "shrinkage": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "min_support": [Interval(Integral, 1, None, closed="left")],
        "amplification": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "centering": [StrOptions({"mean", "baseline"})],
        "feedback": [StrOptions({"auto", "explicit", "implicit"})],
        "weighting": [StrOptions({"auto", "tfidf", "bm25"}), None],
        "bm25_k1": [Interval(Real, 0, None, closed="neither")],
        "bm25_b": [Interval(Real, 0, 1, closed="both")],
        "n_stored_neighbors": [Interval(Integral, 1, None, closed="left"), None],
        "alpha_user": [Interval(Real, 0, None, closed="left")],
        "alpha_item": [Interval(Real, 0, None, closed="left")],
        "damping": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [Integral, None],
    }

    # What the "auto" parameters resolve to for each kind of feedback (see
    # _resolve_auto): the choices of benchmarks/select_defaults.py, its entries
    # "<class>" (ratings) and "<class> (implicit)"; set on each subclass.
    _auto: dict = {}

    def __init__(self, *, n_neighbors="auto", min_neighbors=1, similarity="auto", shrinkage="auto",
                 min_support=1, amplification="auto", centering="baseline", feedback="auto",
                 weighting="auto",
                 bm25_k1=100.0, bm25_b=0.8, n_stored_neighbors=None, alpha_user=5.0, alpha_item=2.0,
                 damping=0.1, n_jobs=None):
        store_params(self, locals())

    # -- fitting ---------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the pruned similarity between the neighbours.

        {fit_X}.
        y : array-like of shape (n_samples,), default=None
            Ratings (explicit feedback) or non-negative weights
            (``feedback="implicit"``); None means implicit feedback with
            every row a positive.

        {fit_returns}
        """
        implicit, similarity = self._check_feedback(y)
        users, items, values = self._fit_interactions(X, y, implicit=implicit)
        return self._fit_pairs(users, items, values, implicit=implicit, similarity=similarity)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        if not hasattr(self, "interactions_"):
            return self.fit(X, y)
        implicit, similarity = self._check_feedback(y)
        if ("implicit" if implicit else "explicit") != self.feedback_:
            fix = ("the ratings as y" if implicit
                   else "y=None (or weights, with feedback='implicit')")
            raise ValueError(
                f"{type(self).__name__}: the model was fit on {self.feedback_} feedback "
                f"but partial_fit got {'no y' if y is None else 'y'}, which means "
                f"{'implicit' if implicit else 'explicit'} feedback. Pass {fix}, "
                "or fit a new model."
            )
        users, items, values = self._partial_fit_interactions(X, y, implicit=implicit)
        return self._fit_pairs(users, items, values, implicit=implicit, similarity=similarity)

    partial_fit.__doc__ = _PARTIAL_FIT_DOC.format(
        aggregation="ratings averaged over every row so far, weights summed",
        how="""The similarities, the baseline and the residuals are those of the
        union. The sufficient statistic is ``interactions_`` (with each
        pair's count, for the running means of ratings): a pruned
        similarity row depends on every similarity of that row, and new
        interactions change the norms (and, for ratings, the bias baseline
        the residuals are taken from) of many rows, so the similarity is
        recomputed from the updated interactions rather than patched. It
        costs about a ``fit`` without the validation and encoding of the
        earlier rows.""",
        more_x="",
        y_doc="""array-like of shape (n_samples,), default=None
            Ratings or weights, of the kind used at fit: a model fit on
            ratings needs ratings (else a ValueError), one fit on implicit
            feedback takes weights or None.""")

    def _check_feedback(self, y):
        """Whether ``y`` makes the feedback implicit, and the similarity to use."""
        implicit = self.feedback == "implicit" or (self.feedback == "auto" and y is None)
        if self.feedback == "explicit" and y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None. "
                "Pass the ratings as y, or set feedback='implicit' to learn from "
                "interactions."
            )
        self._resolve_auto(implicit)
        return implicit, self._check_params(implicit)

    def _resolve_auto(self, implicit):
        """Set ``n_neighbors_``, ``shrinkage_``, ``amplification_`` and ``weighting_``."""
        chosen = self._auto["implicit" if implicit else "explicit"]
        for name, value in chosen.items():
            given = getattr(self, name)
            setattr(self, name + "_", value if given == "auto" else given)

    def _fit_pairs(self, users, items, values, *, implicit, similarity):
        """The model of the aggregated pairs (the part of fit that partial_fit redoes)."""
        self.feedback_ = "implicit" if implicit else "explicit"
        raters, entities = (items, users) if self._user_based else (users, items)
        n_raters, n_entities = ((self.n_items_, self.n_users_) if self._user_based
                                else (self.n_users_, self.n_items_))
        if values is None:
            values = np.ones(len(users))

        def entity_matrix(data):
            return sp.csr_matrix((data, (entities, raters)), shape=(n_entities, n_raters))

        if implicit:
            # Scoring sums the raw weights, interactions_ (raters x entities).
            del users, items, values, raters, entities  # (memory, at scale)
            if self._user_based:
                matrix = self.interactions_
                self._rater_values = matrix.T.tocsr()
            else:
                self._rater_values = self.interactions_
                matrix = self._rater_values.T.tocsr()
            if self.weighting_ == "tfidf":
                matrix = tfidf_weight(matrix)
            elif self.weighting_ == "bm25":
                matrix = bm25_weight(matrix, k1=self.bm25_k1, b=self.bm25_b)
            # (The similarity is float32: drop the float64 copy first.)
            matrix = matrix.astype(np.float32)
            self.similarity_ = self._similarity(matrix, similarity, n_neighbors=self.n_neighbors_)
            self._formula()  # built now: serving never writes to the estimator
            return self

        mu, user_bias, item_bias = _fit_biases(
            users, items, values, self.n_users_, self.n_items_,
            alpha_user=self.alpha_user, alpha_item=self.alpha_item, max_iter=10)
        entity_bias, rater_bias = (user_bias, item_bias) if self._user_based else (item_bias, user_bias)
        baseline = mu + entity_bias[entities] + rater_bias[raters]
        entity_mean = _group_mean(entities, values, n_entities)
        kernel, centre = _EXPLICIT_KERNELS[similarity]
        offsets = {None: 0.0, "entity_mean": entity_mean[entities],
                   "rater_mean": _group_mean(raters, values, n_raters)[raters],
                   "baseline": baseline}
        self.similarity_ = self._similarity(entity_matrix(values - offsets[centre]), kernel,
                                            n_neighbors=self.n_stored_neighbors)
        # Prediction = base(rater, entity) + weighted mean of the neighbours' residuals.
        if self.centering == "mean":
            self._base = (0.0, entity_mean, np.zeros(n_raters))
            residuals = values - entity_mean[entities]
        else:
            self._base = (mu, entity_bias, rater_bias)
            residuals = values - baseline
        # Residuals are stored shifted by a constant so that none is 0 (a stored
        # zero would vanish from the sparse products that select the neighbours).
        self._shift = float(np.abs(residuals).max()) + 1.0
        self._rater_values = sp.csr_matrix((residuals + self._shift, (raters, entities)),
                                           shape=(n_raters, n_entities))
        self._rating_range = (float(values.min()), float(values.max()))
        return self

    def _check_params(self, implicit):
        """Cross-parameter checks; return the similarity name to use."""
        name = type(self).__name__
        if self.min_neighbors > self.n_neighbors_:
            raise ValueError(
                f"{name}: min_neighbors={self.min_neighbors} is larger than n_neighbors={self.n_neighbors_}, so no "
                "prediction could ever use its neighbours. Set min_neighbors <= n_neighbors."
            )
        valid = IMPLICIT_SIMILARITIES if implicit else EXPLICIT_SIMILARITIES
        similarity = self.similarity
        if similarity == "auto":
            similarity = "cosine" if implicit else "pearson_baseline"
        if similarity not in valid:
            if implicit and self.feedback == "auto":
                # y is None: the similarity needs ratings.
                raise ValueError(
                    f"{name}: similarity={similarity!r} compares ratings, so it "
                    "requires y to be passed, but the target y is None. Pass the "
                    "ratings as y, or for implicit feedback choose from "
                    f"{', '.join(map(repr, valid))} (or 'auto')."
                )
            mode = "implicit feedback" if implicit else "ratings"
            raise ValueError(
                f"{name}: similarity={similarity!r} is not available for {mode}; "
                f"choose from {', '.join(map(repr, valid))} (or 'auto')."
            )
        if self.weighting_ is not None and not implicit:
            raise ValueError(
                f"{name}: weighting={self.weighting!r} applies to implicit feedback "
                "only; set weighting=None for ratings, or feedback='implicit'."
            )
        return similarity

    def _similarity(self, matrix, kernel, *, n_neighbors):
        return pairwise_similarity(
            matrix, kernel=kernel, n_neighbors=n_neighbors, shrinkage=self.shrinkage_,
            min_support=self.min_support, amplification=self.amplification_, n_jobs=self.n_jobs)

    # -- scoring -----------------------------------------------------------
    def _orient(self, user_codes, item_codes):
        """(rater codes, entity codes) of (user, item) pairs."""
        return (item_codes, user_codes) if self._user_based else (user_codes, item_codes)

    def _scored_by_formula(self):
        return self.feedback_ == "implicit"

    def _predict_cold(self, user_codes, item_codes):
        if self._scored_by_formula():
            return super()._predict_cold(user_codes, item_codes)
        return RecommenderMixin._predict_cold(self, user_codes, item_codes)

    def _predict_pairs(self, user_codes, item_codes):
        if self._scored_by_formula():
            return super()._predict_pairs(user_codes, item_codes)
        raters, entities = self._orient(np.asarray(user_codes), np.asarray(item_codes))
        y_pred = np.empty(len(raters))
        row_nnz = np.diff(self.similarity_.indptr)[entities]
        budget = max(1, int(memory_share() * 2**20) // _BYTES_PER_NEIGHBOUR)
        bounds = np.searchsorted(np.cumsum(row_nnz), np.arange(budget, row_nnz.sum(), budget))
        for chunk in np.split(np.arange(len(raters)), np.unique(bounds) + 1):
            if chunk.size:
                y_pred[chunk] = self._predict_chunk(raters[chunk], entities[chunk])
        return y_pred

    def _neighbours(self, raters, entities):
        """The n_neighbors most similar neighbours each rater rated, per pair.

        Returns ``(rows, codes, weights, residuals)``, one entry per
        selected neighbour: the pair's position, the neighbour's entity
        code, its similarity and its residual rating.
        """
        # The stored neighbours of each target that the rater rated; the product
        # with the shifted residuals keeps exactly that pattern (both are > 0).
        rated = self._rater_values[raters]
        neighbours = self.similarity_[entities]
        sims = neighbours.multiply(rated.astype(bool)).tocsr()
        shifted = rated.multiply(sims.astype(bool)).tocsr()
        sims.sort_indices()
        shifted.sort_indices()
        rows = np.repeat(np.arange(len(raters)), np.diff(sims.indptr))
        weights = sims.data.astype(np.float64)
        keep = _top_per_row(rows, weights, self.n_neighbors_)
        return rows[keep], sims.indices[keep], weights[keep], shifted.data[keep] - self._shift

    def _predict_chunk(self, raters, entities):
        """Weighted mean over the n_neighbors most similar neighbours each rater rated."""
        rows, _, weights, residuals = self._neighbours(raters, entities)
        n = len(raters)
        count = np.bincount(rows, minlength=n)
        total = np.bincount(rows, weights, minlength=n)
        weighted = np.bincount(rows, weights * residuals, minlength=n)
        mean, entity_part, rater_part = self._base
        y_pred = mean + entity_part[entities] + rater_part[raters]
        enough = count >= self.min_neighbors
        y_pred[enough] += weighted[enough] / (total[enough] + self.damping)
        return np.clip(y_pred, *self._rating_range)

    def _score_users(self, user_codes, item_codes):
        if self._scored_by_formula():
            return super()._score_users(user_codes, item_codes)
        if np.diff(self.similarity_.indptr).max(initial=0) <= self.n_neighbors_:
            # Every stored neighbour that a rater rated is used.
            scores = self._catalogue_predictions(user_codes)
            return scores if item_codes is None else scores[:, item_codes]
        items = np.arange(self.n_items_) if item_codes is None else item_codes
        users = np.repeat(user_codes, len(items))
        return self._predict_pairs(users, np.tile(items, len(user_codes))).reshape(
            len(user_codes), len(items))

    def _catalogue_predictions(self, user_codes):
        """Rating predictions for every item, by sparse products.

        Valid when no entity stores more than ``n_neighbors`` neighbours: the
        neighbours of a pair are then all its stored neighbours that were
        rated, and the weighted mean's sums are products of the similarity
        with the residuals and with the pattern of the ratings.
        """
        # Shifted residuals of the raters x entities: of the users' rows
        # (ItemKNN) or of all users (UserKNN).
        shifted = self._rater_values if self._user_based else self._rater_values[user_codes]
        residuals = shifted.copy()
        residuals.data -= self._shift
        rated = shifted.copy()
        rated.data[:] = 1.0
        linked = self.similarity_.copy()
        linked.data[:] = 1.0
        if self._user_based:
            # Users are the entities: S[users] @ (users x items).
            sims = self.similarity_[user_codes]
            parts = (sims @ residuals.T, sims @ rated.T, linked[user_codes] @ rated.T)
        else:
            # Items are the entities: (users x items) @ S.T.
            parts = (residuals @ self.similarity_.T, rated @ self.similarity_.T,
                     rated @ linked.T)
        weighted, total, count = (part.toarray() for part in parts)
        mean, entity_part, rater_part = self._base
        if self._user_based:
            scores = mean + entity_part[user_codes][:, None] + rater_part[None, :]
        else:
            scores = mean + entity_part[None, :] + rater_part[user_codes][:, None]
        enough = count >= self.min_neighbors
        scores[enough] += weighted[enough] / (total[enough] + self.damping)
        return np.clip(scores, *self._rating_range)

    @available_if(lambda self: self.feedback_ == "implicit")
    def _score_factors(self, user_codes):
        """Implicit scores as a sparse product (see ``RecommenderMixin``)."""
        return self._formula().score_factors(user_codes)

    def _similar_entity_scores(self, codes):
        return self.similarity_[codes].toarray()

    def _explain_terms(self, user_codes, item_codes):
        return knn_terms(self, user_codes, item_codes)

    def _serving_arrays(self):
        """The implicit scores' sparse factors: the formula that scores them (and ``save_npz``)."""
        if self.feedback_ != "implicit":
            raise TypeError(
                f"save_npz: {type(self).__name__} fit on ratings does not support the "
                ".npz export: each prediction selects the pair's n_neighbors most similar rated "
                "neighbours, which is not a formula of stored arrays. Export a model "
                "fit with feedback='implicit', or persist this one with joblib.dump "
                "(and load it only from sources you trust)."
            )
        if self._user_based:
            return "product", dict(left=self.similarity_, right=self._rater_values,
                                   factor_path=True)
        return "product", dict(left=self._rater_values, right=self.similarity_,
                               factor_path=True, similar="right_rows")

    # -- tags ------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        return _implicit_tags(tags) if self.feedback == "implicit" else tags


def _group_mean(codes, values, n):
    """Mean of ``values`` per code (0 for a code without values)."""
    return np.bincount(codes, values, minlength=n) / np.maximum(np.bincount(codes, minlength=n), 1)


def _top_per_row(rows, values, k):
    """Mask of each row's ``n_neighbors`` largest values (ties: the earlier entry).

    ``rows`` is sorted and ``values`` lie in (0, 1].
    """
    counts = np.bincount(rows) if rows.size else np.zeros(0, dtype=np.intp)
    long = counts > k
    if not long.any():
        return np.ones(len(rows), dtype=bool)
    keep = ~long[rows]
    idx = np.flatnonzero(~keep)
    # One stable sort by row, then by decreasing value (values in (0, 1]).
    order = idx[np.argsort(rows[idx] + (1.0 - values[idx]) / 2, kind="stable")]
    starts = np.concatenate([[0], np.cumsum(counts[long])[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, counts[long])
    keep[order[rank < k]] = True
    return keep


_PARAMETERS = """
    Parameters
    ----------
    n_neighbors : int or "auto", default="auto"
        Neighbours per prediction. For ratings: the ``n_neighbors`` {entities} most
        similar to the target {entity} among those that rated it. For
        implicit feedback: each {entity}'s ``n_neighbors`` most similar {entities}
        are kept at fit (the implicit library's ``K``), and scoring sums
        over them. "auto" is {auto_n_neighbors} (see Notes).
    min_neighbors : int, default=1
        Ratings only: with fewer than ``min_neighbors`` neighbours, the prediction
        falls back to the baseline of ``centering`` (the {entity}'s mean
        rating, or ``mu + b_u + b_i``). Must be ``<= n_neighbors``.
    similarity : {{"auto", "cosine", "pearson", "adjusted_cosine", "msd", \
"pearson_baseline", "dot"}}, default="auto"
        How two {entities} are compared. For ratings (over the {raters}
        that rated both, the co-raters):

        - "cosine": cosine of the raw ratings;
        - "pearson": cosine of the ratings centred on each {entity}'s mean;
        - "adjusted_cosine": cosine of the ratings centred on each
          {rater}'s mean;
        - "msd": ``1 / (1 + msd)``, ``msd`` the mean squared difference;
        - "pearson_baseline": cosine of the residuals of the bias
          baseline ``r - mu - b_u - b_i`` (the default, "auto").

        For implicit feedback, over whole (weighted) vectors: "cosine"
        (the default, "auto") or "dot", the plain inner product
        (with ``weighting="bm25"``, implicit's ``BM25Recommender``).
        Norms of the co-rated similarities are taken over the co-raters
        only, as in Surprise.
    shrinkage : float or "auto", default="auto"
        Significance shrinkage: ``sim * n_common / (n_common + shrinkage)``,
        ``n_common`` the number of co-raters. 0 disables it. "auto" is
        {auto_shrinkage}: on ratings a similarity from two or three co-raters
        would otherwise count as much as one from hundreds, while the
        implicit ranking is best without shrinkage (see Notes).
    min_support : int, default=1
        {Entities} with fewer co-raters get no similarity.
    amplification : float or "auto", default="auto"
        Exponent applied to the similarities (case amplification: > 1
        favours the closest neighbours). "auto" is {auto_amplification}.
    centering : {{"mean", "baseline"}}, default="baseline"
        Ratings only: the prediction is ``base + sum_j s_j z_j / sum_j s_j``
        over the neighbours ``j``, with ``z`` the ratings centred the same
        way. "mean": ``base`` is the {entity}'s mean rating
        (Surprise's KNNWithMeans); "baseline": ``mu + b_u + b_i``
        (KNNBaseline).
    feedback : {{"auto", "explicit", "implicit"}}, default="auto"
        "explicit": ``y`` holds ratings; "implicit": ``y`` holds
        non-negative weights or is None; "auto": explicit when ``y`` is
        given, implicit when it is None.
    weighting : {{"auto", "tfidf", "bm25"}} or None, default="auto"
        Implicit feedback only: weights applied to the interactions before
        the similarity is computed (as in the implicit library, with the
        {entities} as the documents); None uses them as they are. "auto" is
        {auto_weighting} (ratings must use None or "auto").
    bm25_k1 : float, default=100.0
        BM25 saturation (``weighting="bm25"``).
    bm25_b : float, default=0.8
        BM25 length normalisation (``weighting="bm25"``), in [0, 1].
    n_stored_neighbors : int, default=None
        Ratings only: similarities kept per {entity} at fit (its top ones),
        which bounds memory at ``O(n_{entities} * n_stored_neighbors)``; None
        keeps every positive similarity. Implicit feedback keeps ``n_neighbors``.
    alpha_user : float, default=5.0
        Regularisation of the user biases of the baseline.
    alpha_item : float, default=2.0
        Regularisation of the item biases of the baseline.
    damping : float, default=0.1
        Ratings only: added to the sum of the similarities that divides the
        weighted mean, ``base + sum_j s_j z_j / (damping + sum_j s_j)``,
        which shrinks a prediction from few or weak neighbours toward
        ``base``. 0 disables it. Chosen with the rating values of
        ``shrinkage`` and ``amplification`` (see Notes).
    n_jobs : int, default=None
        Threads computing the similarity at fit (each holds one block of
        ``working_memory``) and ranking implicit ``recommend`` lists (the
        threads share ``working_memory``). None means 1, -1 all processors.
        Results do not depend on it.
"""

_ATTRIBUTES = """
    Attributes
    ----------
    similarity_ : scipy.sparse.csr_matrix of shape (n_{entities}_, n_{entities}_)
        The pruned {entity}-{entity} similarity (float32), rows and columns
        in the order of ``{entities}_``. Only positive similarities are
        stored (negative correlations are dropped); the diagonal is empty.
    feedback_ : {{"explicit", "implicit"}}
        The kind of feedback learned from (see ``feedback``).
    n_neighbors_ : int
        The ``n_neighbors`` used: the parameter, or what "auto" resolved to
        for ``feedback_``. Likewise ``shrinkage_`` (float),
        ``amplification_`` (float) and ``weighting_`` (str or None).
    {vocabulary_attributes}
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        The training ratings or weights.
    n_features_in_ : int
        Number of columns of ``X`` at fit.
"""

_NOTES = """
    Notes
    -----
    The defaults depend on the feedback, as the two tasks want different
    similarities: each "auto" parameter resolves at fit to the best of a
    validation grid of ``benchmarks/select_defaults.py`` (recorded in
    ``benchmarks/results/defaults.json``; no test fold is used). For
    ratings, ``shrinkage``, ``amplification`` and ``damping`` come from the
    entry "{Name}", RMSE on a split of ml-100k's ``u1.base``
    (``n_neighbors=40`` is Surprise's ``k``); for implicit feedback,
    ``weighting``, ``n_neighbors``, ``shrinkage`` and ``amplification``
    come from "{Name} (implicit)", NDCG@10 on a split of the training
    part of a per-user 80/20 split. A value passed explicitly is used for
    either kind.

    Similarities are computed block by block of {entities} with sparse (or,
    for small data, BLAS) products in float32, and each block is pruned to
    its rows' top neighbours before the next is computed: memory is
    ``O(n_{entities} * n_neighbors)`` plus one block of scikit-learn's
    ``working_memory``, never a dense ``n_{entities} x n_{entities}``
    matrix. Predictions for many pairs are vectorised (sparse products
    select each pair's rated neighbours).

    Undefined similarities are 0, so those {entities} are never neighbours:
    pearson for an {entity} with a single rating or constant ratings (zero
    variance), any similarity without co-raters. A pair without enough
    neighbours (``min_neighbors``) gets the baseline of ``centering``; predictions
    are clipped to the training rating range. Unknown users or items get
    the package's fallback (see :class:`~sklearn_recs.base.RecommenderMixin`).

    For ratings, ``recommend`` predicts every candidate rating. With
    ``n_stored_neighbors <= n_neighbors`` that is a few sparse products per block of
    users; otherwise it costs a neighbour selection per candidate. For
    top-N ranking, implicit feedback (``y=None``) is both faster and
    usually better; there the scores are a sparse product, which
    ``recommend`` ranks without making it dense.
"""


class ItemKNN(_BaseKNN):
    _user_based = False
    _auto = {
        "explicit": dict(n_neighbors=40, shrinkage=200.0, amplification=1.3, weighting=None),
        "implicit": dict(n_neighbors=200, shrinkage=0.0, amplification=1.0, weighting="bm25"),
    }

    def _similar_item_scores(self, item_codes):
        return self._similar_entity_scores(item_codes)


class UserKNN(_BaseKNN):
    _user_based = True
    _auto = {
        "explicit": dict(n_neighbors=40, shrinkage=200.0, amplification=1.3, weighting=None),
        "implicit": dict(n_neighbors=200, shrinkage=0.0, amplification=1.0, weighting="bm25"),
    }

    def similar_users(self, users, top_n=10, *, return_scores=False):
        """Return the users most similar to each given user, best first.

        Parameters
        ----------
        users : array-like of shape (n_queries,)
            User ids known at fit.
        top_n : int, default=10
            Length of each list (capped at ``n_users_ - 1``); the query user
            is never in their list.
        return_scores : bool, default=False
            Whether to also return the similarities.

        Returns
        -------
        similar : ndarray of shape (n_queries, min(top_n, n_users_ - 1))
            User ids, most similar first.
        scores : ndarray of shape (n_queries, min(top_n, n_users_ - 1))
            Only with ``return_scores=True``.
        """
        check_is_fitted(self)
        return self._most_similar(self._encode_users(users, unknown="error"), top_n,
                                  self.users_, "user", self._similar_entity_scores,
                                  return_scores)


def _auto_doc(cls):
    """``auto_<name>``: what each "auto" parameter of ``cls`` resolves to, for its docs."""
    explicit, implicit = cls._auto["explicit"], cls._auto["implicit"]
    return {f"auto_{name}": f"``{explicit[name]!r}`` for ratings and ``{implicit[name]!r}`` "
                            "for implicit feedback" for name in explicit}


_SUBSTITUTIONS = {
    ItemKNN: dict(entity="item", entities="items", Entities="Items", rater="user",
                  raters="users", Name="ItemKNN", vocabulary_attributes=VOCABULARY_ATTRIBUTES,
                  **_auto_doc(ItemKNN)),
    UserKNN: dict(entity="user", entities="users", Entities="Users", rater="item",
                  raters="items", Name="UserKNN", vocabulary_attributes=VOCABULARY_ATTRIBUTES,
                  **_auto_doc(UserKNN)),
}

ItemKNN.__doc__ = """Item-based k-nearest-neighbours collaborative filtering.

    For ratings, the prediction for user ``u`` and item ``i`` is a weighted
    mean over the ``n_neighbors`` items most similar to ``i`` that ``u`` rated, of
    their centred ratings (Surprise's KNNWithMeans / KNNBaseline, LensKit's
    item-item). For implicit feedback, the score sums the similarities of
    ``i``'s ``n_neighbors`` nearest items that ``u`` interacted with (weighted by the
    interaction weights), as the implicit library's ItemItemRecommender.
""" + _PARAMETERS.format(**_SUBSTITUTIONS[ItemKNN]) + _ATTRIBUTES.format(
    **_SUBSTITUTIONS[ItemKNN]) + """
    See Also
    --------
    UserKNN : The same on users.
    sklearn_recs.baselines.BiasBaseline : The baseline the residuals are taken from.
""" + _NOTES.format(**_SUBSTITUTIONS[ItemKNN]) + """
    References
    ----------
    .. [1] B. Sarwar, G. Karypis, J. Konstan and J. Riedl, "Item-based
       collaborative filtering recommendation algorithms", WWW 2001.
    .. [2] Y. Koren, "Factor in the neighbors: scalable and accurate
       collaborative filtering", ACM TKDD 4(1), 2010.

    Examples
    --------
    >>> from sklearn_recs.neighbors import ItemKNN
    >>> from sklearn_recs.utils._testing import checkerboard, tiny_ratings
    >>> X, y = tiny_ratings()
    >>> model = ItemKNN(n_neighbors=10, shrinkage=10).fit(X, y)
    >>> model.predict(X[:3]).round(2)
    array([3.  , 3.22, 3.26])
    >>> model.similar_items([0], top_n=3)
    array([[11, 19, 16]])

    Implicit feedback (``y=None``): on a checkerboard, the items of a
    user's own parity score highest.

    >>> implicit = ItemKNN(n_neighbors=5).fit(checkerboard(10, 10))
    >>> implicit.recommend([0, 1], top_n=3, exclude_seen=False)
    array([[0, 2, 4],
           [1, 3, 5]])
"""

UserKNN.__doc__ = """User-based k-nearest-neighbours collaborative filtering.

    For ratings, the prediction for user ``u`` and item ``i`` is a weighted
    mean over the ``n_neighbors`` users most similar to ``u`` who rated ``i``, of
    their centred ratings (Surprise's KNNWithMeans / KNNBaseline with
    ``user_based=True``, LensKit's user-user). For implicit feedback, the
    score sums the interaction weights on ``i`` of ``u``'s ``n_neighbors`` nearest
    users, weighted by their similarity. It is :class:`ItemKNN` on the
    transposed interaction matrix.
""" + _PARAMETERS.format(**_SUBSTITUTIONS[UserKNN]) + _ATTRIBUTES.format(
    **_SUBSTITUTIONS[UserKNN]) + """
    See Also
    --------
    ItemKNN : The same on items; usually more accurate and faster.
""" + _NOTES.format(**_SUBSTITUTIONS[UserKNN]) + """
    References
    ----------
    .. [1] J. Herlocker, J. Konstan, A. Borchers and J. Riedl, "An
       algorithmic framework for performing collaborative filtering",
       SIGIR 1999.

    Examples
    --------
    >>> from sklearn_recs.neighbors import UserKNN
    >>> from sklearn_recs.utils._testing import tiny_ratings
    >>> X, y = tiny_ratings()
    >>> model = UserKNN(n_neighbors=10, centering="mean", similarity="pearson").fit(X, y)
    >>> model.predict(X[:3]).round(2)
    array([3.01, 3.45, 3.17])
    >>> model.similar_users(["u00"], top_n=2)
    array([['u01', 'u21']], dtype=object)
"""


def _walk_counts(weights, exponent):
    """``(W^e)^T diag(d_u^-e) W^e``: the user step of the walk, summed over the users.

    ``W^e`` is the element-wise power of the weights and ``d_u`` each
    user's total weight. Entry ``(i, j)`` is the walk item ``i -> user ->
    item j`` before the item normalisations, which ``RP3Beta`` applies at
    the end, so that this sum over users can be updated user by user.
    """
    powered = weights.power(exponent)
    totals = np.asarray(weights.sum(axis=1)).ravel()
    scale = np.power(totals, -exponent, out=np.zeros_like(totals), where=totals > 0)
    return (powered.T @ sp.diags(scale) @ powered).tocsr()


@shared_doc
class RP3Beta(FormulaScoring, RecommenderMixin, BaseEstimator):
    """Item-item random walk of three steps with a popularity penalty (RP3beta).

    A walk goes from an item to a user who interacted with it and on to
    another item of that user, each step chosen in proportion to the
    interaction weights; both transition probabilities are raised to the
    power ``exponent``, and the arrival item ``j`` is divided by its
    popularity to the power ``beta`` (Paudel et al. 2017)::

        sim(i, j) = sum_u (r_ui / deg_i)^e (r_uj / d_u)^e / deg_j^beta

    with ``deg_i`` the total weight of item ``i`` and ``d_u`` that of user
    ``u``. Each item keeps its ``n_neighbors`` largest similarities (no
    item is its own neighbour), and a user's score for item ``j`` is
    ``sum_i r_ui sim(i, j)`` over the items ``i`` the user interacted with.

    Parameters
    ----------
    exponent : float, default=1.0
        Power ``e`` (> 0) of the transition probabilities; below 1 flattens
        them, above 1 sharpens them.
    beta : float, default=0.6
        Popularity penalty (>= 0): 0 is the plain walk (P3), larger values
        favour rarer items.
    n_neighbors : int, default=400
        Similarities kept per item (the top-k of its row).
    normalize : bool, default=True
        Whether to divide each item's kept similarities by their sum (after
        the top-k), so that every item's row sums to 1.

    Attributes
    ----------
    similarity_ : scipy.sparse.csr_matrix of shape (n_items_, n_items_)
        ``sim(i, j)``, each row's ``n_neighbors`` largest positive entries,
        zero diagonal, in the order of ``items_``.
    {fitted_attributes}

    See Also
    --------
    ItemKNN : Item-item similarities (cosine, dot) without the walk.

    Notes
    -----
    The model keeps the walk before the item normalisations and the top-k,
    ``(R^e)^T diag(d_u^-e) R^e`` (sparse, one entry per co-occurring pair
    of items), so that :meth:`partial_fit` is exact: it replaces the terms
    of the users who got new interactions and recomputes the top-k.

    References
    ----------
    .. [1] B. Paudel, F. Christoffel, C. Newell and A. Bernstein, "Updatable,
       accurate, diverse, and scalable recommendations for interactive
       applications", ACM TiiS 2017.

    Examples
    --------
    >>> from sklearn_recs.neighbors import RP3Beta
    >>> from sklearn_recs.utils._testing import checkerboard
    >>> model = RP3Beta(n_neighbors=3, normalize=False).fit(checkerboard(10, 10))
    >>> model.similarity_.getnnz(axis=1).tolist()
    [3, 3, 3, 3, 3, 3, 3, 3, 3, 3]
    >>> model.predict([[0, 2], [0, 3]]).round(3)
    array([0.076, 0.   ])
    """

    _parameter_constraints: dict = {
        "exponent": [Interval(Real, 0, None, closed="neither")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "normalize": ["boolean"],
    }

    def __init__(self, *, exponent=1.0, beta=0.6, n_neighbors=400, normalize=True):
        store_params(self, locals())

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the walk's item-item similarities.

        {fit_X}.
        y : array-like of shape (n_samples,), default=None
            Non-negative interaction weights; None means every row weighs 1.

        {fit_returns}
        """
        self._fit_interactions(X, y, implicit=True)
        self._walk = _walk_counts(self.interactions_, self.exponent)
        self.similarity_ = self._similarity()
        self._formula()  # built now: serving never writes to the estimator
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Add interactions to the fitted model, exactly.

        ``fit(A)`` then ``partial_fit(B)`` gives the model of ``fit`` on
        the rows of ``A`` and ``B`` together (to rounding): ``B`` may hold
        new interactions of known users, new users and new items, and
        repeated pairs add their weights. Only the walk terms of the users
        in ``B`` are recomputed; the top-k of every item is taken again.

        {partial_fit_implicit}
        """
        if not hasattr(self, "interactions_"):
            return self.fit(X, y)
        previous_items = self.items_
        old, added = self._add_interactions(X, y)
        item_map = self._item_index.get_indexer(previous_items)
        walk = self._walk.tocoo()
        touched = np.unique(added.tocoo().row)
        self._walk = (sp.csr_matrix((walk.data, (item_map[walk.row], item_map[walk.col])),
                                    shape=(self.n_items_, self.n_items_))
                      - _walk_counts(old[touched], self.exponent)
                      + _walk_counts(self.interactions_[touched], self.exponent))
        self.similarity_ = self._similarity()
        self._formula()
        return self

    def _similarity(self):
        """Each item's ``n_neighbors`` largest ``sim(i, j)``, from the stored walk."""
        n_items = self.n_items_
        degree = np.asarray(self.interactions_.sum(axis=0)).ravel()
        start_scale = np.power(degree, -self.exponent, out=np.zeros_like(degree),
                               where=degree > 0)
        end_scale = np.power(degree, -self.beta, out=np.zeros_like(degree), where=degree > 0)
        keep = min(self.n_neighbors, n_items)
        parts = []
        step = block_size(n_items)
        for begin in range(0, n_items, step):
            rows = np.arange(begin, min(begin + step, n_items))
            block = self._walk[rows].toarray()
            block *= start_scale[rows, None]
            block *= end_scale[None, :]
            block[np.arange(len(rows)), rows] = 0.0
            parts.append(_prune(block, keep, begin))
        rows, cols, values = (np.concatenate(p) for p in zip(*parts))
        if self.normalize:
            values = values / np.bincount(rows, values, minlength=n_items)[rows]
        return sp.csr_matrix((values, (rows, cols)), shape=(n_items, n_items))

    # -- scoring (the "product" formula of sklearn_recs._scoring) -------------
    def _score_factors(self, user_codes):
        """Scores as the sparse product ``r_u @ similarity_`` (see ``RecommenderMixin``)."""
        return self._formula().score_factors(user_codes)

    def _similar_item_scores(self, item_codes):
        return self._formula().similar_item_scores(item_codes)

    def _explain_terms(self, user_codes, item_codes):
        return item_item_terms(self, user_codes, item_codes)

    def _serving_arrays(self):
        """The sparse factors of the scores: the formula that scores them (and ``save_npz``)."""
        return "product", dict(left=self.interactions_, right=self.similarity_.T.tocsr(),
                               factor_path=True, similar="right_columns")

    def __sklearn_tags__(self):
        return _implicit_tags(super().__sklearn_tags__())


fill_doc(RP3Beta, fitted_attributes=_FITTED_ATTRIBUTES)

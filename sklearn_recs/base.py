"""The recommender mixin shared by every estimator of the package.

:class:`RecommenderMixin` learns the id vocabularies at ``fit``, keeps the
training interactions as a CSR matrix, and implements ``predict``,
``recommend`` and ``similar_items`` once, batched and vectorised. A model
provides the hooks the mixin declares (see its Notes): one is required
(``_score_users``), the others have defaults or make a feature available.
The user guide's "Write your own recommender" page builds one.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import RegressorMixin
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from .exceptions import ColdStartWarning, DataWarning
from .metrics._scorer import make_ranking_scorer
from .utils._sparse_topk import rows_of, topk_sparse_product
from .utils._stack import user_stacklevel
from .utils._topk import block_size, shared_working_memory, topk, topk_shared
from .utils.validation import (_as_2d, _check_bool, _is_per_user_exclude, check_ids,
                               check_interactions, check_k, warn_if_ratings)

__all__ = ["RecommenderMixin"]

# Damping of the fallback baseline (Koren's classic defaults).
_FALLBACK_ALPHA_USER = 15.0
_FALLBACK_ALPHA_ITEM = 10.0


def _fit_biases(user_codes, item_codes, ratings, n_users, n_items, *,
               alpha_user, alpha_item, max_iter):
    """Fit regularised user and item biases by alternating least squares.

    Minimises ``sum (r - mu - b_u - b_i)^2 + alpha_user * sum b_u^2 +
    alpha_item * sum b_i^2`` with ``mu`` the global mean, alternating the
    closed-form updates ``b_i = sum_u (r - mu - b_u) / (alpha_item + n_i)``
    and ``b_u = sum_i (r - mu - b_i) / (alpha_user + n_u)``.

    Parameters
    ----------
    user_codes, item_codes : ndarray of shape (n,)
        Codes of the (unique) rated pairs.
    ratings : ndarray of shape (n,)
        The ratings.
    n_users, n_items : int
        Vocabulary sizes.
    alpha_user, alpha_item : float
        Regularisation of the user and item biases.
    max_iter : int
        Alternating sweeps.

    Returns
    -------
    global_mean : float
        Mean rating.
    user_bias : ndarray of shape (n_users,)
        User biases.
    item_bias : ndarray of shape (n_items,)
        Item biases.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.base import _fit_biases
    >>> mu, bu, bi = _fit_biases(np.array([0, 0, 1]), np.array([0, 1, 0]),
    ...                         np.array([5.0, 3.0, 4.0]), 2, 2,
    ...                          alpha_user=0.0, alpha_item=0.0, max_iter=20)
    >>> round(mu, 3), round(float(mu + bu[0] + bi[1]), 3)
    (4.0, 3.0)
    """
    mu = float(ratings.mean())
    resid = ratings - mu
    n_u = np.bincount(user_codes, minlength=n_users)
    n_i = np.bincount(item_codes, minlength=n_items)
    user_bias = np.zeros(n_users)
    item_bias = np.zeros(n_items)
    for _ in range(max_iter):
        item_bias = np.bincount(item_codes, resid - user_bias[user_codes],
                                minlength=n_items) / np.maximum(alpha_item + n_i, 1e-12)
        user_bias = np.bincount(user_codes, resid - item_bias[item_codes],
                                minlength=n_users) / np.maximum(alpha_user + n_u, 1e-12)
    return mu, user_bias, item_bias


def _extend_vocabulary(vocabulary, ids):
    """The sorted union of a vocabulary and ``ids``, and where the old ids moved.

    The encoding of ``fit`` (``pd.factorize(..., sort=True)``) applied to
    the ids seen so far plus new ones: ``partial_fit`` grows ``users_`` and
    ``items_`` with it and re-indexes what it keeps per user or item.

    Parameters
    ----------
    vocabulary : array-like of shape (n,)
        Sorted, unique ids (``users_`` or ``items_``).
    ids : array-like of shape (m,)
        Validated ids (:func:`~sklearn_recs.utils.validation.check_ids`),
        new or not, duplicates allowed.

    Returns
    -------
    union : ndarray of shape (n_union,)
        The sorted unique ids of both.
    moved : ndarray of shape (n,)
        ``union[moved[code]] == vocabulary[code]``: the new code of each old one.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.base import _extend_vocabulary
    >>> union, moved = _extend_vocabulary(np.array([10, 30]), np.array([20, 30, 40]))
    >>> union, moved
    (array([10, 20, 30, 40]), array([0, 2]))
    """
    union = pd.Index(vocabulary).union(pd.Index(pd.unique(ids)))
    return np.asarray(union), union.get_indexer(vocabulary)


_PARTIAL_FIT_DOC = """Add interactions to the model: the result equals ``fit`` on all the data.

        After ``fit(X_a, y_a)`` then ``partial_fit(X_b, y_b)``, the model is
        the one ``fit`` learns from the rows of both, to floating-point
        rounding: new users and items join ``users_`` and ``items_`` (sorted,
        as ``fit`` encodes them), and a pair seen before is aggregated as
        ``fit`` aggregates duplicates ({aggregation}). The first call on an
        unfitted model is ``fit``.

        {how}

        Parameters
        ----------
        X : array-like of shape (n_samples, n_columns >= 2)
            New interactions: column 0 holds user ids, column 1 item ids,
            known or new.{more_x}
        y : {y_doc}

        Returns
        -------
        self : object
            The updated estimator.
        """


def _implicit_tags(tags):
    """Tags of a model whose scores are relevance, not ratings: not a
    regressor, and ``y`` (implicit weights) optional."""
    tags.estimator_type = None
    tags.regressor_tags = None
    tags.target_tags.required = False
    return tags


def _predicts_ratings(estimator) -> bool:
    """Whether ``estimator`` predicts ratings (explicit feedback), not relevance.

    A model with a fitted ``feedback_`` says so there (``"explicit"``: a
    ``feedback="auto"`` model fitted on ratings); any other is a rating
    model when its tags make it a regressor (``RegressorMixin`` and an
    explicit ``feedback``).

    Examples
    --------
    >>> from sklearn_recs.base import _predicts_ratings
    >>> from sklearn_recs.baselines import BiasBaseline, Popularity
    >>> _predicts_ratings(BiasBaseline()), _predicts_ratings(Popularity())
    (True, False)
    """
    feedback = getattr(estimator, "feedback_", None)
    if feedback is not None:
        return feedback == "explicit"
    return get_tags(estimator).estimator_type == "regressor"


# The default score of implicit-feedback models (RecommenderMixin.score).
_DEFAULT_RANKING_SCORER = make_ranking_scorer("ndcg", k=10)


def _has_item_similarity(estimator) -> bool:
    return estimator._provided("_similar_item_scores") is not None


def _has_explanation(estimator) -> bool:
    return estimator._provided("_explain_terms") is not None


class RecommenderMixin:
    """Mixin class for all recommenders of sklearn_recs.

    It provides the data contract shared by every estimator: ``fit``
    learns the id vocabularies ``users_`` and ``items_`` (sorted, like
    ``classes_``) and the training interactions ``interactions_``; then
    ``predict``, ``recommend`` and (for models with item vectors or an item
    similarity) ``similar_items`` work the same way for every model.

    Duplicate ``(user, item)`` rows are aggregated at fit: explicit ratings
    are averaged, implicit weights summed; a :class:`DataWarning` gives the
    count.

    Unknown users and items are never an error and never NaN:

    - ``predict`` scores a pair with an unknown user or item by the fallback
      baseline: for rating models ``mu + b_u + b_i``, a damped bias baseline
      (user and item terms only where known); for implicit models the item's
      popularity (0 for an unknown item). A :class:`ColdStartWarning` gives
      the count.
    - ``recommend`` ranks items for an unknown user by popularity (number of
      training interactions), with a :class:`ColdStartWarning`.

    Notes
    -----
    An estimator's ``fit`` calls ``self._fit_interactions(X, y,
    implicit=...)``, which validates the data and sets the vocabularies and
    ``interactions_``, then learns its model. Users and items are then
    *codes*: positions in ``users_`` and ``items_``. The hooks, all private
    and declared here with their default:

    - ``_score_users(user_codes, item_codes)`` (required): an array of shape
      ``(len(user_codes), n_candidates)`` of scores, higher is better;
      ``item_codes=None`` means the whole catalogue. ``recommend`` ranks
      these scores in blocks sized by scikit-learn's ``working_memory``.
    - ``_predict_pairs(user_codes, item_codes)``: the scores of known
      ``(user, item)`` pairs, for ``predict``. Default: read from
      ``_score_users``, a block of users at a time; a model that scores a
      pair more cheaply overrides it.
    - ``_predict_cold(user_codes, item_codes)``: the score of pairs with an
      unknown user or item (code -1). Default: the fallback baseline above.
    - ``_similar_item_scores(item_codes)`` (optional, default None): an array
      of shape ``(len(item_codes), n_items_)`` of item-item similarities;
      providing it makes ``similar_items`` available.
    - ``_score_factors(user_codes)`` (optional, default None): two sparse
      matrices whose product is the users' full-catalogue scores (unstored
      scores 0). ``recommend`` over the whole catalogue then ranks the
      stored scores only
      (:func:`~sklearn_recs.utils._sparse_topk.topk_sparse_product`), with
      the same result as ranking ``_score_users``.
    - ``_shared_item_scores()``: an array of shape ``(n_items_,)`` when every
      known user has the same scores (global popularity), else None (the
      default). ``recommend`` then orders the catalogue once and walks it
      past each user's seen items, with the same result as ranking
      ``_score_users``.
    - ``_retrieve(user_codes, width, excluded, exact, n_jobs)`` (optional,
      default None): the users' top ``width`` item codes and scores over the
      whole catalogue by an approximate index, never an item of their row
      of ``excluded``; ``exact(codes, excluded)`` ranks exactly the users
      the index leaves to it. ``recommend`` over the whole catalogue then
      uses it (``retrieval="hnsw"``, :mod:`sklearn_recs._retrieval`).
    - ``_serving_arrays()`` (optional, default None): ``(kind, arrays)``,
      the model's scores as one of the formulas of
      :mod:`sklearn_recs.serving`, for :func:`~sklearn_recs.serving.save_npz`.
    - ``_explain_terms(user_codes, item_codes)`` (optional, default None):
      the terms of each known pair's score, as a
      :class:`sklearn_recs._explain.Explanation` (built by the per-family
      functions of :mod:`sklearn_recs._explain`); providing it makes
      ``explain`` available. Its rows marked exact must sum to
      ``_predict_pairs``.

    An optional hook may also be made conditional with
    :func:`sklearn.utils.metaestimators.available_if`; :meth:`_provided`
    reads it either way.

    Examples
    --------
    A complete recommender: items ranked by how many users interacted with
    them.

    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from sklearn_recs.base import RecommenderMixin
    >>> class MostInteracted(RecommenderMixin, BaseEstimator):
    ...     def fit(self, X, y=None):
    ...         self._fit_interactions(X, y, implicit=True)
    ...         self.counts_ = np.asarray((self.interactions_ > 0).sum(axis=0)).ravel()
    ...         return self
    ...
    ...     def _score_users(self, user_codes, item_codes):
    ...         counts = self.counts_ if item_codes is None else self.counts_[item_codes]
    ...         return np.tile(counts.astype(float), (len(user_codes), 1))
    >>> model = MostInteracted().fit([["a", "x"], ["b", "x"], ["b", "y"]])
    >>> model.recommend(["a", "b"], top_n=1, exclude_seen=False)
    array([['x'],
           ['x']], dtype=object)
    >>> model.predict([["a", "y"]])
    array([1.])
    """

    # -- hooks (see the class docstring) ------------------------------------
    _similar_item_scores = None
    _score_factors = None
    _retrieve = None
    _serving_arrays = None
    _explain_terms = None

    def _score_users(self, user_codes, item_codes):
        """Scores of ``item_codes`` (None: every item) for each user code; required."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement _score_users(user_codes, "
            "item_codes), the one hook every recommender provides: see "
            "sklearn_recs.base.RecommenderMixin."
        )

    def _predict_pairs(self, user_codes, item_codes):
        """Scores of known pairs, read from ``_score_users`` a block of users at a time."""
        scores = np.empty(len(user_codes), dtype=np.float64)
        users, inverse = np.unique(user_codes, return_inverse=True)
        step = block_size(self.n_items_)
        for start in range(0, len(users), step):
            rows = np.flatnonzero((inverse >= start) & (inverse < start + step))
            block = np.asarray(self._score_users(users[start:start + step], None))
            scores[rows] = block[inverse[rows] - start, item_codes[rows]]
        return scores

    def _shared_item_scores(self):
        """The scores every known user shares, or None (the default: scores differ)."""
        return None

    def _provided(self, hook):
        """The optional hook named ``hook``, or None where this estimator lacks it.

        None where the hook keeps its declared default, or where
        :func:`~sklearn.utils.metaestimators.available_if` makes it
        unavailable for this estimator.
        """
        try:
            return getattr(self, hook)
        except AttributeError:
            return None

    # -- fitting ---------------------------------------------------------
    def _fit_interactions(self, X, y, *, implicit, extra_users=None, extra_items=None):
        """Validate ``X, y``, learn the vocabularies and the interaction matrix.

        ``extra_items`` (ids, optional) joins the item vocabulary even where
        ``X`` has no interaction with them: a model that can score items from
        side information (content features) makes them recommendable. They
        get empty columns in ``interactions_``, popularity 0 and a fallback
        item bias of 0. ``extra_users`` likewise joins users known only from
        side information (empty rows, user bias 0).

        Returns the aggregated unique pairs ``(user_codes, item_codes,
        values)`` in CSR order; ``values`` is None for implicit data with
        ``y=None`` and no duplicate rows (every weight 1).
        """
        users, items, values = check_interactions(
            X, y, implicit=implicit, y_required=not implicit, estimator=self
        )
        if implicit and getattr(self, "weighting", None) in (None, "auto"):
            warn_if_ratings(values, estimator=self)
        self.n_features_in_ = _as_2d(X).shape[1]
        user_codes, self.users_ = pd.factorize(users, sort=True)
        item_codes, self.items_ = pd.factorize(items, sort=True)
        if extra_users is not None:
            user_codes, self.users_ = self._extend(self.users_, user_codes, extra_users, "user")
        if extra_items is not None:
            item_codes, self.items_ = self._extend(self.items_, item_codes, extra_items, "item")
        self.users_ = np.asarray(self.users_)
        self.items_ = np.asarray(self.items_)
        self.n_users_ = len(self.users_)
        self.n_items_ = len(self.items_)
        shape = (self.n_users_, self.n_items_)
        data = np.ones(len(user_codes)) if values is None else values
        matrix = sp.csr_matrix((data, (user_codes, item_codes)), shape=shape)
        matrix.sum_duplicates()
        n_duplicates = len(user_codes) - matrix.nnz
        self._pair_counts = None
        if n_duplicates:
            counts = sp.csr_matrix((np.ones(len(user_codes)), (user_codes, item_codes)),
                                   shape=shape)
            counts.sum_duplicates()
            if not implicit:
                matrix.data /= counts.data
                self._pair_counts = counts  # for partial_fit's running means
            self._warn_duplicates(f"X has {n_duplicates} duplicate (user, item) row(s)",
                                  implicit)
        pairs = self._set_interactions(matrix, implicit)
        if implicit and y is None and not n_duplicates:
            return pairs[:2] + (None,)  # every weight 1; duplicates make weights 2+
        return pairs

    def _warn_duplicates(self, what, implicit):
        warnings.warn(
            f"{type(self).__name__}: {what}; their "
            f"{'weights were summed' if implicit else 'ratings were averaged'}.",
            DataWarning,
            stacklevel=user_stacklevel(),
        )

    def _set_interactions(self, matrix, implicit):
        """Store the aggregated ``matrix`` as ``interactions_`` with what derives from it.

        Sets the id indexes, the popularity and the fallback baseline, and
        returns the unique pairs ``(user_codes, item_codes, values)`` in CSR
        order.
        """
        self.interactions_ = matrix
        self._user_index = pd.Index(self.users_)
        self._item_index = pd.Index(self.items_)
        pair_users = np.repeat(np.arange(self.n_users_), np.diff(matrix.indptr))
        pair_items = matrix.indices.astype(np.intp)
        pair_values = matrix.data
        self._popularity = np.bincount(pair_items, minlength=self.n_items_).astype(float)
        if implicit:
            self._fallback = (0.0, np.zeros(self.n_users_), self._popularity)
        else:
            self._fallback = _fit_biases(
                pair_users, pair_items, pair_values, self.n_users_, self.n_items_,
                alpha_user=_FALLBACK_ALPHA_USER, alpha_item=_FALLBACK_ALPHA_ITEM, max_iter=3,
            )
        return pair_users, pair_items, pair_values

    def _add_interactions(self, X, y):
        """Add implicit interactions ``X, y`` to a fitted model (``partial_fit``).

        Validates them like ``fit``, grows ``users_`` and ``items_`` with the
        new ids (kept sorted) and sums the weights into ``interactions_``, so
        that the vocabularies, ``interactions_``, the popularity and the
        fallback equal those of a ``fit`` on all the rows. Returns ``(old,
        added)``: the interactions before and the rows added, as CSR
        matrices in the new codes.
        """
        check_is_fitted(self)
        users, items, values = check_interactions(X, y, implicit=True, y_required=False,
                                                  estimator=self)
        self._check_id_kind(users, "user")
        self._check_id_kind(items, "item")
        self.users_, user_map = _extend_vocabulary(self.users_, users)
        self.items_, item_map = _extend_vocabulary(self.items_, items)
        self._user_index = pd.Index(self.users_)
        self._item_index = pd.Index(self.items_)
        self.n_users_, self.n_items_ = len(self.users_), len(self.items_)
        shape = (self.n_users_, self.n_items_)
        before = self.interactions_.tocoo()
        old = sp.csr_matrix((before.data, (user_map[before.row], item_map[before.col])),
                            shape=shape)
        data = np.ones(len(users)) if values is None else values
        added = sp.csr_matrix((data, (self._user_index.get_indexer(users),
                                      self._item_index.get_indexer(items))), shape=shape)
        added.sum_duplicates()
        self.interactions_ = (old + added).tocsr()
        self._popularity = np.bincount(self.interactions_.indices,
                                       minlength=self.n_items_).astype(float)
        self._fallback = (0.0, np.zeros(self.n_users_), self._popularity)
        return old, added

    def _partial_fit_interactions(self, X, y, *, implicit):
        """Validate ``X, y`` like fit and merge them into ``interactions_``.

        New user and item ids join ``users_`` and ``items_`` (sorted, as fit
        would have encoded them); a pair seen before is aggregated as fit
        aggregates duplicates (weights summed, ratings averaged over every
        row so far). Returns the aggregated unique pairs of all the data, as
        ``_fit_interactions`` does, so that a model refitting from them
        equals ``fit`` on the union of the data.
        """
        users, items, values = check_interactions(
            X, y, implicit=implicit, y_required=not implicit, estimator=self
        )
        self._check_id_kind(users, "user")
        self._check_id_kind(items, "item")
        old = self.interactions_.tocoo()
        self.users_, user_moved = _extend_vocabulary(self.users_, users)
        self.items_, item_moved = _extend_vocabulary(self.items_, items)
        self.n_users_, self.n_items_ = len(self.users_), len(self.items_)
        rows = np.concatenate([user_moved[old.row], pd.Index(self.users_).get_indexer(users)])
        cols = np.concatenate([item_moved[old.col], pd.Index(self.items_).get_indexer(items)])
        shape = (self.n_users_, self.n_items_)
        kept_counts = getattr(self, "_pair_counts", None)
        old_counts = np.ones(old.nnz) if kept_counts is None else kept_counts.tocoo().data
        new = np.ones(len(users)) if values is None else values
        if not implicit:  # running means: sums and counts
            new = np.concatenate([old.data * old_counts, new])
        else:
            new = np.concatenate([old.data, new])
        matrix = sp.csr_matrix((new, (rows, cols)), shape=shape)
        matrix.sum_duplicates()
        counts = sp.csr_matrix((np.concatenate([old_counts, np.ones(len(users))]),
                                (rows, cols)), shape=shape)
        counts.sum_duplicates()
        n_duplicates = len(rows) - matrix.nnz
        if n_duplicates:
            if not implicit:
                matrix.data /= counts.data
            self._warn_duplicates(
                f"X has {n_duplicates} (user, item) row(s) repeated or already seen",
                implicit)
        self._pair_counts = None if implicit or counts.data.max(initial=1) == 1 else counts
        return self._set_interactions(matrix, implicit)

    def _extend(self, vocabulary, codes, extra, noun):
        """The union of a vocabulary and ``extra`` ids, and ``codes`` re-encoded in it."""
        union, moved = _extend_vocabulary(
            vocabulary, check_ids(extra, what=f"{noun} ids", estimator=self))
        return moved[codes], union

    # -- id encoding -----------------------------------------------------
    def _encode_users(self, users, *, unknown="allow"):
        """User codes, -1 for unknown users (or an error with ``unknown="error"``).

        ``unknown="cold"`` is "allow" for users served by the cold-start
        fallback: ids of another kind than at fit (strings for numbers, or the
        reverse), which could never match, are a TypeError.
        """
        return self._encode(users, self._user_index, "user", unknown)

    def _encode_items(self, items, *, unknown="error"):
        """Item codes; unknown items are an error (or -1 with ``unknown="allow"``)."""
        return self._encode(items, self._item_index, "item", unknown)

    def _encode(self, ids, index, noun, unknown):
        ids = check_ids(ids, what=f"{noun} ids", estimator=self)
        if unknown == "cold":
            self._check_id_kind(ids, noun)
        codes = index.get_indexer(ids)
        if unknown == "error" and (codes < 0).any():
            missing = ids[codes < 0]
            raise ValueError(
                f"{type(self).__name__}: {missing.size} {noun} id(s) were not seen "
                f"at fit (e.g. {missing[:5].tolist()}). Known {noun}s are in "
                f"{noun}s_."
            )
        return codes

    def _check_id_kind(self, ids, noun):
        """``ids``, or a TypeError where they are strings and the ids seen at
        fit numbers (or the reverse): none of them could ever match."""
        vocabulary = getattr(self, f"{noun}s_")
        strings, fit_strings = ids.dtype == object, vocabulary.dtype.kind in "OUS"
        if ids.size and strings != fit_strings:
            example, fit_example = ids[:1].tolist()[0], vocabulary[:1].tolist()[0]
            raise TypeError(
                f"{type(self).__name__}: the {noun} ids are "
                f"{'strings' if strings else 'numbers'} (e.g. {example!r}) but the model "
                f"was fit on {'string' if fit_strings else 'numeric'} {noun} ids (e.g. "
                f"{fit_example!r}): the two kinds never match. Convert them to the "
                f"type used at fit, e.g. with {'.astype(str)' if fit_strings else '.astype(int)'}."
            )
        return ids

    # -- predict -----------------------------------------------------------
    def predict(self, X):
        """Predict a score for each (user, item) row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_columns >= 2)
            Column 0 holds user ids, column 1 item ids.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted ratings (rating models) or relevance scores. Rows with a
            user or item unseen at fit get the documented fallback, never NaN.
        """
        check_is_fitted(self)
        users, items, _ = check_interactions(X, estimator=self)
        user_codes = self._user_index.get_indexer(self._check_id_kind(users, "user"))
        item_codes = self._item_index.get_indexer(self._check_id_kind(items, "item"))
        known = (user_codes >= 0) & (item_codes >= 0)
        y_pred = np.empty(len(users), dtype=np.float64)
        if known.any():
            with shared_working_memory():
                y_pred[known] = self._predict_pairs(user_codes[known], item_codes[known])
        if not known.all():
            cold = ~known
            y_pred[cold] = self._predict_cold(user_codes[cold], item_codes[cold])
            warnings.warn(
                f"{type(self).__name__}: {int(cold.sum())} of {len(users)} rows "
                "have a user or item unseen at fit; they were scored by the "
                "fallback baseline.",
                ColdStartWarning,
                stacklevel=user_stacklevel(),
            )
        return y_pred

    def _predict_cold(self, user_codes, item_codes):
        """Fallback score for pairs with an unknown user or item (code -1)."""
        mean, user_part, item_part = self._fallback
        scores = np.full(len(user_codes), mean)
        scores += np.where(user_codes >= 0, user_part[user_codes], 0.0)
        scores += np.where(item_codes >= 0, item_part[item_codes], 0.0)
        return scores

    # -- recommend ---------------------------------------------------------
    def recommend(self, users, top_n=10, *, exclude_seen=True, items=None,
                  exclude=None, return_scores=False):
        """Recommend the top ``top_n`` items for each user, best first.

        Parameters
        ----------
        users : array-like of shape (n_users,)
            User ids. Users unseen at fit get the fallback ranking (items by
            popularity) and a :class:`ColdStartWarning` with their count.
        top_n : int, default=10
            Length of each list. It is capped at the number of candidates, so
            asking for more than the catalogue returns the whole catalogue.
        exclude_seen : bool, default=True
            Whether to leave out the items each user interacted with at fit.
        items : array-like of shape (n_candidates,), default=None
            Restrict the candidates to these item ids (all known at fit);
            None means the whole catalogue.
        exclude : array-like or list of array-like, default=None
            Request-time filter, on top of ``exclude_seen``: item ids to
            leave out for every user (a flat list), or one list per user (a
            list of ``len(users)`` lists, e.g. each user's items already on
            screen). The lists are still filled to the requested length
            from the remaining items. Ids unseen at fit are ignored, with a
            :class:`DataWarning` that gives their count.
        return_scores : bool, default=False
            Whether to also return the scores.

        Returns
        -------
        recommended : ndarray of shape (n_users, min(top_n, n_candidates))
            Item ids, best first; equal scores are ordered by item id.
        scores : ndarray of shape (n_users, min(top_n, n_candidates))
            Only with ``return_scores=True``. A user with fewer unseen
            candidates than the list length gets ``-inf`` in the trailing
            slots: those entries are not recommendations.
        """
        check_is_fitted(self)
        seen = self.interactions_ if _check_bool(exclude_seen, "exclude_seen", self) else None
        with shared_working_memory():
            return self._recommend_codes(self._encode_users(users, unknown="cold"), top_n,
                                         items, return_scores, self._score_users, seen,
                                         factor_fn=self._provided("_score_factors"),
                                         exclude=exclude,
                                         retrieve=self._provided("_retrieve"))

    def _recommend_codes(self, user_codes, top_n, items, return_scores, score_fn, seen,
                         factor_fn=None, exclude=None, retrieve=None):
        """The body of ``recommend`` for encoded users.

        Codes ``>= 0`` are ranked by ``score_fn(codes, candidates)`` less the
        items in their row of ``seen`` (a CSR matrix, or None) and in
        ``exclude`` (as for ``recommend``); codes ``< 0`` (unknown users)
        get the popularity ranking less ``exclude``, with a warning. With
        ``factor_fn`` (see ``_score_factors``) and no ``items``, the scores
        are ranked as the sparse product ``factor_fn(codes)`` instead; with
        ``retrieve`` (see ``_retrieve``) and no ``items``, by that index.
        """
        top_n = check_k(top_n, name="top_n", estimator=self)
        return_scores = _check_bool(return_scores, "return_scores", self)
        excluded = self._excluded(user_codes, seen, exclude)
        candidates = None
        n_candidates = self.n_items_
        if items is not None:
            candidates = np.unique(self._encode_items(items))
            n_candidates = len(candidates)
        width = min(top_n, n_candidates)
        ranked = np.empty((len(user_codes), width), dtype=np.intp)
        scores = np.empty((len(user_codes), width), dtype=np.float64)
        known = np.flatnonzero(user_codes >= 0)
        known_excluded = (excluded if excluded is None or known.size == len(user_codes)
                          else excluded[known])
        shared = self._shared_item_scores()
        if shared is not None and candidates is None and known.size:
            codes = user_codes[known]
            ranked[known], scores[known], short = topk_shared(shared, width, known_excluded)
            if short.size:  # too few unseen items left: -inf slots, ranked densely
                ranked[known[short]], scores[known[short]] = self._rank(
                    codes[short], score_fn, None, width, known_excluded[short])
        elif retrieve is not None and candidates is None:
            ranked[known], scores[known] = retrieve(
                user_codes[known], width, known_excluded,
                lambda codes, excluded_rows: self._rank(codes, score_fn, None, width,
                                                        excluded_rows),
                getattr(self, "n_jobs", None))
        elif factor_fn is not None and candidates is None:
            ranked[known], scores[known] = topk_sparse_product(
                *factor_fn(user_codes[known]), width, exclude=known_excluded,
                n_jobs=getattr(self, "n_jobs", None))
        else:
            ranked[known], scores[known] = self._rank(
                user_codes[known], score_fn, candidates, width, known_excluded)
        cold = np.flatnonzero(user_codes < 0)
        if cold.size:
            popularity = self._popularity if candidates is None else self._popularity[candidates]
            if excluded is None or not excluded[cold].nnz:
                top, top_scores = topk(popularity[None, :], width)
                ranked[cold], scores[cold] = top, top_scores
            else:
                ranked[cold], scores[cold] = self._rank(
                    user_codes[cold], lambda block, _: np.broadcast_to(
                        popularity, (len(block), len(popularity))),
                    candidates, width, excluded[cold])
            warnings.warn(
                f"{type(self).__name__}: {cold.size} of {len(user_codes)} users "
                "were unseen at fit; they get the popularity ranking.",
                ColdStartWarning,
                stacklevel=user_stacklevel(),
            )
        item_codes = ranked if candidates is None else candidates[ranked]
        recommended = self.items_[item_codes]
        return (recommended, scores) if return_scores else recommended

    def _excluded(self, user_codes, seen, exclude):
        """The items to leave out of each requested user's list: a CSR matrix
        of shape ``(len(user_codes), n_items_)`` (None for none), its row
        ``i`` the items of row ``user_codes[i]`` of ``seen`` (none for
        unknown users) and of ``exclude`` (see ``recommend``)."""
        n_rows = len(user_codes)
        if exclude is None and seen is not None and (user_codes >= 0).all():
            return rows_of(seen, user_codes)  # (the rows as they are: no copy through COO)
        rows, cols = [], []
        if seen is not None:
            known = user_codes >= 0
            sub = seen[user_codes[known]]
            rows.append(np.repeat(np.flatnonzero(known), np.diff(sub.indptr)))
            cols.append(sub.indices.astype(np.intp))
        if exclude is not None:
            exclude_rows, exclude_cols = self._exclude_pairs(exclude, n_rows)
            rows.append(exclude_rows)
            cols.append(exclude_cols)
        if not rows:
            return None
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        excluded = sp.csr_matrix((np.ones(len(rows)), (rows, cols)),
                                 shape=(n_rows, self.n_items_))
        excluded.sum_duplicates()
        return excluded

    def _exclude_pairs(self, exclude, n_rows):
        """(row, item code) pairs of ``recommend``'s ``exclude`` for ``n_rows``
        users; unknown ids dropped, with a warning."""
        per_user = _is_per_user_exclude(exclude)
        if per_user:
            if len(exclude) != n_rows:
                raise ValueError(
                    f"{type(self).__name__}: exclude has {len(exclude)} lists but "
                    f"{n_rows} users were given; pass one list of item ids per "
                    "user, or a flat list of item ids to exclude for every user."
                )
            lists = [list(entry) for entry in exclude]
            lengths = [len(entry) for entry in lists]
            ids = [item for entry in lists for item in entry]
            rows = np.repeat(np.arange(n_rows), lengths)
        else:
            ids = exclude
        codes = (self._encode_items(ids, unknown="allow") if len(ids)
                 else np.empty(0, dtype=np.intp))
        unknown = codes < 0
        if unknown.any():
            warnings.warn(
                f"{type(self).__name__}: {int(unknown.sum())} item id(s) in exclude "
                "were not seen at fit; they were ignored.",
                DataWarning,
                stacklevel=user_stacklevel(),
            )
        codes = codes[~unknown].astype(np.intp)
        if per_user:
            return rows[~unknown], codes
        codes = np.unique(codes)
        return np.repeat(np.arange(n_rows), len(codes)), np.tile(codes, n_rows)

    def _rank(self, codes, score_fn, candidates, width, excluded, *, exclude_self=False,
              n_columns=None):
        """Top-``width`` candidates for each code, scored in memory-sized blocks.

        ``excluded`` is a CSR matrix whose row ``i`` lists the item codes to
        exclude for ``codes[i]`` (None to exclude nothing); with ``exclude_self``
        the item whose code is the row's own code is excluded too.
        ``n_columns`` is the width of a score row when it is not the item
        catalogue (user-user similarities).
        """
        n_candidates = self.n_items_ if candidates is None else len(candidates)
        if n_columns is not None:
            n_candidates = n_columns
        ranked = np.empty((len(codes), width), dtype=np.intp)
        values = np.empty((len(codes), width), dtype=np.float64)
        if candidates is not None and (excluded is not None or exclude_self):
            position = np.full(self.n_items_, -1, dtype=np.intp)
            position[candidates] = np.arange(n_candidates)
        start = 0
        while start < len(codes):
            # (Asked per block: concurrent calls share the working memory.)
            step = block_size(n_candidates)
            block = codes[start:start + step]
            block_scores = np.array(score_fn(block, candidates), dtype=np.float64)
            np.nan_to_num(block_scores, copy=False, nan=-np.inf)
            rows, cols = self._exclusions(
                block, None if excluded is None else excluded[start:start + step],
                exclude_self)
            if candidates is not None and rows.size:
                cols = position[cols]
                rows, cols = rows[cols >= 0], cols[cols >= 0]
            block_scores[rows, cols] = -np.inf
            (ranked[start:start + step],
             values[start:start + step]) = topk(block_scores, width)
            start += step
        return ranked, values

    @staticmethod
    def _exclusions(block, sub, exclude_self):
        rows = np.empty(0, dtype=np.intp)
        cols = np.empty(0, dtype=np.intp)
        if sub is not None:
            rows = np.repeat(np.arange(len(block)), np.diff(sub.indptr))
            cols = sub.indices.astype(np.intp)
        if exclude_self:
            rows = np.concatenate([rows, np.arange(len(block))])
            cols = np.concatenate([cols, block])
        return rows, cols

    # -- similar items ---------------------------------------------------
    @available_if(_has_item_similarity)
    def similar_items(self, items, top_n=10, *, return_scores=False):
        """Return the items most similar to each given item, best first.

        Parameters
        ----------
        items : array-like of shape (n_queries,)
            Item ids known at fit.
        top_n : int, default=10
            Length of each list (capped at ``n_items_ - 1``); the query item
            itself is never in its list.
        return_scores : bool, default=False
            Whether to also return the similarities.

        Returns
        -------
        similar : ndarray of shape (n_queries, min(top_n, n_items_ - 1))
            Item ids, most similar first.
        scores : ndarray of shape (n_queries, min(top_n, n_items_ - 1))
            Only with ``return_scores=True``.
        """
        check_is_fitted(self)
        return self._most_similar(self._encode_items(items), top_n, self.items_,
                                  "item", self._similar_item_scores, return_scores)

    def _most_similar(self, codes, n, ids, noun, score_fn, return_scores):
        """Top ``n`` of ``score_fn(codes)`` over ``ids``, each query left out.

        The body of ``similar_items`` (and of ``similar_users`` where a model
        has a user-user similarity): ``codes`` index ``ids``.
        """
        n = check_k(n, name="top_n", estimator=self)
        return_scores = _check_bool(return_scores, "return_scores", self)
        width = min(n, len(ids) - 1)
        if width < 1:
            raise ValueError(
                f"{type(self).__name__}: the model knows a single {noun}, so it has "
                f"no similar {noun}s to return."
            )
        ranked, values = self._rank(codes, lambda block, _: score_fn(block), None,
                                    width, None, exclude_self=True, n_columns=len(ids))
        similar = ids[ranked]
        return (similar, values) if return_scores else similar

    # -- explain -----------------------------------------------------------
    @available_if(_has_explanation)
    def explain(self, users, items, *, n_contributions=None):
        """Explain the score of each (user, item) pair by the terms it sums.

        One row per term of a pair's score. Item-item models (ItemKNN,
        EASE, SparseEASE, SLIM, RP3Beta) list the user's history items,
        each with its weight times its coefficient towards the item;
        UserKNN the neighbours; ContentRecommender the item features; the
        baselines their bias terms (or the item's popularity). These rows
        are exact: per pair they sum to ``predict``. On ratings, ItemKNN
        and UserKNN add the baseline and each neighbour's share of the
        weighted mean, and a ``"clip"`` row where the prediction was
        clipped to the rating range. Factor models (MatrixFactorization,
        ImplicitALS, TwoTower...) give their biases and the dot product of
        the factors exactly, then the user's history items nearest the item
        in factor space: those rows are an approximation (``exact=False``,
        ``contribution`` is the ``similar_items`` similarity), not terms of
        the score. RankingBlend and SwitchRecommender give each member's
        part of the score (``kind="member"``), split into the member's own
        terms where they are exact (see :ref:`explain`).

        Parameters
        ----------
        users : array-like of shape (n_pairs,) or a single id
            User ids, all seen at fit (an unseen user has no terms to
            explain: ``predict`` gives them the fallback baseline).
        items : array-like of shape (n_pairs,) or a single id
            Item ids of the catalogue ``items_``. A single user with several
            items (or the reverse) is broadcast.
        n_contributions : int, default=None
            Most rows per pair that name a source (history items,
            neighbours, features), the largest ``|contribution|`` first;
            the fixed terms (biases, factors, clipping) are always given.
            None gives every row, so that the exact rows sum to the score.

        Returns
        -------
        explanation : DataFrame
            Columns ``user``, ``item``, ``source`` (the history item,
            neighbour user or feature, or the name of a fixed term such as
            ``"global mean"``), ``kind`` (``"item"``, ``"user"``,
            ``"feature"``, ``"bias"``, ``"factors"``, ``"clip"``,
            ``"member"`` or, for the approximate rows, ``"similar_item"``),
            ``contribution`` and
            ``exact`` (whether the row is a term of the score). Pairs in the
            order given; in each, the fixed terms first, then the sources
            by decreasing ``|contribution|``.

        Examples
        --------
        >>> from sklearn_recs.baselines import BiasBaseline
        >>> model = BiasBaseline(alpha_user=0, alpha_item=0).fit(
        ...     [[1, "a"], [1, "b"], [2, "a"]], [4.0, 2.0, 5.0])
        >>> model.explain(1, "a").round(2)
           user item       source  kind  contribution  exact
        0     1    a  global mean  bias          3.67   True
        1     1    a    user bias  bias         -0.33   True
        2     1    a    item bias  bias          0.67   True
        >>> model.predict([[1, "a"]]).round(2)  # the sum of the terms
        array([4.])
        """
        check_is_fitted(self)
        if n_contributions is not None:
            n_contributions = check_k(n_contributions, name="n_contributions",
                                      estimator=self)
        user_codes = self._encode_users(users, unknown="error")
        item_codes = self._encode_items(items)
        if len(user_codes) != len(item_codes):
            if min(len(user_codes), len(item_codes)) != 1:
                raise ValueError(
                    f"{type(self).__name__}.explain: got {len(user_codes)} users and "
                    f"{len(item_codes)} items; pass one item per user (pairs), or a "
                    "single user or a single item to pair with all the others."
                )
            n_pairs = max(len(user_codes), len(item_codes))
            user_codes = np.broadcast_to(user_codes, n_pairs)
            item_codes = np.broadcast_to(item_codes, n_pairs)
        with shared_working_memory():
            explanation = self._explain_terms(user_codes, item_codes)
        return explanation.frame(self.users_[user_codes], self.items_[item_codes],
                                 n_contributions)

    # -- score -------------------------------------------------------------
    def score(self, X, y=None, sample_weight=None):
        """Return the model's default score on test interactions; greater is better.

        A rating model (one that predicts ratings: ``feedback_ ==
        "explicit"`` where the model has one, else a regressor by its tags)
        returns the coefficient of determination R^2 of ``predict(X)``
        against the ratings ``y``, as every scikit-learn regressor does. An
        implicit-feedback model returns NDCG@10 of the held-out interactions
        ``X`` against its full-catalogue recommendations, each user's
        training items left out: the same computation as
        ``make_ranking_scorer("ndcg", k=10)(self, X, y)``, every test row
        relevant. So ``cross_val_score``,
        ``GridSearchCV`` and ``validation_curve`` work without ``scoring=``;
        pass a scorer (``get_scorer("map@20")``) for another metric.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_columns >= 2)
            Test interactions: user ids in column 0, item ids in column 1.
        y : array-like of shape (n_samples,), default=None
            Test ratings (required by rating models); ignored by the
            ranking score, for which every test row is relevant.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of R^2; rating models only.

        Returns
        -------
        score : float
            R^2 (rating models) or NDCG@10 (implicit-feedback models).

        Examples
        --------
        >>> from sklearn_recs.baselines import Popularity
        >>> X_train = [[1, "a"], [2, "a"], [2, "b"], [3, "b"]]
        >>> X_test = [[1, "b"], [3, "a"]]  # each user's one unseen item
        >>> Popularity().fit(X_train).score(X_test)  # both rank first: NDCG 1
        1.0
        """
        check_is_fitted(self)
        if _predicts_ratings(self):
            if y is None:
                raise ValueError(
                    f"{type(self).__name__}.score: a rating model is scored by R^2 "
                    "against the test ratings; pass them as y."
                )
            return RegressorMixin.score(self, X, y, sample_weight=sample_weight)
        if sample_weight is not None:
            raise ValueError(
                f"{type(self).__name__}.score: sample_weight weighs R^2 of rating "
                "models; the ranking score of an implicit-feedback model takes none. "
                "Leave it None."
            )
        return _DEFAULT_RANKING_SCORER(self, X, y)

    # -- tags ------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        if tags.regressor_tags is not None:
            tags.regressor_tags.poor_score = True
        return tags

"""Baseline recommenders: the global mean, the bias baseline, popularity."""

from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, KBinsDiscretizer, OneHotEncoder
from sklearn.utils._param_validation import HasMethods, Interval

from ._explain import bias_terms, popularity_terms
from ._scoring import FormulaScoring
from .base import _PARTIAL_FIT_DOC, RecommenderMixin, _fit_biases, _implicit_tags
from .utils._docs import shared_doc
from .utils._features import check_feature_frame, transform_features
from .utils._params import store_params
from .utils._topk import block_size, topk
from .utils.validation import get_column, get_times

__all__ = ["BiasBaseline", "GlobalMean", "Popularity", "make_user_transformer"]


@shared_doc
class GlobalMean(FormulaScoring, RecommenderMixin, RegressorMixin, BaseEstimator):
    """Predict every rating as the mean training rating.

    The simplest rating model, a floor for every other one. Its ranking
    scores every item the same, so ``recommend`` orders items by id: use
    :class:`Popularity` or :class:`BiasBaseline` for a baseline ranking.

    Attributes
    ----------
    global_mean_ : float
        Mean training rating (duplicate rows averaged first).
    {vocabulary_attributes}
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        The training ratings, rows and columns in the order of ``users_`` and
        ``items_``.
    n_features_in_ : int
        Number of columns of ``X`` at fit.

    See Also
    --------
    BiasBaseline : Adds regularised user and item biases.

    Examples
    --------
    >>> from sklearn_recs.baselines import GlobalMean
    >>> X = [[1, 10], [1, 20], [2, 10]]
    >>> model = GlobalMean().fit(X, [4.0, 2.0, 3.0])
    >>> model.predict([[2, 20]])
    array([3.])
    """

    _parameter_constraints: dict = {}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the model.

        {fit_X}.
        y : array-like of shape (n_samples,)
            Ratings.

        {fit_returns}
        """
        _, _, ratings = self._fit_interactions(X, y, implicit=False)
        self.global_mean_ = float(ratings.mean())
        self._fallback = (self.global_mean_, np.zeros(self.n_users_), np.zeros(self.n_items_))
        self._formula()  # built now: serving never writes to the estimator
        return self

    def _serving_arrays(self):
        """A constant: the formula of :mod:`sklearn_recs._scoring`, also for
        :func:`sklearn_recs.serving.save_npz`."""
        return _without_factors(self, np.zeros(self.n_items_),
                                np.full(self.n_users_, self.global_mean_))

    def _explain_terms(self, user_codes, item_codes):
        return bias_terms(self, user_codes, item_codes)


@shared_doc
class BiasBaseline(FormulaScoring, RecommenderMixin, RegressorMixin, BaseEstimator):
    """Baseline predictor with regularised user and item biases.

    Predicts ``r_ui = mu + b_u + b_i`` (Koren's "baseline predictor"), with
    ``mu`` the mean rating and the biases minimising

    ``sum (r_ui - mu - b_u - b_i)^2 + alpha_user * sum b_u^2 + alpha_item * sum b_i^2``

    by alternating least squares: each sweep sets every item bias, then
    every user bias, to its closed-form optimum given the other. It ranks
    items by ``b_i`` (the same order for every user, less their seen
    items), a well-calibrated "top rated" list.

    Parameters
    ----------
    alpha_user : float, default=5.0
        Regularisation of the user biases (shrinks users with few ratings
        towards the mean).
    alpha_item : float, default=2.0
        Regularisation of the item biases.
    max_iter : int, default=10
        Alternating sweeps.

    Attributes
    ----------
    global_mean_ : float
        Mean training rating ``mu``.
    user_bias_ : ndarray of shape (n_users_,)
        User biases, in the order of ``users_``.
    item_bias_ : ndarray of shape (n_items_,)
        Item biases, in the order of ``items_``.
    n_iter_ : int
        Alternating sweeps run: always ``max_iter`` (no tolerance test).
    {vocabulary_attributes}
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        The training ratings.
    n_features_in_ : int
        Number of columns of ``X`` at fit.

    See Also
    --------
    GlobalMean : Without biases.
    Popularity : Ranks by interaction counts.

    Notes
    -----
    An unknown user gets ``mu + b_i``, an unknown item ``mu + b_u``.

    The default regularisation was chosen by validation on held-out parts
    of the ml-100k training folds (u1..u5.base): it gives a mean test RMSE
    of 0.941 on the canonical folds, against 0.946 for Koren's classic
    ``alpha_user=15, alpha_item=10``.

    References
    ----------
    .. [1] Y. Koren, "Factor in the neighbors: scalable and accurate
       collaborative filtering", ACM TKDD 4(1), 2010.

    Examples
    --------
    >>> from sklearn_recs.baselines import BiasBaseline
    >>> X = [[1, 10], [1, 20], [2, 10], [2, 30]]
    >>> model = BiasBaseline(alpha_user=0.0, alpha_item=0.0).fit(X, [5, 3, 4, 2])
    >>> model.predict([[1, 10]]).round(2)
    array([5.])
    >>> model.recommend([2], top_n=1)
    array([[20]])
    """

    _parameter_constraints: dict = {
        "alpha_user": [Interval(Real, 0, None, closed="left")],
        "alpha_item": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, *, alpha_user=5.0, alpha_item=2.0, max_iter=10):
        store_params(self, locals())

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the biases.

        {fit_X}.
        y : array-like of shape (n_samples,)
            Ratings; duplicate (user, item) rows are averaged first.

        {fit_returns}
        """
        return self._fit_pairs(*self._fit_interactions(X, y, implicit=False))

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y):
        if not hasattr(self, "interactions_"):
            return self.fit(X, y)
        return self._fit_pairs(*self._partial_fit_interactions(X, y, implicit=False))

    partial_fit.__doc__ = _PARTIAL_FIT_DOC.format(
        aggregation="ratings averaged over every row so far",
        how="""The biases are solved again from the updated ``interactions_``:
        the fitted biases are ``max_iter`` alternating sweeps from zero, each
        of which depends on every rating, so no smaller statistic gives the
        same result (an update from the old biases would be a warm start,
        close but not equal). The solve is ``O(max_iter * n_ratings)``, the
        cost of a ``fit`` without the validation and encoding of the earlier
        rows.""",
        more_x="",
        y_doc="""array-like of shape (n_samples,)
            Ratings.""")

    def _fit_pairs(self, users, items, ratings):
        """The biases of the aggregated ratings (the part of fit that partial_fit redoes)."""
        self.global_mean_, self.user_bias_, self.item_bias_ = _fit_biases(
            users, items, ratings, self.n_users_, self.n_items_,
            alpha_user=self.alpha_user, alpha_item=self.alpha_item, max_iter=self.max_iter,
        )
        self.n_iter_ = self.max_iter
        self._fallback = (self.global_mean_, self.user_bias_, self.item_bias_)
        self._formula()  # built now: serving never writes to the estimator
        return self

    def _serving_arrays(self):
        """The biases: the formula of :mod:`sklearn_recs._scoring`, also for
        :func:`sklearn_recs.serving.save_npz`."""
        return _without_factors(self, self.item_bias_, self.global_mean_ + self.user_bias_)

    def _explain_terms(self, user_codes, item_codes):
        return bias_terms(self, user_codes, item_codes)


def _without_factors(estimator, item_bias, user_offset, **extra):
    """The ``"factors"`` export of a model scoring ``item_bias[i] + user_offset[u]``."""
    return "factors", dict(user_factors=np.zeros((estimator.n_users_, 0)),
                           item_factors=np.zeros((estimator.n_items_, 0)),
                           item_bias=item_bias, user_offset=user_offset, **extra)


def make_user_transformer(user_features):
    """Build the transformer :class:`Popularity` uses for ``user_features`` by default.

    One block per column, stacked by a :class:`~sklearn.compose.ColumnTransformer`
    (sparse output): numbers (age) -> missing values replaced by the median,
    then 5 equal-width bins, one-hot; anything else (gender, occupation,
    categories, booleans, strings) -> one-hot, missing values as their own
    category. Every user then has one active feature per column, so the
    cosine of two users is the share of columns on which they agree.

    Parameters
    ----------
    user_features : DataFrame of shape (n_users, n_columns)
        The user features, one row per user.

    Returns
    -------
    transformer : ColumnTransformer
        Unfitted.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recs.baselines import make_user_transformer
    >>> users = pd.DataFrame({"age": [24, 53, 23], "gender": ["M", "F", "M"]})
    >>> make_user_transformer(users).fit_transform(users).toarray()
    array([[1., 0., 0., 0., 0., 0., 1.],
           [0., 0., 0., 0., 1., 1., 0.],
           [1., 0., 0., 0., 0., 0., 1.]])
    """
    blocks = []
    for name in user_features.columns:
        column = user_features[name]
        if pd.api.types.is_numeric_dtype(column.dtype) and column.dtype != bool:
            block = make_pipeline(SimpleImputer(strategy="median"),
                                  KBinsDiscretizer(n_bins=5, strategy="uniform"))
        else:
            block = make_pipeline(
                FunctionTransformer(_as_labels, feature_names_out="one-to-one"),
                OneHotEncoder(handle_unknown="ignore"))
        blocks.append((str(name), block, [name]))
    return ColumnTransformer(blocks, sparse_threshold=1.0)


def _as_labels(frame):
    """Category labels as strings, missing values as their own label."""
    frame = pd.DataFrame(frame)
    return frame.astype(object).where(frame.notna(), "<missing>").astype(str)


@shared_doc
class Popularity(FormulaScoring, RecommenderMixin, BaseEstimator):
    """Recommend the most popular items: the implicit-feedback baseline.

    An item's score is the number of users who interacted with it, or the
    sum of their weights ``y``, optionally decayed with age so that recent
    interactions count more: an interaction ``half_life`` time units older
    than the newest one counts half.

    With ``user_features`` (demographics such as age, gender, occupation)
    at fit, popularity becomes *demographic*: a user's score of an item is
    its popularity among the ``n_neighbors`` users most similar to them in
    feature space (cosine), each counted with its similarity, plus the
    global popularity as one pseudo-interaction that orders the items those
    neighbours never touched. Users of ``user_features`` absent from ``X``
    join the vocabulary: a new user with known demographics gets a
    personalised cold-start ranking. Users without a row in
    ``user_features`` get the global ranking.

    Parameters
    ----------
    half_life : float, default=None
        Half-life of an interaction's weight, in the units of the time
        column (seconds for Unix timestamps). None means no decay.
    time_column : int or str, default=2
        Column of ``X`` holding the interaction times, used only with
        ``half_life``.
    n_neighbors : int, default=100
        With ``user_features``: how many similar users (among those with
        interactions, never the user themself) make a user's popularity.
    user_transformer : transformer, default=None
        With ``user_features``: turns them into feature vectors (cloned at
        fit); None uses :func:`make_user_transformer`.

    Attributes
    ----------
    popularity_ : ndarray of shape (n_items_,)
        Each item's (decayed) count or weight sum, in the order of
        ``items_``.
    neighbors_ : scipy.sparse.csr_matrix of shape (n_users_, n_users_) or None
        With ``user_features``: row ``u`` holds the similarities of user
        ``u``'s demographic neighbours; None without.
    transformer_ : transformer or None
        The fitted user transformer; None without ``user_features``.
    users_ : ndarray of shape (n_users_,)
        User ids seen at fit (in ``X`` or ``user_features``), sorted.
    items_ : ndarray of shape (n_items_,)
        Item ids seen at fit, sorted.
    n_users_ : int
        Number of users seen at fit.
    n_items_ : int
        Number of items seen at fit.
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        The training weights (duplicates summed; 1 per row when ``y`` is
        None), before any time decay.
    n_features_in_ : int
        Number of columns of ``X`` at fit.

    See Also
    --------
    BiasBaseline : Ranks by regularised mean rating.

    Notes
    -----
    To pass ``user_features`` through a ``Pipeline`` or ``GridSearchCV``
    with metadata routing enabled, request it with
    ``set_fit_request(user_features=True)``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recs.baselines import Popularity
    >>> X = [[1, 10], [2, 10], [2, 20], [3, 30], [3, 10]]
    >>> model = Popularity().fit(X)
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     recommended = model.recommend([1, 4], top_n=2)
    >>> recommended  # user 4 is unknown: the global ranking
    array([[20, 30],
           [10, 20]])
    >>> print(caught[0].message)
    Popularity: 1 of 2 users were unseen at fit; they get the popularity ranking.

    Demographic popularity: new user 4 resembles user 3.

    >>> users = pd.DataFrame({"gender": ["F", "F", "M", "M"]}, index=[1, 2, 3, 4])
    >>> model = Popularity(n_neighbors=1).fit(X, user_features=users)
    >>> model.recommend([4], top_n=2)
    array([[10, 30]])
    """

    _parameter_constraints: dict = {
        "half_life": [Interval(Real, 0, None, closed="neither"), None],
        "time_column": [Integral, str],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "user_transformer": [HasMethods(["fit_transform"]), None],
    }

    def __init__(self, *, half_life=None, time_column=2, n_neighbors=100,
                 user_transformer=None):
        store_params(self, locals())

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, user_features=None):
        """Count each item's interactions.

        {fit_X}; with ``half_life``,
            ``time_column`` holds the times.
        y : array-like of shape (n_samples,), default=None
            Non-negative weights; None counts each row as 1. Values that look like ratings (all on a
            half-star grid in 0.5-5) are still read as weights, with a
            ``DataWarning``: pass None, or the rows you count as positives
            (``X[ratings >= 4]``).
        user_features : DataFrame of shape (n_described_users, n_columns), default=None
            User side information (demographics), indexed by user id
            (unique); see the class description.

        {fit_returns}
        """
        described = None
        if user_features is not None:
            user_features, described = check_feature_frame(
                user_features, X, column=0, noun="user", estimator=self, require_all=False)
        users, items, weights = self._fit_interactions(X, y, implicit=True,
                                                       extra_users=described)
        self._time_reference = None
        if self.half_life is not None:
            times = get_times(X, self.time_column, estimator=self)
            self._time_reference = times.max()
            weights = self._decayed(X, y, times).data
        return self._fit_weights(items, weights, user_features)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        if not hasattr(self, "interactions_"):
            return self.fit(X, y)
        if self.half_life is not None:
            if getattr(self, "_time_reference", None) is None:
                raise ValueError(
                    f"Popularity: half_life={self.half_life} but the model was fit "
                    "without it, so the times of the earlier rows are unknown. Fit "
                    "again with half_life set."
                )
            times = get_times(X, self.time_column, estimator=self)
        old_users, old_items, old = self.users_, self.items_, self._weights.tocoo()
        _, items, weights = self._partial_fit_interactions(X, y, implicit=True)
        if self.half_life is not None:
            # The earlier rows' decayed weights, aged to the newest time.
            reference = max(self._time_reference, times.max())
            aged = old.data * 0.5 ** ((reference - self._time_reference) / self.half_life)
            self._time_reference = reference
            new = self._decayed(X, y, times).tocoo()
            merged = sp.csr_matrix(
                (np.concatenate([aged, new.data]),
                 (np.concatenate([self._user_index.get_indexer(old_users)[old.row], new.row]),
                  np.concatenate([self._item_index.get_indexer(old_items)[old.col], new.col]))),
                shape=self.interactions_.shape)
            merged.sum_duplicates()
            weights = merged.data
        return self._fit_weights(items, weights, getattr(self, "_user_features", None))

    partial_fit.__doc__ = _PARTIAL_FIT_DOC.format(
        aggregation="weights summed",
        how="""The sufficient statistics are ``interactions_`` and each pair's
        decayed weight: with ``half_life``, the earlier weights are aged to
        the newest time of either call (one factor for all of them) and the
        new rows added. With ``user_features`` at fit, the demographic
        neighbours are found again from the same features, among the users
        who now have interactions (a new user without a row in the
        features gets the global ranking, as at fit).""",
        more_x=""" With ``half_life``, ``time_column`` holds
            the times.""",
        y_doc="""array-like of shape (n_samples,), default=None
            Non-negative weights; None counts each row as 1.""")

    def _decayed(self, X, y, times):
        """The weights of ``X``'s rows decayed to the reference time, duplicates
        summed, as a matrix of ``interactions_``'s shape."""
        decay = 0.5 ** ((self._time_reference - times) / self.half_life)
        codes = (self._encode_users(get_column(X, 0)), self._encode_items(get_column(X, 1)))
        raw = np.ones(len(times)) if y is None else np.asarray(y, dtype=np.float64)
        weights = sp.csr_matrix((raw * decay, codes), shape=self.interactions_.shape)
        weights.sum_duplicates()
        return weights

    def _fit_weights(self, items, weights, user_features):
        """Popularity from the aggregated (decayed) weights, in the order of
        ``interactions_`` (the part of fit that partial_fit redoes)."""
        if weights is None:
            weights = np.ones(len(items))
        self._weights = sp.csr_matrix((weights, self.interactions_.indices,
                                       self.interactions_.indptr),
                                      shape=self.interactions_.shape)
        self.popularity_ = np.bincount(items, weights, minlength=self.n_items_)
        self._fallback = (0.0, np.zeros(self.n_users_), self.popularity_)
        self._popularity = self.popularity_
        self.neighbors_ = self.transformer_ = None
        self._user_features = user_features
        if user_features is not None:
            self.neighbors_ = self._demographic_neighbors(user_features)
            self._item_weights = self._weights.T.tocsr()
            self._share = self.popularity_ / max(self.popularity_.sum(), np.finfo(float).tiny)
        self._formula()  # built now: serving never writes to the estimator
        return self

    def _demographic_neighbors(self, user_features):
        """Each user's ``n_neighbors`` most similar users with interactions."""
        frame = user_features.reindex(self.users_)
        described = pd.Index(user_features.index)
        has_row = self._user_index.isin(described)
        self.transformer_ = (make_user_transformer(frame) if self.user_transformer is None
                             else clone(self.user_transformer))
        vectors = transform_features(self.transformer_, frame[has_row], self.users_[has_row],
                                     noun="user", estimator=self)
        norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
        vectors = sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ vectors
        rows = np.flatnonzero(has_row)
        active = np.flatnonzero(np.diff(self.interactions_.indptr) > 0)
        candidates = np.flatnonzero(np.isin(rows, active))
        k = min(self.n_neighbors, len(candidates))
        if k == 0:
            return sp.csr_matrix((self.n_users_, self.n_users_))
        candidate_users, candidate_vectors_t = rows[candidates], vectors[candidates].T.tocsc()
        # Where each user sits among the candidates (-1: not one), to rule out
        # the user as their own neighbour.
        position = np.full(self.n_users_, -1)
        position[candidate_users] = np.arange(len(candidates))
        pieces = []
        step = block_size(len(candidates))
        for start in range(0, len(rows), step):
            block = slice(start, start + step)
            sims = (vectors[block] @ candidate_vectors_t).toarray()
            own = position[rows[block]]
            is_candidate = own >= 0
            sims[np.flatnonzero(is_candidate), own[is_candidate]] = -np.inf
            cols, values = topk(sims, k)
            keep = values > 0
            pieces.append((np.broadcast_to(rows[block][:, None], cols.shape)[keep],
                           candidate_users[cols[keep]], values[keep]))
        r, c, v = (np.concatenate(part) for part in zip(*pieces))
        return sp.csr_matrix((v, (r, c)), shape=(self.n_users_, self.n_users_))

    def _shared_item_scores(self):
        """Global popularity, the same for every user (None with demographics)."""
        return self.popularity_ if self.neighbors_ is None else None

    def _serving_arrays(self):
        """Popularity (or the neighbours' weights): the formula of
        :mod:`sklearn_recs._scoring`, also for :func:`sklearn_recs.serving.save_npz`."""
        if self.neighbors_ is None:
            return _without_factors(self, self.popularity_, np.zeros(self.n_users_))
        return "product", dict(left=self.neighbors_, right=self._item_weights,
                               item_offset=self._share)

    def _explain_terms(self, user_codes, item_codes):
        return popularity_terms(self, user_codes, item_codes)

    def __sklearn_tags__(self):
        return _implicit_tags(super().__sklearn_tags__())

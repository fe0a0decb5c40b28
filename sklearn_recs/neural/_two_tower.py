"""Two-tower retrieval (the TensorFlow Recommenders model), its index and callback."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import _fit_context
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._explain import factor_model_terms
from .._retrieval import RETRIEVAL_CONSTRAINTS, check_retrieval, retrieval_arrays
from .._scoring import FormulaScoring
from ..base import _implicit_tags
from ..utils._topk import block_size, topk
from ..utils.validation import check_ids, check_interactions, check_k
from ._base import (
    COMMON_CONSTRAINTS,
    TorchRecommender,
    check_layer_sizes,
    filled_doc,
    split_validation,
    store_params,
)
from ._net import ValidationNDCG
from ._two_tower_modules import InBatchSoftmaxLoss, TwoTowerModule

__all__ = ["BruteForceIndex", "FactorizedTopKRecall", "TwoTower"]


class BruteForceIndex:
    """Exact top-k retrieval by inner product over a set of candidate vectors.

    ``fit(vectors, ids)`` stores the candidates; ``search(queries, k)``
    scores query blocks against all of them with one matrix product per
    block (sized by scikit-learn's ``working_memory``) and keeps the top
    ``k`` by ``argpartition``: the result equals a full sort, ties ordered by
    candidate position.

    Attributes
    ----------
    vectors_ : ndarray of shape (n_candidates, n_dims)
        The candidate vectors.
    ids_ : ndarray of shape (n_candidates,)
        Their ids.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.neural import BruteForceIndex
    >>> index = BruteForceIndex().fit(np.eye(3), ids=["a", "b", "c"])
    >>> index.search(np.array([[0.1, 0.9, 0.5]]), k=2)
    (array([['b', 'c']], dtype='<U1'), array([[0.9, 0.5]]))
    """

    def fit(self, vectors, ids=None):
        """Index ``vectors`` (one row per candidate) under ``ids``.

        Parameters
        ----------
        vectors : array-like of shape (n_candidates, n_dims)
            Candidate vectors.
        ids : array-like of shape (n_candidates,), default=None
            Their ids; None means ``0 .. n_candidates - 1``.

        Returns
        -------
        self : BruteForceIndex
            The index.
        """
        self.vectors_ = np.asarray(vectors)
        if self.vectors_.ndim != 2 or len(self.vectors_) == 0:
            raise ValueError(
                "BruteForceIndex: vectors must be a non-empty 2-D array (one row per "
                f"candidate); got shape {self.vectors_.shape}."
            )
        self.ids_ = np.arange(len(self.vectors_)) if ids is None else np.asarray(ids)
        if len(self.ids_) != len(self.vectors_):
            raise ValueError(
                f"BruteForceIndex: {len(self.ids_)} ids for {len(self.vectors_)} vectors; "
                "pass one id per row of vectors."
            )
        return self

    def search(self, queries, k=10, *, exclude=None):
        """The ``k`` candidates with the largest inner product with each query.

        Parameters
        ----------
        queries : array-like of shape (n_queries, n_dims)
            Query vectors (e.g. user vectors).
        k : int, default=10
            Results per query, capped at the number of candidates.
        exclude : scipy.sparse matrix of shape (n_queries, n_candidates), default=None
            Non-zero entries mark candidates to leave out of that query's
            results (scored ``-inf``).

        Returns
        -------
        ids : ndarray of shape (n_queries, min(k, n_candidates))
            Candidate ids, best first.
        scores : ndarray of shape (n_queries, min(k, n_candidates))
            The inner products.
        """
        if not hasattr(self, "vectors_"):
            raise NotFittedError(
                "BruteForceIndex: the index is empty; call fit(vectors, ids) with the "
                "candidate vectors (e.g. TwoTower's item_vectors_) before search, or "
                "use a fitted TwoTower's index_."
            )
        queries = np.atleast_2d(np.asarray(queries))
        if queries.shape[1] != self.vectors_.shape[1]:
            raise ValueError(
                f"BruteForceIndex: queries have {queries.shape[1]} dimensions but the "
                f"indexed vectors have {self.vectors_.shape[1]}."
            )
        width = min(check_k(k, estimator=self), len(self.vectors_))
        exclude = None if exclude is None else sp.csr_matrix(exclude)
        found = np.empty((len(queries), width), dtype=np.intp)
        scores = np.empty((len(queries), width))
        step = block_size(len(self.vectors_))
        for start in range(0, len(queries), step):
            block = (queries[start:start + step] @ self.vectors_.T).astype(np.float64)
            if exclude is not None:
                rows, cols = exclude[start:start + step].nonzero()
                block[rows, cols] = -np.inf
            found[start:start + step], scores[start:start + step] = topk(block, width)
        return self.ids_[found], scores


class FactorizedTopKRecall(ValidationNDCG):
    """Recall@k of the full-catalogue ranking on a validation split, per epoch.

    The share of validation (user, item) pairs whose item is in the user's
    top ``k`` among every item not seen in training: the factorized top-k
    metric of TensorFlow Recommenders. Recorded as ``valid_recall`` (and
    ``valid_recall_best``) in the history, for early stopping and learning
    curves. Same parameters as :class:`~._net.ValidationNDCG`.
    """

    metric_name = "valid_recall"

    def _score(self, net):
        """Share of the validation pairs found in their user's top k."""
        hits = sum(int(block.sum()) for _, block in self._top_hits(net))
        return hits / max(int(np.diff(self.valid.indptr)[self.users_].sum()), 1)


@filled_doc
class TwoTower(FormulaScoring, TorchRecommender):
    """Two-tower retrieval trained with an in-batch sampled softmax.

    A user tower and an item tower map each id (plus, optionally, its row of
    ``user_features`` / ``item_features`` through a small dense network) to
    a unit vector; the score is their cosine divided by ``temperature``.
    Training treats each interaction as a query whose positive must win a
    softmax against the other items of the batch (the sampled negatives),
    with the log-q correction that removes the popularity bias of in-batch
    sampling (Yi et al., 2019) and accidental hits masked. Serving is exact
    by default: ``recommend`` and :class:`BruteForceIndex` (``index_``) rank
    every item with matrix products and ``argpartition``; with
    ``retrieval="hnsw"``, ``recommend`` searches an HNSW graph instead. Items added after fit with
    their features (:meth:`add_items`) get vectors from the item tower's
    feature network, without retraining; so do new users
    (:meth:`embed_users`, to query ``index_``).

    Parameters
    ----------
    n_factors : int, default=128
        Dimension of the user and item vectors.
    hidden_layers : sequence of int, default=(64,)
        Dense layers of the feature networks (unused without features).
    temperature : float, default=0.1
        Softmax temperature on the cosine scores (smaller: sharper).
    log_q_correction : bool, default=True
        Whether to subtract ``log q_i`` (``q_i`` the item's share of the
        training rows) from the in-batch logits.
    id_dropout : float, default=0.0
        Share of training rows whose id embeddings are zeroed, in [0, 1):
        with features, a value such as 0.2 teaches the feature networks to
        place new items on their own.
    lr : float, default=0.02
        Learning rate. ``n_factors``, ``lr``, ``max_epochs`` and
        ``batch_size`` are the best validation NDCG@10 (0.2314, on the
        training part of ml-100k's 80/20 split) among the candidates of a
        54-setting grid that fit within 1.5x the time of implicit's
        ``BayesianPersonalizedRanking()`` measured in the same run
        (``benchmarks/select_defaults.py``, ``benchmarks/results/defaults.json``).
    max_epochs : int, default=3
        Passes over the interactions.
    batch_size : int, default=512
        Interactions per batch: each row's negatives are the batch's other
        items, so larger batches give more negatives.
    optimizer : {"adam", "sgd", "adagrad"} or torch optimizer class, default="adam"
        The optimiser; further arguments as ``optimizer__*``.
    early_stopping : bool, default=False
        Whether to hold out ``validation_fraction`` of each user's rows and
        stop when the validation recall@``validation_k`` has not improved
        for 5 epochs, keeping the best epoch's weights.
    validation_fraction : float, default=0.1
        Share of each user's rows held out with ``early_stopping``.
    validation_k : int, default=10
        List length of the validation recall.
    init_std : float, default=0.1
        Standard deviation of the initial id embeddings.
    {retrieval_parameters}
    {runtime_parameters}

    Attributes
    ----------
    user_vectors_ : ndarray of shape (n_users_, n_factors)
        Unit user vectors (float32), in the order of ``users_``.
    item_vectors_ : ndarray of shape (n_items_, n_factors)
        Unit item vectors (float32), in the order of ``items_``.
    index_ : BruteForceIndex
        Exact top-k index over ``item_vectors_ / temperature``, queried with
        ``user_vectors_`` rows.
    user_feature_names_ : ndarray of str or None
        Columns of ``user_features`` at fit: :meth:`embed_users` needs the
        same.
    item_feature_names_ : ndarray of str or None
        Columns of ``item_features`` at fit: :meth:`add_items` needs the same.
    net_ : skorch.NeuralNet
        The trained skorch net.
    history_ : skorch.History
        Per-epoch ``train_loss``, and with ``early_stopping`` ``valid_loss``
        and ``valid_recall``.
    n_epochs_ : int
        Epochs run.
    users_ : ndarray of shape (n_users_,)
        User ids seen at fit, sorted.
    items_ : ndarray of shape (n_items_,)
        The catalogue, sorted: items of ``X``, of ``item_features`` and of
        :meth:`add_items`.
    {catalogue_attributes}

    See Also
    --------
    ImplicitMatrixFactorization : A dot product trained with sampled negatives.
    BruteForceIndex : The exact top-k index.

    Notes
    -----
    Feature columns must be numeric (one-hot encode categories first); they
    are standardised with their mean and standard deviation at fit.
    ``predict`` returns the score (cosine / temperature). ``n_factors``,
    ``max_epochs``, ``batch_size`` and ``lr`` were chosen by
    ``benchmarks/select_defaults.py`` on a validation split of the ml-100k
    training part, as the best validation NDCG@10 among the settings that fit
    within 1.5x the time of implicit's ``BayesianPersonalizedRanking()``
    (issue 16 asks for 2x): more factors and epochs score higher on
    validation (256 factors and 10 epochs: NDCG@10 0.252 against 0.228) at
    3x the fit time (``benchmarks/results/defaults.json``).

    References
    ----------
    .. [1] X. Yi, J. Yang, L. Hong, D. Z. Cheng, L. Heldt, A. Kumthekar,
       Z. Zhao, L. Wei and E. Chi, "Sampling-bias-corrected neural modeling
       for large corpus item recommendations", RecSys 2019.

    Examples
    --------
    >>> from sklearn_recs.neural import TwoTower
    >>> from sklearn_recs.utils._testing import checkerboard
    >>> X = checkerboard(20, 20)
    >>> model = TwoTower(n_factors=4, batch_size=32, max_epochs=10,
    ...                  random_state=0).fit(X)
    >>> model.recommend([0], top_n=3, exclude_seen=False).shape
    (1, 3)
    """

    _implicit = True
    _parameter_constraints: dict = {
        **{k: v for k, v in COMMON_CONSTRAINTS.items()
           if k not in ("alpha", "alpha_bias", "optimizer")},
        **RETRIEVAL_CONSTRAINTS,
        "optimizer": [StrOptions({"adam", "sgd", "adagrad"}), type],
        "hidden_layers": ["array-like"],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "log_q_correction": ["boolean"],
        "id_dropout": [Interval(Real, 0, 1, closed="left")],
        "validation_k": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, *, n_factors=128, hidden_layers=(64,), temperature=0.1,
                 log_q_correction=True, id_dropout=0.0, lr=0.02, max_epochs=3,
                 batch_size=512, optimizer="adam", early_stopping=False,
                 validation_fraction=0.1, validation_k=10, init_std=0.1,
                 retrieval="exact", retrieval_params=None, device="cpu",
                 n_jobs=None, callbacks=None, checkpoint_dir=None, random_state=None,
                 verbose=0, **kwargs):
        store_params(self, locals())

    # -- features ----------------------------------------------------------
    def _check_features(self, features, noun):
        if not isinstance(features, pd.DataFrame):
            raise TypeError(
                f"TwoTower: {noun}_features must be a pandas DataFrame indexed by "
                f"{noun} id with numeric columns; got {type(features).__name__}."
            )
        bad = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
        if bad or not features.shape[1]:
            raise ValueError(
                f"TwoTower: {noun}_features needs at least one column, all numeric; "
                f"columns {bad} are not. One-hot encode them first (pd.get_dummies)."
            )
        values = features.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError(
                f"TwoTower: {noun}_features holds NaN or infinite values; fill them "
                "(e.g. features.fillna(0)) before fit."
            )
        if features.index.has_duplicates:
            raise ValueError(f"TwoTower: {noun}_features has duplicate {noun} ids in its index.")
        return values

    def _feature_table(self, features, ids, noun):
        """Standardised feature rows of ``ids`` (all must be in the index), or None."""
        setattr(self, f"{noun}_feature_names_", None)
        if features is None:
            return None
        values = self._check_features(features, noun)
        position = pd.Index(check_ids(features.index, what=f"{noun} ids")).get_indexer(ids)
        if (position < 0).any():
            missing = ids[position < 0]
            raise ValueError(
                f"TwoTower: {len(missing)} {noun}(s) of X have no row in {noun}_features "
                f"(e.g. {missing[:5].tolist()}); add them, e.g. "
                f"{noun}_features.reindex(all_ids).fillna(0)."
            )
        setattr(self, f"{noun}_feature_names_", np.asarray(features.columns, dtype=object))
        mean, scale = values.mean(0), values.std(0)
        scale[scale == 0] = 1.0
        setattr(self, f"_{noun}_scaling", (mean, scale))
        return torch.as_tensor((values[position] - mean) / scale, dtype=torch.float32)

    # -- fitting -----------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, user_features=None, item_features=None):
        """Fit both towers to the interactions.

        {fit_X}; each distinct pair is
            a positive.
        y : None
            Ignored (every distinct pair is a positive).
        user_features : DataFrame of shape (n_users, n_user_features), default=None
            Numeric feature rows indexed by user id; every user of ``X`` needs
            one.
        item_features : DataFrame of shape (n_items, n_item_features), default=None
            Numeric feature rows indexed by item id; every item of ``X``
            needs one, and items without interactions join the catalogue.

        {fit_returns}
        """
        if y is not None:  # ignored, but validated as every estimator's y
            check_interactions(X, y, implicit=True, estimator=self)
        layers = check_layer_sizes(self.hidden_layers, "TwoTower")
        check_retrieval(self)
        extra = None if item_features is None else item_features.index
        users, items, _ = self._fit_interactions(X, None, implicit=True, extra_items=extra)
        module_kwargs = dict(
            n_users=self.n_users_, n_items=self.n_items_, n_factors=self.n_factors,
            user_features=self._feature_table(user_features, self.users_, "user"),
            item_features=self._feature_table(item_features, self.items_, "item"),
            hidden_layers=layers, temperature=self.temperature, id_dropout=self.id_dropout,
            init_std=self.init_std)
        if self.log_q_correction:
            share = np.maximum(self._popularity, 1.0) / len(users)
            module_kwargs["log_q"] = torch.as_tensor(np.log(share), dtype=torch.float32)
        valid, callbacks = None, []
        if self.early_stopping:
            valid, callbacks = split_validation(self, users, items, implicit=True,
                                                callback=FactorizedTopKRecall,
                                                name="valid_recall")
        module = self._train(
            TwoTowerModule, InBatchSoftmaxLoss, users, items, None,
            module_kwargs=module_kwargs, valid=valid, monitor="valid_recall",
            lower_is_better=False, extra_callbacks=callbacks)
        module = module.to("cpu").eval()
        with torch.no_grad():
            self.user_vectors_ = module.user_tower(torch.arange(self.n_users_)).numpy()
            self.item_vectors_ = module.item_tower(torch.arange(self.n_items_)).numpy()
        self._check_finite(self.user_vectors_, self.item_vectors_)
        self.index_ = BruteForceIndex().fit(self.item_vectors_ / self.temperature, self.items_)
        self._formula()  # built now: serving never writes to the estimator
        return self

    def add_items(self, item_features):
        """Add items to the catalogue from their features, without retraining.

        Each new item's vector comes from the item tower's feature network
        (no id embedding: the item had no interactions); ``recommend`` and
        ``index_`` rank it with the others from then on.

        Parameters
        ----------
        item_features : DataFrame of shape (n_new, n_item_features)
            Feature rows indexed by new item ids, with exactly the columns
            of ``item_features`` at fit (``item_feature_names_``).

        Returns
        -------
        self : TwoTower
            The model, with the items added.
        """
        vectors = self._embed_from_features(item_features, "item")
        new_ids = self._check_id_kind(
            check_ids(item_features.index, what="item ids", estimator=self), "item")
        known = self._item_index.get_indexer(new_ids) >= 0
        if known.any():
            raise ValueError(
                f"TwoTower: {int(known.sum())} item id(s) are already in the catalogue "
                f"(e.g. {new_ids[known][:5].tolist()}); add_items takes new items only."
            )
        catalogue = pd.Index(self.items_).append(pd.Index(new_ids)).sort_values()
        old, new = catalogue.get_indexer(self.items_), catalogue.get_indexer(new_ids)
        previous = self.item_vectors_
        self.item_vectors_ = np.zeros((len(catalogue), vectors.shape[1]), dtype=np.float32)
        self.item_vectors_[old] = previous
        self.item_vectors_[new] = vectors
        popularity = np.zeros(len(catalogue))
        popularity[old] = self._popularity
        matrix = self.interactions_
        self.interactions_ = sp.csr_matrix((matrix.data, old[matrix.indices], matrix.indptr),
                                           shape=(self.n_users_, len(catalogue)))
        self.interactions_.sort_indices()
        self.items_ = np.asarray(catalogue)
        self._item_index = catalogue
        self.n_items_ = len(catalogue)
        self._popularity = popularity
        self._fallback = (0.0, np.zeros(self.n_users_), popularity)
        self.index_ = BruteForceIndex().fit(self.item_vectors_ / self.temperature, self.items_)
        self._formula()  # built now: serving never writes to the estimator
        return self

    def embed_users(self, user_features):
        """Unit vectors of users from their features alone, without retraining.

        For users unseen at fit (no id embedding): query the item index with
        them, ``index_.search(model.embed_users(features), k)``.

        Parameters
        ----------
        user_features : DataFrame of shape (n_users, n_user_features)
            Feature rows, with exactly the columns of ``user_features`` at
            fit (``user_feature_names_``).

        Returns
        -------
        vectors : ndarray of shape (n_users, n_factors)
            The user tower's vectors, in the order of the rows.
        """
        return self._embed_from_features(user_features, "user")

    def _embed_from_features(self, features, noun):
        """A tower's vectors for feature rows alone, after checking their columns."""
        check_is_fitted(self)
        names = getattr(self, f"{noun}_feature_names_")
        if names is None:
            raise ValueError(
                f"TwoTower: the {noun} tower was built without {noun} features, so it "
                f"cannot embed new {noun}s; refit with {noun}_features=... to do so."
            )
        values = self._check_features(features, noun)
        columns = list(features.columns)
        if columns != list(names):
            raise ValueError(
                f"TwoTower: {noun}_features has columns the {noun} tower was not built "
                f"for: unexpected {sorted(set(columns) - set(names))}, missing "
                f"{sorted(set(names) - set(columns))} (order matters). Pass exactly "
                f"{list(names)}."
            )
        mean, scale = getattr(self, f"_{noun}_scaling")
        tower = getattr(self.net_.module_, f"{noun}_tower")
        with torch.no_grad():
            return tower(features=torch.as_tensor((values - mean) / scale,
                                                  dtype=torch.float32)).numpy()

    # -- scoring (the "two_tower" formula of sklearn_recs._scoring) ----------
    def _similar_item_scores(self, item_codes):
        return self._formula().similar_item_scores(item_codes)

    def _explain_terms(self, user_codes, item_codes):
        return factor_model_terms(self, user_codes, item_codes)

    def _serving_arrays(self):
        """The towers' vectors: the formula's operands, for scoring and ``save_npz``."""
        return "two_tower", dict(user_vectors=self.user_vectors_,
                                 item_vectors=self.item_vectors_,
                                 temperature=self.temperature,
                                 similarity_vectors=self.item_vectors_,
                                 **retrieval_arrays(self))

    def __sklearn_tags__(self):
        return _implicit_tags(super().__sklearn_tags__())

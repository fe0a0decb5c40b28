"""The matrix factorisation family: explicit (MSE) and implicit (BPR / BCE / softmax).

Both score ``user_factors[u] @ item_factors[i] + item_bias[i] +
user_offset[u]``, the ``"factors"`` formula of :mod:`sklearn_recs._scoring`
shared with the ``.npz`` export, and fold in new users at recommend time
(:class:`~sklearn_recs._fold_in.FoldInMixin`).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from .._explain import factor_model_terms
from .._retrieval import RETRIEVAL_CONSTRAINTS, check_retrieval, retrieval_arrays
from .._scoring import FormulaScoring
from ..base import _implicit_tags
from ._base import (
    COMMON_CONSTRAINTS,
    TorchRecommender,
    filled_doc,
    split_validation,
    store_params,
)
from ._data import InteractionData, sample_negatives
from .._fold_in import FoldInMixin
from ._modules import BCELoss, BiasedMF, BPRLoss, MSELoss, SampledSoftmaxLoss
from ._net import ImplicitTermStep, LinearLRDecay

__all__ = ["ImplicitMatrixFactorization", "MatrixFactorization"]

_RANKING_LOSSES = {"bpr": BPRLoss, "bce": BCELoss, "softmax": SampledSoftmaxLoss}


class _FactorModel(FoldInMixin, FormulaScoring, TorchRecommender):
    """Scoring, similar items, export and fold-in of a factor model (not public).

    Subclasses set ``user_factors_``, ``item_factors_`` and ``item_bias_``
    at fit and give each user's offset (``_user_offsets``) and the fold-in
    solution (``_fold_in``).
    """

    def _optimizer(self):
        # SGD's and Adagrad's steps are the same on a sparse gradient and on
        # its dense equivalent, and a dense one is cheaper for a table no
        # larger than a batch's look-ups (BiasedMF's sparse="auto")
        optimizer, sparse = super()._optimizer()
        if sparse and not issubclass(optimizer, torch.optim.SparseAdam):
            sparse = "auto"
        return optimizer, sparse

    def _user_offsets(self, codes, extra):
        """The user term of the score: ``mu + b_u``, or 0 (``extra``: fold-in users)."""
        raise NotImplementedError

    def _user_vectors(self, codes, extra):
        """Rows of ``user_factors_`` (codes < n_users_) or of fold-in ``extra``."""
        if extra is None:
            return self.user_factors_[codes]
        factors, _ = extra
        new = codes >= self.n_users_
        out = np.empty((len(codes), self.user_factors_.shape[1]), dtype=self.user_factors_.dtype)
        out[~new] = self.user_factors_[codes[~new]]
        out[new] = factors[codes[new] - self.n_users_]
        return out

    def _fold_in_rows(self, codes, extra):
        codes = np.asarray(codes)
        return self._user_vectors(codes, extra), self._user_offsets(codes, extra)

    def _score_fold_in(self, codes, item_codes, extra):
        return self._formula().score_vectors(*self._fold_in_rows(codes, extra), item_codes)

    def _similar_item_scores(self, item_codes):
        return self._formula().similar_item_scores(item_codes)

    def _explain_terms(self, user_codes, item_codes):
        return factor_model_terms(self, user_codes, item_codes)

    def _serving_arrays(self):
        """The ``"factors"`` formula's arrays (scoring and :func:`~sklearn_recs.serving.save_npz`)."""
        norms = np.linalg.norm(self.item_factors_, axis=1)
        return "factors", dict(
            user_factors=self.user_factors_, item_factors=self.item_factors_,
            item_bias=self.item_bias_,
            user_offset=self._user_offsets(np.arange(self.n_users_), None),
            rating_range=self.rating_range_ if getattr(self, "clip", False) else None,
            similarity_vectors=self.item_factors_ / np.maximum(norms, 1e-12)[:, None],
            **retrieval_arrays(self))


def _stable_steps(codes, n_rows, lr):
    """Per-row gradient factors that keep SGD stable on rows filling much of every batch.

    The batch-mean squared error has curvature ``2 k / batch_size`` in the
    bias of a row looked up ``k`` times in the batch, ``2 * share`` on
    average (``share``: the row's fraction of the training rows), so a step
    of ``lr`` overshoots once ``lr * share`` passes 1 and training diverges
    (a user with thousands of ratings). Each row's gradient is scaled by
    ``min(1, 0.5 / (lr * share))``: rows with ``lr * share <= 0.5`` train as
    before, heavier ones at half the largest stable step. A diagonal
    preconditioner: the objective and its minimum are unchanged. None when
    no row needs it.
    """
    share = np.bincount(codes, minlength=n_rows) / max(len(codes), 1)
    step = np.minimum(1.0, 0.5 / np.maximum(lr * share, 1e-12))
    return None if (step == 1.0).all() else step


#: Rate of the implicit factors' once-per-epoch step, relative to ``lr``:
#: chosen on the validation split of ``benchmarks/select_defaults.py`` with a
#: NumPy prototype of this training (128 factors, 15 epochs from lr 90): a
#: tenth scored RMSE 0.9159, a fifth 0.9196, a twentieth 0.9174, and the
#: whole rate (a step on every batch) 0.938, worse than no implicit term (0.923).
_IMPLICIT_RATE = 0.1

#: How much farther than the user factors ``p_u`` the implicit step may move
#: the sums ``s_u`` along any direction of user space, per epoch. Both follow
#: the same accumulated gradient ``g`` (``x_u = p_u + s_u`` absorbs one
#: residual): the epoch's SGD steps move ``p`` by about ``lr g``, and the
#: implicit step at ``lr * _IMPLICIT_RATE`` moves ``s`` by ``lr *
#: _IMPLICIT_RATE * K g``, ``K = N^ N^T`` (``N^``: the rated items, row ``u``
#: scaled by ``|N(u)|^-1/2``). ``K``'s diagonal is 1, but its top eigenvalues,
#: directions that many users share, are in the tens to hundreds (143 on
#: ml-100k's ``u1.base``, 73 on ml-latest-small), so along them ``s`` moved
#: 14 times as far as ``p`` and ``x`` overshot: every implicit candidate of
#: ``benchmarks/select_defaults.py`` diverged when trained three times longer.
#: The module caps ``K``'s spectrum at ``_IMPLICIT_CAP / _IMPLICIT_RATE``
#: (:func:`~._modules.implicit_deflation`, ``implicit_cap``), so ``x`` moves
#: at most ``1 + _IMPLICIT_CAP`` times as far as ``p`` alone along any
#: direction. Chosen with the prototype of ``_IMPLICIT_RATE`` (64 factors,
#: 10 epochs from lr 135, validation split): no cap 0.9160 (diverges at 30
#: epochs), cap 4 0.9163, 2 0.9165, 1 0.9171, 0.5 0.9189; 2 keeps a margin
#: and trained 30 epochs, also at alpha / 10, on every ml-100k training fold
#: and ml-latest-small with 64 and 128 factors. (Per-item steps from a
#: bound on the y block's curvature, stable by construction, learnt less:
#: 0.9189 at best.)
_IMPLICIT_CAP = 2.0


def _rated(users, items, shape):
    """The user-item matrix with a stored 1 for each rated pair (duplicates once)."""
    matrix = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)), shape=shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def _implicit_step(implicit, alpha, batch_size):
    """The callback stepping the implicit factors once per epoch of ``implicit.nnz`` rows.

    The penalty ``alpha * |y_j|^2`` counts once per pair ``(u, j)`` of the
    epoch, as ``alpha * |q_j|^2`` counts per rating of ``j``: summed over
    the epoch's batch means, its gradient is ``2 alpha n_j y_j`` over the
    mean batch size (``n_j``: the users who rated ``j``).
    """
    n_rows = implicit.nnz
    n_batches = -(-n_rows // batch_size)
    counts = np.bincount(implicit.indices, minlength=implicit.shape[1])
    return ImplicitTermStep(n_batches, 2 * alpha * counts * n_batches / max(n_rows, 1),
                            _IMPLICIT_RATE)


@filled_doc
class MatrixFactorization(RegressorMixin, _FactorModel):
    """Biased matrix factorisation for ratings (Funk SVD / Koren), in PyTorch.

    Predicts ``r_ui = mu + b_u + b_i + p_u . q_i`` and learns the biases and
    factors by minimising the squared error with L2 regularisation applied
    per occurrence, as in Funk's and Koren's SGD: each row of a batch adds
    ``alpha * (|p_u|^2 + |q_i|^2) + alpha_bias * (b_u^2 + b_i^2)`` for its own
    user and item, so frequent users and items are regularised in
    proportion to their data (not a blanket weight decay). ``mu`` is the
    training mean. skorch runs the training loop (``net_``): mini-batches are
    sliced from whole index tensors, and one fused forward/backward gives
    row-sparse gradients for the sparse-aware optimisers, so an update
    costs O(batch), not O(table). With SGD, a user or item that fills so
    much of every batch that a step of ``lr`` would overshoot its minimum
    (``lr`` times its share of the ratings above 0.5, e.g. a user with
    thousands of ratings) has its gradient scaled down to a stable step,
    where training would otherwise diverge; the objective is unchanged.

    With ``implicit_term=True`` the model is Koren's SVD++: the user vector
    is ``p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j``, ``N(u)`` the items the
    user rated in training, so which items a user rated informs the
    prediction besides how they were rated. The sums are cached per user:
    each batch reads them and accumulates their gradient, and once per
    epoch the factors ``y_j`` take one SGD step (at ``lr / 10``, with the
    penalty ``alpha * |y_j|^2`` per rating of ``j``) and the sums are
    recomputed, so the term costs two passes over the ratings per epoch,
    not per batch. That step moves the sums along directions of user space
    that many users share (items they all rated) tens of times as far as
    the user factors move for the same gradient, and ``p_u + s_u`` then
    overshoots; along those few directions (eigenvectors of the users'
    shared-item matrix, found once at fit) the step is capped, so that the
    sums move at most twice as far as the user factors along any direction.
    Fitted, ``user_factors_`` holds the whole user vector, which is what
    ``predict``, ``recommend`` and the ``.npz`` export score.

    Parameters
    ----------
    n_factors : int, default=64
        Dimension of the user and item factors.
    alpha : float, default=0.07
        L2 strength on the factors, per occurrence in a batch.
    alpha_bias : float, default=0.01
        L2 strength on the biases; None means ``alpha``.
    lr : float, default=135.0
        Learning rate (of the first epoch with ``lr_schedule="linear"``).
        The loss is the batch mean, so plain SGD needs a large rate:
        ``lr / batch_size`` is the per-rating step of classic (one rating at
        a time) Funk SVD, up to a factor 2; scale ``lr`` with
        ``batch_size`` to keep that step (a row that fills much of a batch
        then takes a larger step: lower ``lr`` if training diverges).
    lr_schedule : {"constant", "linear"}, default="linear"
        How the learning rate changes over the epochs: ``"linear"`` falls
        from ``lr`` in the first epoch to ``lr / max_epochs`` in the last
        (epoch ``e`` runs at ``lr * (1 - e / max_epochs)``, on top of any LR
        scheduler in ``callbacks``); ``"constant"`` keeps ``lr``. A large
        early step and a small late one reach in 10-15 epochs the validation
        RMSE that a constant rate needs 50 for.
    implicit_term : bool, default=True
        Whether to add the SVD++ implicit-feedback term
        ``|N(u)|^-1/2 sum_{j in N(u)} y_j`` to each user's vector (see
        above; ``implicit_factors_`` holds the ``y_j``). Users folded in at
        recommend time get the whole vector in closed form, as without it.
        The ``y_j`` take SGD steps whatever the ``optimizer`` (at its
        ``lr / 10``: little learning at an Adam-sized ``lr``).
        On the validation split below it lowers the RMSE from 0.9242 to
        0.9160 (64 factors, 10 epochs from lr 135).
    max_epochs : int, default=10
        Passes over the training data (fewer with ``early_stopping``).
        ``lr``, ``lr_schedule``, ``implicit_term``, ``max_epochs``,
        ``n_factors`` and ``alpha`` are the fastest candidate (measured fit
        time) within 0.002 of the best validation RMSE of a ``{constant,
        linear} x {False, True} x {10, 15} x {64, 128, 256} x {0.07, 0.09}
        x {90, 135}`` grid on ratings carved from ml-100k's ``u1.base``,
        among those fitting no slower than an earlier default (128
        factors, 15 epochs at lr 90, no implicit term) and training without
        divergence on every ml-100k training fold and ml-latest-small, as
        chosen, for three times ``max_epochs`` and also with ``alpha / 10``:
        0.9160 in about three quarters of that default's fit time, the
        best within the budget (``benchmarks/results/defaults.json``).
    batch_size : int, default=4096
        Rows per mini-batch; larger than the data means one batch.
    optimizer : {"sgd", "sparse_adam", "adam", "adagrad"} or torch optimizer class, default="sgd"
        ``"sgd"`` (sparse gradients: the fastest update), ``"sparse_adam"``
        (lazy Adam on sparse gradients; use ``lr`` around 0.003),
        ``"adagrad"`` (sparse gradients), ``"adam"`` (dense Adam: updates
        every row each step, slow for big tables). Further arguments go as
        ``optimizer__*`` keyword arguments.
    early_stopping : bool, default=False
        Whether to hold out ``validation_fraction`` of each user's ratings,
        stop when the validation MSE has not improved for 5 epochs
        (``callbacks__early_stopping__patience`` changes it) and keep the
        best epoch's weights.
    validation_fraction : float, default=0.1
        Share of each user's ratings held out with ``early_stopping``.
    clip : bool, default=True
        Whether ``predict`` clips to the training rating range
        ``rating_range_`` (``recommend`` ranks by the unclipped scores).
    init_std : float, default=0.02
        Standard deviation of the initial factors.
    {retrieval_parameters}
    device : str or torch.device, default="cpu"
        Where to train, e.g. ``"cuda"``. Serving (``predict``, ``recommend``)
        uses the exported numpy factors on the CPU.
    n_jobs : int, default=None
        CPU threads for torch during fit (restored afterwards). None means
        1, as in scikit-learn: embedding look-ups on mini-batches gain
        little from threads and lose much when the cores are shared; -1
        uses every available core (worth it for large ``batch_size``).
    callbacks : list of skorch callbacks, default=None
        Extra callbacks for the skorch net (e.g. an LR scheduler).
    {checkpoint_dir}
    {random_state}

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users_, n_factors)
        User factors ``p_u`` (float32), in the order of ``users_``; with
        ``implicit_term``, ``p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j``.
    implicit_factors_ : ndarray of shape (n_items_, n_factors)
        The implicit factors ``y_j`` (float32); only with ``implicit_term``.
    item_factors_ : ndarray of shape (n_items_, n_factors)
        Item factors ``q_i`` (float32), in the order of ``items_``.
    user_bias_ : ndarray of shape (n_users_,)
        User biases ``b_u``.
    item_bias_ : ndarray of shape (n_items_,)
        Item biases ``b_i``.
    global_mean_ : float
        ``mu``, the mean training rating.
    rating_range_ : tuple of float
        (min, max) training rating, the clipping range of ``predict``.
    net_ : skorch.NeuralNet
        The trained skorch net (module, optimizer, callbacks).
    history_ : skorch.History
        Per-epoch ``train_loss`` (MSE + penalty) and, with
        ``early_stopping``, ``valid_loss`` (MSE), for learning curves.
    n_epochs_ : int
        Epochs run.
    {vocabulary_attributes}
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        The training ratings (duplicates averaged).
    n_features_in_ : int
        Number of columns of ``X`` at fit.

    See Also
    --------
    ImplicitMatrixFactorization : The same model trained for ranking.
    sklearn_recs.baselines.BiasBaseline : The biases alone.

    Notes
    -----
    ``recommend(users, interactions=X_new, interactions_y=r_new)`` folds in
    users unseen at fit: their ``p_u, b_u`` solve the same regularised least
    squares in closed form with the item side fixed. An unknown user or item
    in ``predict`` gets ``mu + b_i`` or ``mu + b_u``.

    The defaults were chosen on a validation split of the ml-100k training
    folds (``benchmarks/select_defaults.py``).

    References
    ----------
    .. [1] Y. Koren, R. Bell and C. Volinsky, "Matrix factorization
       techniques for recommender systems", IEEE Computer 42(8), 2009.
    .. [2] Y. Koren, "Factorization meets the neighborhood: a multifaceted
       collaborative filtering model", KDD 2008 (SVD++).

    Examples
    --------
    >>> from sklearn_recs.neural import MatrixFactorization
    >>> from sklearn_recs.utils._testing import tiny_ratings
    >>> X, y = tiny_ratings()
    >>> model = MatrixFactorization(n_factors=4, max_epochs=5, batch_size=64,
    ...                             lr=1.0, random_state=0)
    >>> model.fit(X, y)
    MatrixFactorization(...)
    >>> model.predict(X.iloc[:2]).shape
    (2,)
    >>> model.recommend(["u00"], top_n=3).shape
    (1, 3)
    """

    _parameter_constraints: dict = {**COMMON_CONSTRAINTS, **RETRIEVAL_CONSTRAINTS,
                                    "lr_schedule": [StrOptions({"constant", "linear"})],
                                    "implicit_term": ["boolean"],
                                    "clip": ["boolean"]}

    def __init__(self, *, n_factors=64, alpha=0.07, alpha_bias=0.01, lr=135.0,
                 lr_schedule="linear", implicit_term=True, max_epochs=10, batch_size=4096,
                 optimizer="sgd",
                 early_stopping=False, validation_fraction=0.1, clip=True,
                 init_std=0.02, retrieval="exact", retrieval_params=None, device="cpu", n_jobs=None, callbacks=None,
                 checkpoint_dir=None, random_state=None, verbose=0, **kwargs):
        store_params(self, locals())

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the factors to the ratings.

        {fit_X}.
        y : array-like of shape (n_samples,)
            Ratings (duplicate pairs are averaged).

        {fit_returns}
        """
        check_retrieval(self)
        users, items, ratings = self._fit_interactions(X, y, implicit=False)
        valid = None
        if self.early_stopping:
            valid, _ = split_validation(self, users, items, implicit=False)
        train = slice(None) if valid is None else ~valid
        mu = float(ratings[train].mean())
        alpha_bias = self.alpha if self.alpha_bias is None else self.alpha_bias
        steps = {}
        if issubclass(self._optimizer()[0], torch.optim.SGD):
            steps = dict(user_step=_stable_steps(users[train], self.n_users_, self.lr),
                         item_step=_stable_steps(items[train], self.n_items_, self.lr))
        callbacks = [("lr_schedule", LinearLRDecay())] if self.lr_schedule == "linear" else []
        implicit = None
        if self.implicit_term:
            implicit = _rated(users[train], items[train], (self.n_users_, self.n_items_))
            callbacks.append(("implicit_term", _implicit_step(implicit, self.alpha,
                                                              self.batch_size)))
        module = self._train(
            BiasedMF, MSELoss, users, items, ratings,
            module_kwargs=dict(n_users=self.n_users_, n_items=self.n_items_,
                               n_factors=self.n_factors, alpha=self.alpha, alpha_bias=alpha_bias,
                               global_mean=mu, init_std=self.init_std, implicit=implicit,
                               implicit_cap=_IMPLICIT_CAP / _IMPLICIT_RATE, **steps),
            valid=valid, extra_callbacks=callbacks)
        self.user_factors_ = self._to_numpy(module.user_factors)
        self.__dict__.pop("implicit_factors_", None)  # of an earlier fit
        if implicit is not None:
            self.implicit_factors_ = self._to_numpy(module.implicit_factors)
            # the effective user vectors: what the exported "factors" formula scores
            self.user_factors_ += self._to_numpy(module.implicit_sums)
        self.item_factors_ = self._to_numpy(module.item_factors)
        self.user_bias_ = self._to_numpy(module.user_bias).astype(np.float64)
        self.item_bias_ = self._to_numpy(module.item_bias).astype(np.float64)
        self._check_finite(self.user_factors_, self.item_factors_, self.user_bias_,
                           self.item_bias_)
        self.global_mean_ = mu
        self.rating_range_ = (float(ratings.min()), float(ratings.max()))
        self._fallback = (mu, self.user_bias_, self.item_bias_)
        self._formula()  # built now: serving never writes to the estimator
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True  # few epochs in the common checks
        return tags

    def _user_offsets(self, codes, extra):
        if extra is None:
            return self.global_mean_ + self.user_bias_[codes]
        new = codes >= self.n_users_
        out = np.empty(len(codes))
        out[~new] = self.user_bias_[codes[~new]]
        out[new] = extra[1][codes[new] - self.n_users_]
        return self.global_mean_ + out

    def _fold_in(self, matrix):
        """Closed-form ``(p_u, b_u)`` of new users, item side fixed.

        Each user's ridge regression of ``r - mu - b_i`` on ``[q_i, 1]``
        with penalty ``n_u * alpha`` (factors) and ``n_u * alpha_bias`` (bias):
        the training objective restricted to that user.
        """
        n_new, d = matrix.shape[0], self.item_factors_.shape[1]
        alpha_bias = self.alpha if self.alpha_bias is None else self.alpha_bias
        factors = np.zeros((n_new, d))
        biases = np.zeros(n_new)
        counts = np.diff(matrix.indptr)
        step = max(1, 4096 // max(int(counts.mean()) if n_new else 1, 1))
        ridge = np.r_[np.full(d, self.alpha), alpha_bias]
        for start in range(0, n_new, step):
            block = matrix[start:start + step]
            rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
            feats = np.column_stack([self.item_factors_[block.indices].astype(np.float64),
                                     np.ones(len(rows))])
            target = block.data - self.global_mean_ - self.item_bias_[block.indices]
            gram = np.zeros((block.shape[0], d + 1, d + 1))
            np.add.at(gram, rows, feats[:, :, None] * feats[:, None, :])
            rhs = np.zeros((block.shape[0], d + 1))
            np.add.at(rhs, rows, feats * target[:, None])
            n_u = np.maximum(np.diff(block.indptr), 1).astype(np.float64)
            gram += n_u[:, None, None] * np.diag(ridge)[None]
            solution = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]
            factors[start:start + step] = solution[:, :d]
            biases[start:start + step] = solution[:, d]
        return factors.astype(self.user_factors_.dtype), biases


@filled_doc
class ImplicitMatrixFactorization(_FactorModel):
    """Matrix factorisation for implicit feedback, trained to rank (BPR, BCE, softmax).

    Scores ``s_ui = b_i + p_u . q_i`` and learns them from positives only
    (every row of ``X``), with ``n_negatives`` items sampled per positive for
    the whole batch at once and redrawn every epoch (skipping the user's
    known positives). ``loss="bpr"`` (Rendle et al.) maximises
    ``log sigmoid(s_ui - s_uj)`` for each sampled negative ``j``;
    ``loss="bce"`` is the binary cross-entropy of NCF (positive 1, negatives
    0); ``loss="softmax"`` is the cross-entropy of the positive against its
    negatives (a sampled softmax). L2 regularisation is per occurrence, on
    the rows of the batch.

    Parameters
    ----------
    loss : {"bpr", "bce", "softmax"}, default="bpr"
        The ranking loss.
    n_factors : int, default=64
        Dimension of the factors.
    n_negatives : int, default=3
        Sampled negatives per positive.
    sampler : {"uniform", "popularity"}, default="uniform"
        How negatives are drawn: uniformly over the catalogue, or in
        proportion to ``count ** 0.75`` (harder negatives).
    confidence_scale : float, default=0.0
        Confidence weighting from ``y``: a positive's loss is scaled by
        ``1 + confidence_scale * y`` (normalised to mean 1). Ignored when ``y`` is None.
    alpha : float, default=0.01
        L2 strength on the factors of each row's user and items.
    alpha_bias : float, default=None
        L2 strength on the item biases; None means ``alpha``.
    lr : float, default=160.0
        Learning rate; as in :class:`MatrixFactorization` the loss is the
        batch mean, so ``lr / batch_size`` is the per-positive SGD step
        (use ``lr`` around 0.005 with ``optimizer="sparse_adam"``). 160
        looks large but is a per-positive step of 160 / 4096, about 0.04.
        ``lr``, ``max_epochs`` and ``n_negatives`` are the best validation
        NDCG@10 on the training part of ml-100k's 80/20 split among the
        settings that fit within 1.5x the time of implicit's
        ``BayesianPersonalizedRanking()`` measured in the same run
        (``benchmarks/select_defaults.py``,
        ``benchmarks/results/defaults.json``): validation 0.2555 with 3
        negatives; 4 scored 0.2571 but took 1.55x BPR's time on a quiet machine.
    max_epochs : int, default=60
        Passes over the positives.
    batch_size : int, default=4096
        Positives per mini-batch.
    optimizer : {"sgd", "sparse_adam", "adam", "adagrad"} or torch optimizer class, default="sgd"
        See :class:`MatrixFactorization`. Plain SGD on the row-sparse
        gradients is the fastest update and ranked best on validation.
    early_stopping : bool, default=False
        Whether to hold out ``validation_fraction`` of each user's positives
        and stop on the validation NDCG@``validation_k`` (full-catalogue
        ranking), keeping the best epoch's weights.
    validation_fraction : float, default=0.1
        Share of each user's positives held out with ``early_stopping``.
    validation_k : int, default=10
        List length of the validation NDCG.
    init_std : float, default=0.1
        Standard deviation of the initial factors.
    {retrieval_parameters}
    {runtime_parameters}

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users_, n_factors)
        User factors (float32), in the order of ``users_``.
    item_factors_ : ndarray of shape (n_items_, n_factors)
        Item factors (float32), in the order of ``items_``.
    item_bias_ : ndarray of shape (n_items_,)
        Item biases.
    net_ : skorch.NeuralNet
        The trained skorch net.
    history_ : skorch.History
        Per-epoch ``train_loss`` and, with ``early_stopping``,
        ``valid_loss`` and ``valid_ndcg``.
    n_epochs_ : int
        Epochs run.
    {vocabulary_attributes}
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        The training weights (duplicates summed; 1 per row when ``y`` is
        None).
    n_features_in_ : int
        Number of columns of ``X`` at fit.

    See Also
    --------
    MatrixFactorization : The same model trained on ratings.

    Notes
    -----
    ``recommend(users, interactions=X_new)`` folds in users unseen at fit
    with a few Adam steps on their vector (item side fixed). ``predict``
    returns the score ``s_ui`` (popularity for an unknown user or item).

    The defaults were chosen on a validation split of the training part of
    a per-user ml-100k holdout, weighing fit time (see ``lr``).

    References
    ----------
    .. [1] S. Rendle, C. Freudenthaler, Z. Gantner and L. Schmidt-Thieme,
       "BPR: Bayesian personalized ranking from implicit feedback", UAI 2009.

    Examples
    --------
    >>> from sklearn_recs.neural import ImplicitMatrixFactorization
    >>> from sklearn_recs.utils._testing import checkerboard
    >>> X = checkerboard(10, 10)
    >>> model = ImplicitMatrixFactorization(n_factors=4, max_epochs=50, lr=5.0,
    ...                                     random_state=0).fit(X)
    >>> model.recommend([0], top_n=2, exclude_seen=False)
    array([[...]])
    """

    _implicit = True
    _parameter_constraints: dict = {
        **COMMON_CONSTRAINTS,
        **RETRIEVAL_CONSTRAINTS,
        "loss": [StrOptions(set(_RANKING_LOSSES))],
        "n_negatives": [Interval(Integral, 1, None, closed="left")],
        "sampler": [StrOptions({"uniform", "popularity"})],
        "confidence_scale": [Interval(Real, 0, None, closed="left")],
        "validation_k": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, *, loss="bpr", n_factors=64, n_negatives=3, sampler="uniform",
                 confidence_scale=0.0, alpha=0.01, alpha_bias=None, lr=160.0, max_epochs=60,
                 batch_size=4096, optimizer="sgd", early_stopping=False,
                 validation_fraction=0.1, validation_k=10, init_std=0.1,
                 retrieval="exact", retrieval_params=None, device="cpu", n_jobs=None, callbacks=None, checkpoint_dir=None,
                 random_state=None, verbose=0, **kwargs):
        store_params(self, locals())

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the factors to the interactions.

        {fit_X}; each distinct pair is
            a positive.
        y : array-like of shape (n_samples,), default=None
            Non-negative confidence weights (counts), used with ``confidence_scale``;
            None weighs every positive 1. Values that look like ratings (all on a
            half-star grid in 0.5-5) are still read as weights, with a
            ``DataWarning``: pass None, or the rows you count as positives
            (``X[ratings >= 4]``).

        {fit_returns}
        """
        check_retrieval(self)
        users, items, weights = self._fit_interactions(X, y, implicit=True)
        target = None
        if weights is not None and self.confidence_scale > 0:
            target = 1.0 + self.confidence_scale * weights
            target /= target.mean()
        positives = users.astype(np.int64) * self.n_items_ + items  # CSR order: sorted
        item_weights = None
        if self.sampler == "popularity":
            item_weights = np.maximum(self._popularity, 1e-3) ** 0.75
        valid, callbacks = None, []
        if self.early_stopping:
            valid, callbacks = split_validation(self, users, items, implicit=True)
        module = self._train(
            BiasedMF, _RANKING_LOSSES[self.loss], users, items, target,
            module_kwargs=dict(n_users=self.n_users_, n_items=self.n_items_,
                               n_factors=self.n_factors, alpha=self.alpha,
                               alpha_bias=self.alpha if self.alpha_bias is None else self.alpha_bias,
                               user_bias=False, init_std=self.init_std),
            n_negatives=self.n_negatives, positives=positives, item_weights=item_weights,
            valid=valid, monitor="valid_ndcg", lower_is_better=False,
            extra_callbacks=callbacks)
        self.user_factors_ = self._to_numpy(module.user_factors)
        self.item_factors_ = self._to_numpy(module.item_factors)
        self.item_bias_ = self._to_numpy(module.item_bias).astype(np.float64)
        self._check_finite(self.user_factors_, self.item_factors_, self.item_bias_)
        self._formula()  # built now: serving never writes to the estimator
        return self

    def _user_offsets(self, codes, extra):
        return np.zeros(len(codes))

    def _fold_in(self, matrix, n_steps=100, lr=0.05):
        """``p_u`` of new users by Adam steps on the training loss, items fixed."""
        n_new = matrix.shape[0]
        rows = np.repeat(np.arange(n_new), np.diff(matrix.indptr))
        if n_new == 0 or len(rows) == 0:
            return np.zeros((n_new, self.n_factors), dtype=np.float32), None
        q = torch.as_tensor(self.item_factors_)
        bi = torch.as_tensor(self.item_bias_, dtype=torch.float32)
        users = torch.as_tensor(rows)
        items = torch.as_tensor(matrix.indices.astype(np.int64))
        weights = None
        if self.confidence_scale > 0:
            w = 1.0 + self.confidence_scale * matrix.data
            weights = torch.as_tensor(w / w.mean(), dtype=torch.float32)
        keys = np.sort(rows.astype(np.int64) * self.n_items_ + matrix.indices)
        criterion = _RANKING_LOSSES[self.loss]()
        n_neg = self.n_negatives * 4 if self.loss == "bpr" else self.n_negatives
        p = torch.zeros((n_new, q.shape[1]), requires_grad=True)
        opt = torch.optim.Adam([p], lr=lr)
        gen = torch.Generator().manual_seed(self._seeds["fold_in"])
        data = InteractionData(users, items, n_items=self.n_items_, positives=keys)
        for _ in range(n_steps):
            neg = sample_negatives(data, data.users, n_neg, gen)
            cand = torch.cat([data.items[:, None], neg], 1)
            pu = p[data.users]
            scores = torch.bmm(q[cand], pu.unsqueeze(-1)).squeeze(-1) + bi[cand]
            loss = criterion(scores, weights) + self.alpha * pu.square().sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return p.detach().numpy().copy(), None

    def __sklearn_tags__(self):
        return _implicit_tags(super().__sklearn_tags__())

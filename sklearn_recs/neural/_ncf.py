"""Neural collaborative filtering estimators: GMF, MLP and NeuMF (He et al., 2017)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import RegressorMixin, _fit_context, clone
from sklearn.utils._param_validation import Interval, StrOptions

from ..base import RecommenderMixin, _implicit_tags
from ..utils.validation import check_interactions
from ._base import (
    COMMON_CONSTRAINTS,
    TorchRecommender,
    check_layer_sizes,
    fill_doc,
    filled_doc,
    split_validation,
    store_params,
)
from ._modules import BCELoss, MSELoss
from ._ncf_modules import _ACTIVATIONS, NCF

__all__ = ["GMF", "MLP", "NeuMF"]

_NCF_CONSTRAINTS: dict = {
    **{k: v for k, v in COMMON_CONSTRAINTS.items() if k not in ("alpha_bias", "optimizer")},
    "optimizer": [StrOptions({"adam", "sgd", "adagrad"}), type],
    "feedback": [StrOptions({"explicit", "implicit"})],
    "n_negatives": [Interval(Integral, 1, None, closed="left")],
    "y_range": [tuple, list, None],
    "validation_k": [Interval(Integral, 1, None, closed="left")],
}
_MLP_CONSTRAINTS: dict = {
    "mlp_factors": [Interval(Integral, 1, None, closed="left")],
    "hidden_layers": ["array-like"],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "activation": [StrOptions(set(_ACTIVATIONS))],
    "batch_norm": ["boolean"],
}


@filled_doc
class _NCFBase(RegressorMixin, TorchRecommender):
    """Shared fit and serving of GMF, MLP and NeuMF (not public)."""

    # RegressorMixin.score comes first in the MRO; the recommenders' score is
    # R^2 with feedback="explicit" and NDCG@10 with feedback="implicit".
    score = RecommenderMixin.score

    def _architecture(self, X, y):
        """Module arguments ``n_factors, mlp_factors, hidden_layers, ...`` (and weights)."""
        raise NotImplementedError

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model to ratings (``feedback="explicit"``) or interactions.

        {fit_X}.
        y : array-like of shape (n_samples,), default=None
            Ratings, required with ``feedback="explicit"``. Ignored for
            implicit feedback, where each distinct pair is a positive.

        {fit_returns}
        """
        name = type(self).__name__
        implicit = self.feedback == "implicit"
        if not implicit and y is None:
            raise ValueError(
                f"{name}: feedback='explicit' requires y to be passed, but the target y "
                "is None; pass the ratings as y, or set feedback='implicit' to learn a "
                "ranking from the interactions."
            )
        if self.y_range is not None and (len(self.y_range) != 2
                                         or not self.y_range[0] < self.y_range[1]):
            raise ValueError(
                f"{name}: y_range={self.y_range!r} is invalid; pass (low, high) with "
                "low < high, e.g. (0.5, 5.5) for 1-5 stars, or None."
            )
        if implicit and y is not None:  # ignored, but validated as every estimator's y
            check_interactions(X, y, implicit=True, estimator=self)
        users, items, values = self._fit_interactions(X, None if implicit else y,
                                                      implicit=implicit)
        architecture = self._architecture(X, y)
        valid, callbacks = None, []
        if self.early_stopping:
            valid, callbacks = split_validation(self, users, items, implicit)
        module_kwargs = dict(n_users=self.n_users_, n_items=self.n_items_, alpha=self.alpha,
                             init_std=self.init_std, **architecture)
        train_kw = dict(module_kwargs=module_kwargs, valid=valid, extra_callbacks=callbacks)
        self.rating_range_ = None
        if implicit:
            train_kw.update(n_negatives=self.n_negatives, monitor="valid_ndcg",
                            lower_is_better=False,
                            positives=users.astype(np.int64) * self.n_items_ + items)
            criterion, target = BCELoss, None
        else:
            mean = float(values.mean() if valid is None else values[~valid].mean())
            module_kwargs.update(global_mean=mean, y_range=self.y_range)
            self.rating_range_ = (float(values.min()), float(values.max()))
            criterion, target = MSELoss, values
        module = self._train(NCF, criterion, users, items, target, **train_kw)
        self.module_ = module.to("cpu").eval()
        self._check_finite(*(self._to_numpy(p) for p in self.module_.parameters()))
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.feedback == "implicit":
            return _implicit_tags(tags)
        tags.regressor_tags.poor_score = True  # few epochs in the common checks
        return tags

    # -- serving (on the CPU copy of the module) ---------------------------
    def _predict_pairs(self, user_codes, item_codes):
        users = torch.as_tensor(np.asarray(user_codes, dtype=np.int64))
        items = torch.as_tensor(np.asarray(item_codes, dtype=np.int64))
        with torch.no_grad():
            scores = torch.cat([self.module_(u, i) for u, i in
                                zip(torch.split(users, 2**16), torch.split(items, 2**16))])
        scores = scores.numpy().astype(np.float64)
        return scores if self.feedback == "implicit" else np.clip(scores, *self.rating_range_)

    def _score_users(self, user_codes, item_codes):
        users = torch.as_tensor(np.asarray(user_codes, dtype=np.int64))
        items = torch.arange(self.n_items_) if item_codes is None else torch.as_tensor(
            np.asarray(item_codes, dtype=np.int64))
        return self.module_.score_items(users, items).numpy()

    def _similar_item_scores(self, item_codes):
        """Cosine of the item embeddings (GMF and MLP tables side by side)."""
        tables = [t.weight for t in (self.module_.gmf_item, self.module_.mlp_item)
                  if t is not None]
        unit = torch.nn.functional.normalize(torch.cat(tables, dim=1), dim=1).detach().numpy()
        return unit[item_codes] @ unit.T


_NCF_DOC_COMMON = """
    feedback : {{"implicit", "explicit"}}, default="implicit"
        ``"implicit"``: learn a ranking from the interactions with binary
        cross-entropy, ``n_negatives`` items sampled per positive and
        redrawn every epoch (the NCF objective). ``"explicit"``: regress the
        ratings ``y`` with the squared error.
    n_negatives : int, default=4
        Sampled negatives per positive (implicit feedback).
    alpha : float, default=0.0
        Per-occurrence L2 strength on the embeddings of each batch row.
    y_range : tuple of float, default=None
        Explicit feedback: ``(low, high)`` squashes the output into this
        range with a scaled sigmoid (e.g. ``(0.5, 5.5)`` for 1-5 stars);
        None gives a linear output plus the mean rating.
    lr : float, default={lr}
        Learning rate.
    max_epochs : int, default={max_epochs}
        Passes over the training rows.
    batch_size : int, default={batch_size}
        Rows (positives) per mini-batch.
    optimizer : {{"adam", "sgd", "adagrad"}} or torch optimizer class, default="adam"
        The optimiser; further arguments as ``optimizer__*``.
    early_stopping : bool, default=False
        Whether to hold out ``validation_fraction`` of each user's rows and
        stop when the validation score (NDCG@``validation_k`` over the full
        catalogue for implicit feedback, MSE for ratings) has not improved
        for 5 epochs, keeping the best epoch's weights.
    validation_fraction : float, default=0.1
        Share of each user's rows held out with ``early_stopping``.
    validation_k : int, default=10
        List length of the validation NDCG.
    init_std : float, default=0.01
        Standard deviation of the initial embeddings.
    {{runtime_parameters}}
        ``module__*`` reaches :class:`~sklearn_recs.neural._ncf_modules.NCF`.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained module, on the CPU, in evaluation mode.
    net_ : skorch.NeuralNet
        The trained skorch net.
    history_ : skorch.History
        Per-epoch ``train_loss`` and, with ``early_stopping``, ``valid_loss``
        (and ``valid_ndcg`` for implicit feedback), for learning curves.
    n_epochs_ : int
        Epochs run.
    rating_range_ : tuple of float or None
        Explicit feedback: (min, max) training rating, the clipping range of
        ``predict``; None for implicit feedback.
    {{vocabulary_attributes}}
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        The training ratings or interactions.
    n_features_in_ : int
        Number of columns of ``X`` at fit."""

_NCF_DOC_NOTES = """
    ``predict`` returns the rating (clipped to ``rating_range_``) or, for
    implicit feedback, the logit; unknown users and items get the package's
    fallback. Full-catalogue ranking (``recommend``) is the evaluation to
    trust; :func:`sklearn_recs.metrics.sampled_ranking_score` reproduces
    the paper's sampled 1 + 99 protocol for comparison only.
    ``similar_items`` ranks by the cosine of the item embeddings.

    The defaults were chosen on a validation split of the ml-100k training
    part (``benchmarks/bench_ncf.py``); more epochs overfit there.

    References
    ----------
    .. [1] X. He, L. Liao, H. Zhang, L. Nie, X. Hu and T.-S. Chua, "Neural
       collaborative filtering", WWW 2017."""


def _doc(template, **defaults):
    return fill_doc(template.replace("{common}", _NCF_DOC_COMMON.format(**defaults)).replace(
        "{notes}", _NCF_DOC_NOTES))


class GMF(_NCFBase):
    __doc__ = _doc("""Generalised matrix factorisation (the GMF of NCF, He et al. 2017).

    Scores ``s_ui = h . (p_u * q_i) + b``: the element-wise product of user
    and item embeddings weighted by a learned vector ``h`` (plain matrix
    factorisation when ``h`` is all ones).

    Parameters
    ----------
    n_factors : int, default=32
        Dimension of the embeddings.{common}

    See Also
    --------
    MLP : Learned similarity through dense layers.
    NeuMF : GMF and MLP fused, optionally pre-trained from both.
    ImplicitMatrixFactorization : The dot product with biases (BPR or BCE).

    Notes
    -----{notes}

    Examples
    --------
    >>> from sklearn_recs.neural import GMF
    >>> from sklearn_recs.utils._testing import checkerboard
    >>> X = checkerboard(10, 10)
    >>> model = GMF(n_factors=4, lr=0.05, max_epochs=20, random_state=0).fit(X)
    >>> model.recommend([0], top_n=3, exclude_seen=False).shape
    (1, 3)
    """, lr=0.005, max_epochs=10, batch_size=1024)

    _parameter_constraints: dict = {**_NCF_CONSTRAINTS}

    def __init__(self, *, n_factors=32, feedback="implicit", n_negatives=4, alpha=0.0,
                 y_range=None, lr=0.005, max_epochs=10, batch_size=1024, optimizer="adam",
                 early_stopping=False, validation_fraction=0.1, validation_k=10,
                 init_std=0.01, device="cpu", n_jobs=None, callbacks=None,
                 checkpoint_dir=None, random_state=None, verbose=0, **kwargs):
        store_params(self, locals())

    def _architecture(self, X, y):
        return dict(n_factors=self.n_factors, hidden_layers=())


class MLP(_NCFBase):
    __doc__ = _doc("""Multi-layer perceptron over user and item embeddings (NCF's MLP).

    Concatenates a user and an item embedding and passes them through dense
    layers (``hidden_layers``, with ``activation``, optional batch norm and
    dropout) to a linear output: the "embeddings + dense layers" model of
    the Keras and PyTorch MovieLens tutorials for ratings
    (``feedback="explicit"``), and NCF's MLP for implicit feedback.

    Parameters
    ----------
    mlp_factors : int, default=32
        Dimension of each embedding (the first layer sees twice that).
    hidden_layers : sequence of int, default=(64, 32, 16)
        Widths of the dense layers.
    dropout : float, default=0.0
        Dropout rate after each dense layer, in [0, 1).
    activation : {{"relu", "tanh", "sigmoid", "gelu"}}, default="relu"
        Non-linearity of the dense layers.
    batch_norm : bool, default=False
        Whether to batch-normalise each dense layer.{common}

    See Also
    --------
    GMF : The element-wise product of embeddings.
    NeuMF : GMF and MLP fused, optionally pre-trained from both.

    Notes
    -----{notes}

    Examples
    --------
    >>> from sklearn_recs.neural import MLP
    >>> from sklearn_recs.utils._testing import tiny_ratings
    >>> X, y = tiny_ratings()
    >>> model = MLP(feedback="explicit", hidden_layers=(16, 8), y_range=(0.5, 5.5),
    ...             max_epochs=5, random_state=0).fit(X, y)
    >>> bool(((model.predict(X) >= 1) & (model.predict(X) <= 5)).all())
    True
    """, lr=0.005, max_epochs=6, batch_size=1024)

    _parameter_constraints: dict = {**_NCF_CONSTRAINTS, **_MLP_CONSTRAINTS}

    def __init__(self, *, mlp_factors=32, hidden_layers=(64, 32, 16), dropout=0.0,
                 activation="relu", batch_norm=False, feedback="implicit", n_negatives=4,
                 alpha=0.0, y_range=None, lr=0.005, max_epochs=6, batch_size=1024,
                 optimizer="adam", early_stopping=False, validation_fraction=0.1,
                 validation_k=10, init_std=0.01, device="cpu", n_jobs=None,
                 callbacks=None, checkpoint_dir=None, random_state=None, verbose=0,
                 **kwargs):
        store_params(self, locals())

    def _architecture(self, X, y):
        return dict(n_factors=0, mlp_factors=self.mlp_factors,
                    hidden_layers=check_layer_sizes(self.hidden_layers, "MLP"),
                    dropout=self.dropout, activation=self.activation,
                    batch_norm=self.batch_norm)


class NeuMF(_NCFBase):
    __doc__ = _doc("""Neural matrix factorisation: GMF and MLP fused (NCF's NeuMF).

    The GMF vector ``p_u * q_i`` and the last MLP layer (separate
    embeddings) are concatenated and mapped to the score by one linear
    layer. With ``gmf`` and ``mlp`` given, the model is pre-trained as in
    the paper: both are fitted on the same data (unless already fitted on
    the same users and items), NeuMF starts from their embeddings and tower,
    and its output layer from half of each output layer.

    Parameters
    ----------
    n_factors : int, default=32
        Dimension of the GMF embeddings.
    mlp_factors : int, default=32
        Dimension of each MLP embedding.
    hidden_layers : sequence of int, default=(64, 32, 16)
        Widths of the MLP's dense layers.
    dropout : float, default=0.0
        Dropout rate after each dense layer, in [0, 1).
    activation : {{"relu", "tanh", "sigmoid", "gelu"}}, default="relu"
        Non-linearity of the dense layers.
    batch_norm : bool, default=False
        Whether to batch-normalise each dense layer.
    gmf : GMF, default=None
        Pre-training: a GMF (fitted or not) whose weights initialise the GMF
        branch; its ``n_factors`` then replaces this model's. Give both
        ``gmf`` and ``mlp`` or neither.
    mlp : MLP, default=None
        Pre-training: an MLP whose weights initialise the MLP branch; its
        ``mlp_factors``, ``hidden_layers``, ``activation`` and
        ``batch_norm`` then replace this model's.{common}
    gmf_ : GMF
        With pre-training: the fitted GMF used (a fitted clone of ``gmf``,
        or ``gmf`` itself if it was already fitted on the same ids).
    mlp_ : MLP
        With pre-training: the fitted MLP used.

    See Also
    --------
    GMF : The GMF branch alone.
    MLP : The MLP branch alone.

    Notes
    -----{notes}

    Examples
    --------
    >>> from sklearn_recs.neural import GMF, MLP, NeuMF
    >>> from sklearn_recs.utils._testing import checkerboard
    >>> X = checkerboard(10, 10)
    >>> model = NeuMF(gmf=GMF(n_factors=4, max_epochs=5),
    ...               mlp=MLP(mlp_factors=4, hidden_layers=(8, 4), max_epochs=5),
    ...               max_epochs=5, random_state=0).fit(X)
    >>> model.gmf_.n_factors, model.recommend([0], top_n=2).shape
    (4, (1, 2))
    """, lr=0.003, max_epochs=8, batch_size=1024)

    _parameter_constraints: dict = {
        **_NCF_CONSTRAINTS, **_MLP_CONSTRAINTS,
        "gmf": [GMF, None],
        "mlp": [MLP, None],
    }

    def __init__(self, *, n_factors=32, mlp_factors=32, hidden_layers=(64, 32, 16),
                 dropout=0.0, activation="relu", batch_norm=False, gmf=None, mlp=None,
                 feedback="implicit", n_negatives=4, alpha=0.0, y_range=None, lr=0.003,
                 max_epochs=8, batch_size=1024, optimizer="adam", early_stopping=False,
                 validation_fraction=0.1, validation_k=10, init_std=0.01, device="cpu",
                 n_jobs=None, callbacks=None, checkpoint_dir=None, random_state=None,
                 verbose=0, **kwargs):
        store_params(self, locals())

    def _pretrained(self, estimator, X, y):
        """``estimator`` fitted on ``X, y``: itself if already fitted on the same ids."""
        if (hasattr(estimator, "module_") and estimator.feedback == self.feedback
                and np.array_equal(estimator.users_, self.users_)
                and np.array_equal(estimator.items_, self.items_)):
            return estimator
        params = {"feedback": self.feedback, "device": self.device}
        if estimator.random_state is None:
            params["random_state"] = self.random_state
        return clone(estimator).set_params(**params).fit(X, y)

    def _architecture(self, X, y):
        if (self.gmf is None) != (self.mlp is None):
            raise ValueError(
                "NeuMF: pre-training needs both gmf and mlp (fitted or not); got only "
                f"{'gmf' if self.mlp is None else 'mlp'}. Pass both, or neither to train "
                "from scratch."
            )
        hidden_layers = check_layer_sizes(self.hidden_layers, "NeuMF")
        kwargs = dict(n_factors=self.n_factors, mlp_factors=self.mlp_factors,
                      hidden_layers=hidden_layers, dropout=self.dropout,
                      activation=self.activation, batch_norm=self.batch_norm)
        self.gmf_ = self.mlp_ = None
        if self.gmf is None:
            return kwargs
        self.gmf_ = self._pretrained(self.gmf, X, y)
        self.mlp_ = self._pretrained(self.mlp, X, y)
        mlp_module = self.mlp_.module_
        kwargs.update(n_factors=self.gmf_.n_factors, mlp_factors=self.mlp_.mlp_factors,
                      hidden_layers=check_layer_sizes(self.mlp_.hidden_layers, "NeuMF"),
                      activation=self.mlp_.activation, batch_norm=self.mlp_.batch_norm,
                      pretrained=(self.gmf_.module_.state_dict(), mlp_module.state_dict()))
        return kwargs

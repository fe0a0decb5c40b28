"""The estimator base shared by every neural recommender.

:class:`TorchRecommender` turns a module class plus a loss into a
scikit-learn estimator: plain keyword-only hyperparameters stored verbatim,
skorch's prefixed parameters (``module__*``, ``optimizer__*``,
``callbacks__*``, ``iterator_train__*``) routed through ``get_params`` /
``set_params`` / ``clone``, and a fit that validates, encodes ids, splits a
per-user validation set, builds a :class:`~._net.RecommenderNet` (kept as
``net_``) and trains it with index batches, resumably with
``checkpoint_dir`` (:mod:`._checkpoint`). A fit that fails (NaN loss,
interruption) leaves the estimator unfitted.

It is the floor every family module (``_mf``, ``_ncf``, ``_two_tower``)
builds on, with the helpers they share: the parameter constraints
(:data:`COMMON_CONSTRAINTS`), the random streams (:func:`random_streams`),
the validation split (:func:`split_validation`), ``__init__`` storage
(:func:`store_params`) and layer-size checks (:func:`check_layer_sizes`).
"""

from __future__ import annotations

import difflib
import os
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from skorch.callbacks import EarlyStopping, ProgressBar
from skorch.helper import predefined_split

from ..base import RecommenderMixin
from ..utils._docs import VOCABULARY_ATTRIBUTES, fill_class_doc, fill_text
from ..utils._params import store_params as _store_params
from ._checkpoint import EpochCheckpoint, fingerprint
from ._data import IndexBatchIterator, InteractionData, per_user_split
from ._net import RecommenderNet, StopOnNonFiniteLoss, TrainingInterrupted, ValidationNDCG

__all__ = ["COMMON_CONSTRAINTS", "TorchRecommender", "check_layer_sizes", "fill_doc",
           "filled_doc", "random_streams", "split_validation", "store_params"]

_PREFIXES = ("module", "optimizer", "callbacks", "iterator_train", "iterator_valid")

# name -> (optimizer class, whether the embeddings give sparse gradients)
_OPTIMIZERS = {
    "sparse_adam": (torch.optim.SparseAdam, True),
    "adam": (torch.optim.Adam, False),
    "sgd": (torch.optim.SGD, True),
    "adagrad": (torch.optim.Adagrad, True),
}
_SPARSE_CAPABLE = (torch.optim.SparseAdam, torch.optim.SGD, torch.optim.Adagrad)
# optimisers trained with their fused step (one kernel per parameter, CPU and
# CUDA) unless ``optimizer__fused`` / ``optimizer__foreach`` says otherwise
_FUSABLE = (torch.optim.Adam, torch.optim.AdamW)

# The constraints of the parameters every neural estimator has; a family
# leaves out those it lacks and adds its own.
COMMON_CONSTRAINTS: dict = {
    "n_factors": [Interval(Integral, 1, None, closed="left")],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "alpha_bias": [Interval(Real, 0, None, closed="left"), None],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "init_std": [Interval(Real, 0, None, closed="left")],
    "device": [str, torch.device],
    "n_jobs": [Integral, None],
    "callbacks": [list, None],
    "checkpoint_dir": [str, os.PathLike, None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}

# The uses of randomness in a fit, each with its own stream (random_streams).
_STREAMS = ("validation", "init", "sampling", "valid_sampling", "dropout", "fold_in")

# parameters that do not change what training computes: a checkpoint
# written under other values of these is resumed
_NOT_FINGERPRINTED = ("checkpoint_dir", "verbose", "n_jobs")

_CHECKPOINT_DIR_DOC = """checkpoint_dir : str or path-like, default=None
        Folder where training is checkpointed after every epoch: a ``fit``
        interrupted (Ctrl-C, crash) and run again with the same data and
        parameters resumes from the last complete epoch, and ends as an
        uninterrupted one would. Needs an int ``random_state``; see
        :ref:`checkpoints` in the user guide."""


_RANDOM_STATE_DOC = """random_state : int, RandomState instance or None, default=None
        Expanded into independent seeds, one per use: the validation split,
        the initial weights, the batch order and sampled negatives, dropout
        and fold-in (see :ref:`glossary`). An int gives the same model on
        every fit.
    verbose : int, default=0
        With ``verbose > 0`` skorch prints the epoch log and a progress bar.
    **kwargs : dict
        skorch prefixed parameters (``module__*``, ``optimizer__*``,
        ``callbacks__*``, ``iterator_train__*``), e.g.
        ``optimizer__weight_decay`` or ``callbacks__early_stopping__patience``."""


# device to **kwargs: the parameters of the training run (not of the model)
_RUNTIME_DOC = """device : str or torch.device, default="cpu"
        Where to train, e.g. ``"cuda"``; serving uses CPU copies.
    n_jobs : int, default=None
        CPU threads for torch during fit; None means 1, -1 every core.
    callbacks : list of skorch callbacks, default=None
        Extra callbacks for the skorch net.
    """ + _CHECKPOINT_DIR_DOC + """
    """ + _RANDOM_STATE_DOC


def fill_doc(doc):
    """``doc`` with the shared parameter and attribute texts filled in.

    Placeholders: ``{runtime_parameters}`` (``device`` to ``**kwargs``),
    or for a model with its own ``device``, ``n_jobs`` and ``callbacks``
    texts ``{checkpoint_dir}`` and ``{random_state}`` (with ``verbose`` and
    ``**kwargs``); and ``{vocabulary_attributes}``.
    """
    return fill_text(doc, runtime_parameters=_RUNTIME_DOC, checkpoint_dir=_CHECKPOINT_DIR_DOC,
                     random_state=_RANDOM_STATE_DOC,
                     vocabulary_attributes=VOCABULARY_ATTRIBUTES)


def filled_doc(cls):
    """Class decorator: the shared texts filled in the docstrings of the class and its methods."""
    return fill_class_doc(cls, runtime_parameters=_RUNTIME_DOC,
                          checkpoint_dir=_CHECKPOINT_DIR_DOC, random_state=_RANDOM_STATE_DOC)


def _quiet(*args):
    """A message sink that drops the messages (picklable, unlike a lambda)."""


def _is_prefixed(key):
    head, sep, _ = key.partition("__")
    return bool(sep) and head in _PREFIXES


def resolve_device(device, owner):
    """Return ``torch.device(device)``, with a clear error for an absent GPU."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"{owner}: device={device!r} is not a valid torch device; use "
            "'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{owner}: device={device!r} was requested but CUDA is not "
                "available on this machine (torch.cuda.is_available() is "
                "False). Use device='cpu', or install a CUDA build of PyTorch."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"{owner}: device={device!r} does not exist; this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
    return dev


def random_streams(random_state):
    """One independent seed per use of randomness in a fit, from ``random_state``.

    ``random_state`` is expanded with :meth:`numpy.random.SeedSequence.spawn`
    into the streams of the validation split, the initial weights, the
    training batches and their sampled negatives, the validation negatives,
    dropout and fold-in: the same ``random_state`` gives the same seeds, and
    the seeds are unrelated to each other, so that using one stream
    differently leaves the others' draws unchanged.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        An int seeds the expansion; a ``RandomState`` is drawn from once
        (as scikit-learn estimators do); None uses fresh OS entropy.

    Returns
    -------
    seeds : dict of str to int
        A 32-bit seed per stream name.

    Examples
    --------
    >>> from sklearn_recs.neural._base import random_streams
    >>> seeds = random_streams(0)
    >>> seeds == random_streams(0), seeds["init"] == seeds["dropout"]
    (True, False)
    """
    if random_state is None or isinstance(random_state, Integral):
        entropy = random_state
    else:
        entropy = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    children = np.random.SeedSequence(entropy).spawn(len(_STREAMS))
    return {name: int(child.generate_state(1)[0]) for name, child in zip(_STREAMS, children)}


def check_layer_sizes(hidden_layers, owner):
    """Return ``hidden_layers`` as a tuple of ints, or raise naming the bad value."""
    sizes = tuple(hidden_layers)
    if not sizes or not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0
                            for s in sizes):
        raise ValueError(
            f"{owner}: hidden_layers={hidden_layers!r} is invalid; pass a non-empty "
            "sequence of positive ints, the width of each dense layer, e.g. (64, 32, 16)."
        )
    return tuple(int(s) for s in sizes)


def split_validation(estimator, users, items, implicit, *, callback=ValidationNDCG,
                     name="valid_ndcg"):
    """Per-user validation rows for early stopping, and the callbacks that score them.

    The rows are drawn from the estimator's ``"validation"`` stream. Returns
    ``(valid, callbacks)``: ``valid`` a boolean mask (None when no row could
    be held out); for implicit feedback the callbacks hold
    ``(name, callback(train, valid, k=validation_k))``, a full-catalogue
    metric such as :class:`~._net.ValidationNDCG`.
    """
    valid = per_user_split(users, estimator.validation_fraction,
                           np.random.RandomState(estimator._seeds["validation"]))
    if not valid.any():
        return None, []
    if not implicit:
        return valid, []
    shape = (estimator.n_users_, estimator.n_items_)

    def matrix(mask):
        return sp.csr_matrix((np.ones(mask.sum()), (users[mask], items[mask])), shape=shape)

    return valid, [(name, callback(matrix(~valid), matrix(valid), k=estimator.validation_k))]


def store_params(estimator, params):
    """``__init__`` body: the parameters as given, and skorch's prefixed ``kwargs``."""
    _store_params(estimator, params)
    estimator._set_prefixed(params["kwargs"])


class TorchRecommender(RecommenderMixin, BaseEstimator):
    """Base of the neural recommenders (not public: use its subclasses)."""

    _implicit = False

    def _fit_interactions(self, X, y, **kwargs):
        """The mixin's validation and encoding, and this fit's random streams."""
        self._seeds = random_streams(self.random_state)
        return super()._fit_interactions(X, y, **kwargs)

    # -- parameters --------------------------------------------------------
    def _set_prefixed(self, kwargs):
        # No validation in __init__: unknown names are reported by fit.
        self._unknown_kwargs = [k for k in kwargs if not _is_prefixed(k)]
        for key, value in kwargs.items():
            if _is_prefixed(key):
                setattr(self, key, value)

    def _check_kwargs(self):
        for key in getattr(self, "_unknown_kwargs", []):
            close = difflib.get_close_matches(key, list(self._get_param_names()), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(
                f"{type(self).__name__}: unexpected parameter {key!r}.{hint} "
                "Prefixed skorch parameters must start with one of "
                f"{', '.join(p + '__' for p in _PREFIXES)}."
            )

    def _prefixed_params(self):
        return {k: v for k, v in vars(self).items() if _is_prefixed(k)}

    def get_params(self, deep=True):
        """Get parameters for this estimator, including skorch's prefixed ones.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        params.update(self._prefixed_params())
        return params

    def set_params(self, **params):
        """Set parameters, including skorch's prefixed ones (``optimizer__...``).

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator instance
            The estimator.
        """
        prefixed = {k: v for k, v in params.items() if _is_prefixed(k)}
        for key, value in prefixed.items():
            setattr(self, key, value)
        rest = {k: v for k, v in params.items() if k not in prefixed}
        return super().set_params(**rest) if rest else self

    # -- fitting -----------------------------------------------------------
    def _optimizer(self):
        if isinstance(self.optimizer, str):
            return _OPTIMIZERS[self.optimizer]
        return self.optimizer, issubclass(self.optimizer, _SPARSE_CAPABLE)

    def _n_threads(self):
        if self.n_jobs is None:
            return 1
        try:
            n_cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            n_cpus = os.cpu_count() or 1
        return n_cpus if self.n_jobs < 0 else min(self.n_jobs, n_cpus)

    def _train(self, module, criterion, users, items, target, *, module_kwargs,
               n_negatives=0, positives=None, item_weights=None, valid=None,
               monitor="valid_loss", lower_is_better=True, extra_callbacks=()):
        """Build ``net_`` and train it; ``valid`` is a boolean mask of held-out rows."""
        name = type(self).__name__
        self._check_kwargs()
        device = resolve_device(self.device, name)
        seeds = self._seeds
        data_kw = dict(n_items=self.n_items_, positives=positives,
                       item_weights=item_weights, device=device)
        cols = (users, items, target)
        if valid is not None:
            keep = ~valid
            train_ds = InteractionData(*(None if c is None else c[keep] for c in cols), **data_kw)
            valid_ds = InteractionData(*(None if c is None else c[valid] for c in cols), **data_kw)
        else:
            train_ds, valid_ds = InteractionData(*cols, **data_kw), None
        optimizer, sparse = self._optimizer()
        callbacks = [("nan_guard", StopOnNonFiniteLoss(name))]
        callbacks += list(extra_callbacks)
        if valid_ds is not None and self.early_stopping:
            callbacks.append(("early_stopping", EarlyStopping(
                monitor=monitor, lower_is_better=lower_is_better, patience=5,
                load_best=True, sink=_quiet)))
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        callbacks += list(self.callbacks or [])
        checkpoint = None
        if self.checkpoint_dir is not None:
            # last: it restores the other callbacks' state after they reset it
            checkpoint = EpochCheckpoint(self.checkpoint_dir, self._fingerprint(
                module, criterion, module_kwargs, cols, valid, n_negatives,
                positives, item_weights), owner=name)
            callbacks.append(("checkpoint", checkpoint))
        kwargs = dict(
            module=module, criterion=criterion, optimizer=optimizer, lr=self.lr,
            max_epochs=self.max_epochs, batch_size=self.batch_size,
            iterator_train=IndexBatchIterator, iterator_train__shuffle=True,
            iterator_train__n_negatives=n_negatives, iterator_train__seed=seeds["sampling"],
            iterator_valid=IndexBatchIterator, iterator_valid__n_negatives=n_negatives,
            iterator_valid__seed=seeds["valid_sampling"],
            train_split=None if valid_ds is None else predefined_split(valid_ds),
            callbacks=callbacks, device=device, verbose=int(self.verbose), seed=seeds["init"],
            module__sparse=sparse,
        )
        kwargs.update({f"module__{k}": v for k, v in module_kwargs.items()})
        if (issubclass(optimizer, _FUSABLE) and not sparse
                and "optimizer__foreach" not in self._prefixed_params()):
            # one pass over each parameter per step instead of about six
            kwargs["optimizer__fused"] = True
        kwargs.update(self._prefixed_params())
        net = RecommenderNet(**kwargs)
        previous = torch.get_num_threads()
        n_threads = self._n_threads()
        try:
            if n_threads:
                torch.set_num_threads(n_threads)
            # a resumed training restores torch's random state: keep the caller's
            with warnings.catch_warnings(), torch.random.fork_rng(
                    devices=[device] if device.type == "cuda" else []):
                # torch's note on sparse tensor invariant checks is not for users
                warnings.filterwarnings("ignore", message="Sparse invariant checks")
                torch.manual_seed(seeds["dropout"])  # torch's global RNG: dropout
                net.fit(train_ds, None)
        except TrainingInterrupted as exc:
            self._discard_fit()
            epoch, batches = exc.args
            if checkpoint is None:
                where = "Pass checkpoint_dir to make training resumable."
            elif epoch > 1:
                where = (f"Fit again to resume from the checkpoint of epoch {epoch - 1} "
                         f"in {checkpoint.dirname}.")
            else:
                where = "No epoch was complete: fitting again starts over."
            raise KeyboardInterrupt(
                f"{name}: fit was interrupted in epoch {epoch}, after {batches} "
                f"batch(es); the estimator is not fitted. {where}") from exc
        except BaseException:
            self._discard_fit()
            raise
        finally:
            torch.set_num_threads(previous)
        net.train_split = None  # do not keep the validation data in the model
        self.net_ = net
        self.history_ = net.history
        self.n_epochs_ = len(net.history)
        return net.module_

    def _fingerprint(self, *training):
        """Digest of the class, the parameters and what ``_train`` trains on."""
        if not isinstance(self.random_state, Integral):
            self._discard_fit()
            raise ValueError(
                f"{type(self).__name__}: checkpoint_dir needs an int random_state, got "
                f"random_state={self.random_state!r}: resuming replays the batch order, "
                "negatives and dropout drawn from it. Pass e.g. random_state=0."
            )
        params = {k: v for k, v in self.get_params(deep=False).items()
                  if k not in _NOT_FINGERPRINTED}
        return fingerprint(type(self).__qualname__, params, *training)

    def _discard_fit(self):
        """Remove the fitted attributes, so that a failed fit leaves no model behind."""
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("__")]:
            delattr(self, attr)

    @staticmethod
    def _to_numpy(param):
        return param.detach().to("cpu").numpy().copy()

    def _check_finite(self, *arrays):
        if not all(np.isfinite(a).all() for a in arrays if a is not None):
            self._discard_fit()
            raise FloatingPointError(
                f"{type(self).__name__}: training produced NaN or infinite "
                f"factors (lr={self.lr}). Use a smaller lr or more regularisation."
            )

"""The estimator base shared by every neural recommender.

:class:`TorchRecommender` turns a module class plus a loss into a
scikit-learn estimator: plain keyword-only hyperparameters stored verbatim,
skorch's prefixed parameters (``module__*``, ``optimizer__*``,
``callbacks__*``, ``iterator_train__*``) routed through ``get_params`` /
``set_params`` / ``clone``, and a fit that validates, encodes ids, splits a
per-user validation set, builds a :class:`~._net.RecommenderNet` (kept as
``net_``) and trains it with index batches, resumably with
``checkpoint_dir`` (:mod:`._checkpoint`). Subclasses give the module's
arguments (``_module_kwargs``) and export what they learnt
(``_export``). A fit that fails (NaN loss, interruption) leaves the
estimator unfitted.
"""

from __future__ import annotations

import difflib
import os
import warnings
from numbers import Integral

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping, ProgressBar
from skorch.helper import predefined_split

from ..base import RecommenderMixin
from ..exceptions import ColdStartWarning
from ..utils.validation import _check_bool, check_ids, check_interactions
from ._checkpoint import EpochCheckpoint, fingerprint
from ._data import IndexBatchIterator, InteractionData
from ._net import RecommenderNet, StopOnNonFiniteLoss, TrainingInterrupted

__all__ = ["TorchRecommender", "fill_doc", "filled_doc"]

_PREFIXES = ("module", "optimizer", "callbacks", "iterator_train", "iterator_valid")

# name -> (optimizer class, whether the embeddings give sparse gradients)
_OPTIMIZERS = {
    "sparse_adam": (torch.optim.SparseAdam, True),
    "adam": (torch.optim.Adam, False),
    "sgd": (torch.optim.SGD, True),
    "adagrad": (torch.optim.Adagrad, True),
}
_SPARSE_CAPABLE = (torch.optim.SparseAdam, torch.optim.SGD, torch.optim.Adagrad)

# parameters that do not change what training computes: a checkpoint
# written under other values of these is resumed
_NOT_FINGERPRINTED = ("checkpoint_dir", "verbose", "n_jobs")

_CHECKPOINT_DIR_DOC = """checkpoint_dir : str or path-like, default=None
        Folder where training is checkpointed after every epoch: a ``fit``
        interrupted (Ctrl-C, crash) and run again with the same data and
        parameters resumes from the last complete epoch, and ends as an
        uninterrupted one would. Needs an int ``random_state``; see
        :ref:`checkpoints` in the user guide."""


def fill_doc(doc):
    """``doc`` with ``{checkpoint_dir}`` replaced by the parameter's shared text."""
    return doc.replace("{checkpoint_dir}", _CHECKPOINT_DIR_DOC)


def filled_doc(cls):
    """Class decorator: :func:`fill_doc` on the class docstring."""
    cls.__doc__ = fill_doc(cls.__doc__)
    return cls


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


class _StackedRows:
    """Row access to ``vstack([top, bottom])`` without copying ``top``."""

    def __init__(self, top, bottom):
        self.top, self.bottom = top, bottom
        self.shape = (top.shape[0] + bottom.shape[0], top.shape[1])

    def __getitem__(self, rows):
        rows = np.asarray(rows)
        upper = rows < self.top.shape[0]
        parts = sp.vstack([self.top[rows[upper]],
                           self.bottom[rows[~upper] - self.top.shape[0]]], format="csr")
        order = np.r_[np.flatnonzero(upper), np.flatnonzero(~upper)]
        return parts[np.argsort(order, kind="stable")]


class TorchRecommender(RecommenderMixin, BaseEstimator):
    """Base of the neural recommenders (not public: use its subclasses)."""

    _implicit = False

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
        rng = check_random_state(self.random_state)
        seed_init, seed_train, seed_valid = (int(s) for s in rng.randint(0, 2**31 - 1, size=3))
        self._seed = seed_valid
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
            iterator_train__n_negatives=n_negatives, iterator_train__seed=seed_train,
            iterator_valid=IndexBatchIterator, iterator_valid__n_negatives=n_negatives,
            iterator_valid__seed=seed_valid,
            train_split=None if valid_ds is None else predefined_split(valid_ds),
            callbacks=callbacks, device=device, verbose=int(self.verbose), seed=seed_init,
            module__sparse=sparse,
        )
        kwargs.update({f"module__{k}": v for k, v in module_kwargs.items()})
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

    # -- serving -----------------------------------------------------------
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

    def _user_offsets(self, codes, extra):
        raise NotImplementedError

    def _score_users(self, user_codes, item_codes, extra=None):
        user_codes = np.asarray(user_codes)
        q = self.item_factors_ if item_codes is None else self.item_factors_[item_codes]
        bi = self.item_bias_ if item_codes is None else self.item_bias_[item_codes]
        scores = self._user_vectors(user_codes, extra) @ q.T
        scores += bi[None, :]
        scores += self._user_offsets(user_codes, extra)[:, None]
        return scores

    def _unit_item_factors(self):
        norms = np.linalg.norm(self.item_factors_, axis=1)
        return self.item_factors_ / np.maximum(norms, 1e-12)[:, None]

    def _similar_item_scores(self, item_codes):
        unit = self._unit_item_factors()
        return unit[item_codes] @ unit.T

    @available_if(lambda self: hasattr(self, "user_factors_"))
    def _serving_arrays(self):
        """The factor model's arrays, for :func:`sklearn_recs.serving.save_npz`."""
        clip = getattr(self, "clip", False)
        return "factors", dict(
            user_factors=self.user_factors_, item_factors=self.item_factors_,
            item_bias=self.item_bias_,
            user_offset=self._user_offsets(np.arange(self.n_users_), None),
            rating_range=self.rating_range_ if clip else None,
            similarity_vectors=self._unit_item_factors())

    def recommend(self, users, n_items=10, *, exclude_seen=True, items=None,
                  exclude=None, return_scores=False, interactions=None,
                  interactions_y=None):
        """Recommend the top ``n_items`` items for each user, best first.

        Parameters
        ----------
        users : array-like of shape (n_users,)
            User ids. Users unseen at fit and absent from ``interactions``
            get the popularity ranking and a :class:`ColdStartWarning`.
        n_items : int, default=10
            Length of each list, capped at the number of candidates.
        exclude_seen : bool, default=True
            Whether to leave out the items each user interacted with (at fit,
            and in ``interactions``).
        items : array-like of shape (n_candidates,), default=None
            Restrict the candidates to these item ids (all known at fit).
        exclude : array-like or list of array-like, default=None
            Item ids to leave out for every user, or one list per user, on
            top of ``exclude_seen``; as for
            :meth:`~sklearn_recs.base.RecommenderMixin.recommend`.
        return_scores : bool, default=False
            Whether to also return the scores.
        interactions : array-like of shape (n_rows, >= 2), default=None
            Fold-in: (user id, item id) rows for some of ``users`` (typically
            users unseen at fit). Each such user's vector is solved from
            these rows alone with the item factors fixed, without refitting
            (for a known user it replaces the learned vector). Items unseen
            at fit are ignored, with a :class:`ColdStartWarning`.
        interactions_y : array-like of shape (n_rows,), default=None
            The ratings of ``interactions`` (required by rating models) or
            their confidence weights (implicit models).

        Returns
        -------
        recommended : ndarray of shape (n_users, min(n_items, n_candidates))
            Item ids, best first.
        scores : ndarray of shape (n_users, min(n_items, n_candidates))
            Only with ``return_scores=True``; ``-inf`` marks slots beyond the
            user's unseen candidates.
        """
        if interactions is None:
            if interactions_y is not None:
                raise ValueError(
                    f"{type(self).__name__}: interactions_y was given without "
                    "interactions; pass the (user id, item id) rows as interactions."
                )
            return super().recommend(users, n_items, exclude_seen=exclude_seen,
                                     items=items, exclude=exclude,
                                     return_scores=return_scores)
        check_is_fitted(self)
        user_ids = check_ids(users, what="user ids", estimator=self)
        fold_index, fold_matrix = self._fold_in_matrix(interactions, interactions_y)
        extra = self._fold_in(fold_matrix)
        codes = self._user_index.get_indexer(user_ids)
        position = fold_index.get_indexer(user_ids)
        codes = np.where(position >= 0, self.n_users_ + position, codes)
        seen = None
        if _check_bool(exclude_seen, "exclude_seen", self):
            pattern = fold_matrix.copy()
            pattern.data[:] = 1.0
            known = self._user_index.get_indexer(fold_index)
            pick = sp.csr_matrix((np.ones((known >= 0).sum()),
                                  (np.flatnonzero(known >= 0), known[known >= 0])),
                                 shape=(len(fold_index), self.n_users_))
            fit_rows = pick @ self.interactions_
            fit_rows.data[:] = 1.0
            seen = _StackedRows(self.interactions_, (pattern + fit_rows).tocsr())
        return self._recommend_codes(
            codes, n_items, items, return_scores,
            lambda block, cand: self._score_users(block, cand, extra), seen,
            exclude=exclude)

    def _fold_in_matrix(self, interactions, interactions_y):
        """Encode fold-in rows: (index of their user ids, CSR of their items)."""
        try:
            users, items, values = check_interactions(
                interactions, interactions_y, implicit=self._implicit,
                y_required=not self._implicit)
        except (TypeError, ValueError) as exc:
            # check_interactions names its arguments X and y
            raise type(exc)(
                f"{type(self).__name__}: the fold-in rows are invalid (X below "
                f"means interactions, y means interactions_y): {exc}") from exc
        item_codes = self._item_index.get_indexer(items)
        unknown = item_codes < 0
        if unknown.any():
            warnings.warn(
                f"{type(self).__name__}: {int(unknown.sum())} of {len(items)} "
                "interactions have an item unseen at fit; they were ignored "
                "for fold-in.", ColdStartWarning, stacklevel=3)
        row_codes, fold_users = pd.factorize(users[~unknown], sort=True)
        fold_index = pd.Index(np.asarray(fold_users))
        data = np.ones(len(row_codes)) if values is None else values[~unknown]
        shape = (len(fold_index), self.n_items_)
        matrix = sp.csr_matrix((data, (row_codes, item_codes[~unknown])), shape=shape)
        matrix.sum_duplicates()
        if not self._implicit:
            counts = sp.csr_matrix((np.ones(len(row_codes)), (row_codes, item_codes[~unknown])),
                                   shape=shape)
            counts.sum_duplicates()
            matrix.data /= counts.data
        return fold_index, matrix

"""The skorch net that trains every neural recommender, and its callbacks.

:class:`RecommenderNet` is a :class:`skorch.NeuralNet` that knows three things
about recommenders and nothing about a particular module:

- a batch is ``({"users": ..., "items": ...}, target)`` from
  :class:`~._data.IndexBatchIterator` (whole-tensor indexing);
- the module may return ``(scores, penalty)`` in training mode, and the
  per-row penalty's mean is added to the loss (per-batch L2 on the rows
  that appear in the batch);
- the module's initial weights come from ``seed`` (not the global RNG);
- training can resume: ``fit`` runs the epochs left to ``max_epochs`` after
  those a checkpoint put in the history (:mod:`._checkpoint`), and each
  epoch's batches are drawn from ``(seed, epoch)``;
- with plain SGD, a batch's gradient is its rows' summed gradient over
  the rows of a full batch (``batch_size``, or all rows when fewer): the
  last, shorter batch of an epoch takes the same step per row as the
  others, not a step ``full / rows`` times larger (a last batch of one row
  made MatrixFactorization's default ``lr`` diverge);
- a ``KeyboardInterrupt`` in the middle of an epoch propagates (as
  :class:`TrainingInterrupted`) instead of ending training quietly as in
  skorch; one raised at an epoch's end is still skorch's early stop.

The loss is the skorch ``criterion`` (:mod:`._modules`: MSE, BPR, BCE), so
NCF or two-tower models reuse the net by passing another ``module``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback

from ._data import IndexBatchIterator

__all__ = ["ImplicitTermStep", "LinearLRDecay", "NonFiniteLossError", "RecommenderNet", "StopOnNonFiniteLoss",
           "TrainingInterrupted", "ValidationNDCG"]


class NonFiniteLossError(FloatingPointError):
    """Training diverged: the loss became NaN or infinite."""


class TrainingInterrupted(BaseException):
    """A ``KeyboardInterrupt`` in the middle of an epoch.

    Not a ``KeyboardInterrupt``, so that skorch does not take it for an early
    stop and keep the half-trained model; ``args`` are ``(epoch, batches)``:
    the epoch (1-based) and the batches it had run.
    """


class RecommenderNet(NeuralNet):
    """skorch NeuralNet for index-batched recommender modules.

    Parameters
    ----------
    module : type of torch.nn.Module
        The module class; its sizes come as ``module__*`` parameters.
    *args
        Passed to :class:`skorch.NeuralNet`.
    seed : int, default=0
        Seed of the module's initial weights.
    **kwargs
        Passed to :class:`skorch.NeuralNet`.
    """

    def __init__(self, module, *args, seed=0, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.seed = seed

    def initialize_module(self):
        # Initial weights from the seed, leaving the global RNG untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return super().initialize_module()

    def get_iterator(self, dataset, training=False):
        iterator = super().get_iterator(dataset, training=training)
        if training and isinstance(iterator, IndexBatchIterator):
            iterator.epoch = len(self.history)  # epochs done (restored ones included)
            # rows of a full training batch (all of them when fewer than batch_size)
            self.full_batch_rows_ = min(iterator.batch_size, len(iterator.dataset))
        return iterator

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        if epochs is None:
            epochs = max(self.max_epochs - len(self.history), 0)
        return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        try:
            super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        except KeyboardInterrupt as exc:
            raise TrainingInterrupted(
                len(self.history), len(self.history[-1]["batches"])) from exc

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        X, y = batch
        y_pred = self.infer(X, **fit_params)
        loss = self.get_loss(y_pred, y, X=X, training=True)
        # (the recorded loss stays the batch mean; only SGD's step is per row)
        full = getattr(self, "full_batch_rows_", None)
        rows = len(X["users"]) if isinstance(X, dict) else full
        if isinstance(self.optimizer_, torch.optim.SGD) and full and rows < full:
            (loss * (rows / full)).backward()
        else:
            loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        penalty = None
        if isinstance(y_pred, tuple):
            y_pred, penalty = y_pred
        if y_true is None:
            loss = self.criterion_(y_pred)
        elif y_pred.dim() == 1:
            loss = self.criterion_(y_pred, y_true)
        else:  # ranking: the target holds confidence weights
            loss = self.criterion_(y_pred, y_true)
        if penalty is not None and training:
            loss = loss + penalty.mean()
        return loss


class LinearLRDecay(Callback):
    """The learning rate falls linearly over the epochs, to ``lr / max_epochs`` in the last.

    Epoch ``e`` (0-based) runs at ``(1 - e / max_epochs)`` times the rate it
    would otherwise have: the callback scales the optimizer's rate by
    ``(E - e) / (E - e + 1)`` as each epoch begins, so that it composes with
    an LR scheduler among the callbacks, and a training resumed from a
    checkpoint (which restores the optimizer's rate) goes on as an
    uninterrupted one would.
    """

    def on_epoch_begin(self, net, **kwargs):
        done = len(net.history) - 1  # epochs before this one
        if done > 0:
            left = net.max_epochs - done
            for group in net.optimizer_.param_groups:
                group["lr"] *= left / (left + 1)


class ImplicitTermStep(Callback):
    """Steps the implicit factors of a :class:`~._modules.BiasedMF` once per epoch.

    After the last training batch of each epoch (``n_batches`` of them, so
    before the validation pass), the module takes one step on its implicit
    factors at ``rate`` times the optimizer's current learning rate, with
    the gradient accumulated over the epoch and the penalty's ``shrink``
    (:meth:`~._modules.BiasedMF.implicit_step`).
    """

    def __init__(self, n_batches, shrink, rate):
        self.n_batches = n_batches
        self.shrink = shrink
        self.rate = rate

    def on_train_begin(self, net, **kwargs):
        self.seen_ = 0

    def on_batch_end(self, net, training=None, **kwargs):
        if not training:
            return
        self.seen_ += 1
        if self.seen_ == self.n_batches:
            self.seen_ = 0
            lr = net.optimizer_.param_groups[0]["lr"]
            net.module_.implicit_step(self.rate * lr, self.shrink)


class StopOnNonFiniteLoss(Callback):
    """Stop training with a clear error as soon as a batch loss is NaN or inf."""

    def __init__(self, owner="model"):
        self.owner = owner

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        if loss is not None and not math.isfinite(loss.item()):
            raise NonFiniteLossError(
                f"{self.owner}: the {'training' if training else 'validation'} loss "
                f"became {float(loss.detach())} in epoch {len(net.history)}, batch "
                f"{len(net.history[-1]['batches'])} (lr={net.lr}). Training diverged "
                "and the model was not fitted: use a smaller lr (e.g. lr/10), more "
                "regularisation, or another optimizer."
            )


class ValidationNDCG(Callback):
    """NDCG@k of the module's full-catalogue ranking on a validation split.

    At the end of each epoch it ranks every item the user did not interact
    with in training, for (up to ``max_users``) validation users, and
    records the mean NDCG@k as ``valid_ndcg`` (plus ``valid_ndcg_best``) in
    the history, for early stopping and learning curves. The module must
    implement ``score_all(users)``.

    Parameters
    ----------
    train : scipy.sparse.csr_matrix of shape (n_users, n_items)
        Training interactions (excluded from the ranking).
    valid : scipy.sparse.csr_matrix of shape (n_users, n_items)
        Validation interactions (the relevant items).
    k : int, default=10
        List length.
    max_users : int, default=2000
        Evaluate at most this many validation users (a fixed subset).
    block : int, default=1024
        Users scored at once.
    """

    def __init__(self, train, valid, *, k=10, max_users=2000, block=1024, seed=0):
        self.train = train
        self.valid = valid
        self.k = k
        self.max_users = max_users
        self.block = block
        self.seed = seed

    def initialize(self):
        users = np.flatnonzero(np.diff(self.valid.indptr) > 0)
        if len(users) > self.max_users:
            users = np.sort(np.random.RandomState(self.seed).choice(
                users, self.max_users, replace=False))
        self.users_ = users
        rows = np.repeat(np.arange(self.valid.shape[0]), np.diff(self.valid.indptr))
        self.keys_ = np.sort(rows.astype(np.int64) * self.valid.shape[1] + self.valid.indices)
        self.best_ = -np.inf
        return self

    #: The history key of the score (``<name>_best`` marks improvements).
    metric_name = "valid_ndcg"

    def _top_hits(self, net):
        """Per block of validation users: ``(users, hits)``, ``hits[u, r]``
        telling whether the item ranked ``r + 1`` among ``u``'s unseen items
        is a validation item."""
        module = net.module_
        was_training = module.training
        module.eval()
        n_items = self.train.shape[1]
        k = min(self.k, n_items)
        try:
            for start in range(0, len(self.users_), self.block):
                users = self.users_[start:start + self.block]
                scores = module.score_all(torch.as_tensor(users, device=net.device))
                seen = self.train[users]
                rows = np.repeat(np.arange(len(users)), np.diff(seen.indptr))
                scores[torch.as_tensor(rows, device=scores.device),
                       torch.as_tensor(seen.indices.astype(np.int64),
                                       device=scores.device)] = -np.inf
                top = torch.topk(scores, k, dim=1).indices.cpu().numpy()
                keys = users.astype(np.int64)[:, None] * n_items + top
                pos = np.minimum(np.searchsorted(self.keys_, keys), len(self.keys_) - 1)
                yield users, self.keys_[pos] == keys
        finally:
            module.train(was_training)

    def _score(self, net):
        """Mean NDCG@k over the validation users."""
        k = min(self.k, self.train.shape[1])
        discounts = 1.0 / np.log2(np.arange(2, k + 2))
        total = 0.0
        for users, hits in self._top_hits(net):
            n_rel = np.minimum(np.diff(self.valid.indptr)[users], k)
            total += float(((hits * discounts).sum(1) / np.cumsum(discounts)[n_rel - 1]).sum())
        return total / max(len(self.users_), 1)

    def on_epoch_end(self, net, **kwargs):
        score = self._score(net)
        is_best = score > self.best_
        self.best_ = max(self.best_, score)
        net.history.record(self.metric_name, score)
        net.history.record(f"{self.metric_name}_best", bool(is_best))

    def on_train_end(self, net, **kwargs):
        # Do not keep the data in the fitted (pickled) model.
        self.train = self.valid = self.keys_ = None

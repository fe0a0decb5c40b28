"""Resumable training: a skorch checkpoint written atomically after every epoch.

:class:`EpochCheckpoint` is the callback behind the ``checkpoint_dir``
parameter of the neural estimators. After every complete epoch it writes
one file holding everything the rest of the training depends on: the
module's parameters, the optimizer state, the criterion state, the history,
torch's global random state (dropout) and the state that early stopping,
the validation metrics and LR schedulers carry between epochs. The batch order and negatives
need no state: they are drawn from ``(seed, epoch)``
(:func:`~._data.epoch_seed`). At the start of training it loads the file if
there is one, so a ``fit`` that was interrupted, run again with the same
data and parameters, goes on from the last complete epoch and ends with the
parameters an uninterrupted ``fit`` would have reached.

The file is named after a fingerprint of the configuration and the training
data (:func:`fingerprint`), which it also stores: a ``fit`` with other
parameters or other data never loads it (it trains from scratch under its
own name), and a file whose stored fingerprint differs from its name, or
that cannot be read, raises a clear error instead of being loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import suppress

import numpy as np
import scipy.sparse as sp
import torch
from skorch.callbacks import Checkpoint, EarlyStopping, LRScheduler
from skorch.history import History

from ._net import ValidationNDCG

__all__ = ["EpochCheckpoint", "fingerprint"]

_FORMAT = 1

# What callbacks rebuild in ``on_train_begin`` and carry between epochs;
# restored after them when training resumes (objects with a ``state_dict``,
# such as a torch LR scheduler, through it).
_CALLBACK_STATE = (
    (EarlyStopping, ("misses_", "dynamic_threshold_", "best_epoch_", "best_model_weights_")),
    (ValidationNDCG, ("best_",)),
    (LRScheduler, ("lr_scheduler_", "batch_idx_")),
)


def _update(digest, obj):
    """Feed a canonical byte form of ``obj`` to ``digest``."""
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().to("cpu").numpy()
    if isinstance(obj, np.ndarray) and obj.dtype != object:
        digest.update(f"array {obj.dtype.str} {obj.shape};".encode())
        digest.update(np.ascontiguousarray(obj).tobytes())
    elif sp.issparse(obj):
        csr = sp.csr_matrix(obj)
        _update(digest, ("csr", csr.shape, csr.indptr, csr.indices, csr.data))
    elif isinstance(obj, dict):
        digest.update(f"dict {len(obj)};".encode())
        for key in sorted(obj, key=str):
            _update(digest, str(key))
            _update(digest, obj[key])
    elif isinstance(obj, (list, tuple, np.ndarray)):
        digest.update(f"{type(obj).__name__} {len(obj)};".encode())
        for value in obj:
            _update(digest, value)
    elif isinstance(obj, type) or callable(obj) and hasattr(obj, "__qualname__"):
        digest.update(f"{obj.__module__}.{obj.__qualname__};".encode())
    elif hasattr(obj, "get_params"):  # estimators, skorch callbacks
        _update(digest, type(obj))
        _update(digest, obj.get_params(deep=False))
    else:
        text = repr(obj)
        # an object without a repr of its own: its class is all that is stable
        digest.update((type(obj).__qualname__ if " at 0x" in text else text).encode() + b";")


def fingerprint(*parts):
    """SHA-256 hex digest of arrays, tensors, containers, classes and values.

    Arrays and tensors count by dtype, shape and bytes, dicts by sorted
    keys, estimators and callbacks by class and parameters, classes and
    functions by qualified name, anything else by ``repr``.

    Parameters
    ----------
    *parts : object
        What the digest covers.

    Returns
    -------
    digest : str
        64 hex digits.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.neural._checkpoint import fingerprint
    >>> a = fingerprint("MF", {"lr": 0.1}, np.arange(3))
    >>> a == fingerprint("MF", {"lr": 0.1}, np.arange(3)), a == fingerprint(
    ...     "MF", {"lr": 0.2}, np.arange(3))
    (True, False)
    """
    digest = hashlib.sha256()
    _update(digest, parts)
    return digest.hexdigest()


def _saved(value):
    if hasattr(value, "state_dict"):
        return value.state_dict()
    return value.item() if isinstance(value, np.generic) else value


def _restore(callback, attr, value):
    current = getattr(callback, attr, None)
    if hasattr(current, "load_state_dict"):
        current.load_state_dict(value)
    else:
        setattr(callback, attr, value)


class EpochCheckpoint(Checkpoint):
    """skorch ``Checkpoint`` of the whole training state, for exact resumption.

    Saves after every epoch (``monitor=None``) into one file,
    ``dirname/<owner>-<fingerprint[:16]>.pt``, written to a temporary file
    in ``dirname`` and renamed over the previous one, so that a crash while
    writing leaves the previous checkpoint intact. Loads that file, if any,
    at the start of training; it must run after the other callbacks (last
    in the list) so that it restores their state after they reset it.

    Parameters
    ----------
    dirname : str or path-like
        Folder of the checkpoint files (created if needed).
    fingerprint : str
        Hex digest of the configuration and the training data
        (:func:`fingerprint`).
    owner : str, default="model"
        Estimator name, for the file name and the messages.
    """

    def __init__(self, dirname, fingerprint, owner="model"):
        super().__init__(monitor=None, f_params=f"{owner}-{fingerprint[:16]}.pt",
                         f_optimizer=None, f_criterion=None, f_history=None,
                         dirname=os.fspath(dirname), event_name=None, sink=print)
        self.fingerprint = fingerprint
        self.owner = owner

    @property
    def path(self):
        """Path of the checkpoint file."""
        return os.path.join(self.dirname, self.fn_prefix + self.f_params)

    def save_model(self, net):
        """Write the training state to :attr:`path`, atomically."""
        cuda = net.device is not None and torch.device(net.device).type == "cuda"
        state = {
            "format": _FORMAT,
            "fingerprint": self.fingerprint,
            "module": net.module_.state_dict(),
            "optimizer": net.optimizer_.state_dict(),
            "criterion": net.criterion_.state_dict(),
            "history": json.dumps(net.history.to_list()),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(net.device) if cuda else None,
            "callbacks": {
                name: {attr: _saved(getattr(callback, attr)) for attr in attrs}
                for name, callback in net.callbacks_
                for kind, attrs in _CALLBACK_STATE if isinstance(callback, kind)
            },
        }
        fd, temporary = tempfile.mkstemp(prefix=".", suffix=".pt.part", dir=self.dirname)
        try:
            with os.fdopen(fd, "wb") as file:
                torch.save(state, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def _read(self):
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(
                f"{self.owner}: the checkpoint {self.path} cannot be read; it is "
                f"truncated or corrupted ({type(exc).__name__}: {exc}). Delete it to "
                "train from scratch."
            ) from exc
        if (not isinstance(state, dict) or state.get("format") != _FORMAT
                or state.get("fingerprint") != self.fingerprint):
            raise ValueError(
                f"{self.owner}: the checkpoint {self.path} holds the training of another "
                "configuration or other data (its fingerprint differs); it was not "
                "loaded. Delete it, or pass another checkpoint_dir."
            )
        return state

    def on_train_begin(self, net, **kwargs):
        """Resume from :attr:`path` if it exists."""
        if not os.path.exists(self.path):
            return
        state = self._read()
        net.module_.load_state_dict(state["module"])
        net.optimizer_.load_state_dict(state["optimizer"])
        net.criterion_.load_state_dict(state["criterion"])
        net.history = History(json.loads(state["history"]))
        torch.set_rng_state(state["rng"])
        if state["cuda_rng"] is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], net.device)
        callbacks = dict(net.callbacks_)
        for name, values in state["callbacks"].items():
            for attr, value in values.items():
                _restore(callbacks[name], attr, value)
        self._sink(f"Resumed from {self.path} after epoch {len(net.history)}.", net.verbose)

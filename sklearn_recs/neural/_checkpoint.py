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

Each file starts with a line recording the SHA-256 and the length of the
parameters that follow; resuming verifies both before anything is
unpickled, and a mismatch (a flipped byte, a truncation) raises
:class:`~sklearn_recs.exceptions.InvalidFileError` naming the file. Saving
keeps the previous checkpoint as ``<name>.prev.pt``; inside
:func:`skip_damaged_checkpoints`, a damaged checkpoint is skipped with a
warning and training resumes from the previous good one (or from scratch).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import warnings
from contextlib import contextmanager, suppress
from contextvars import ContextVar

import numpy as np
import scipy.sparse as sp
import torch
from skorch.callbacks import Checkpoint, EarlyStopping, LRScheduler
from skorch.history import History

from ..exceptions import InvalidFileError
from ..utils._stack import user_stacklevel
from ._net import ValidationNDCG

__all__ = ["EpochCheckpoint", "fingerprint", "skip_damaged_checkpoints"]

_FORMAT = 2
# First line of a checkpoint file: b"<_MAGIC> <sha256 hex> <payload length>\n".
_MAGIC = b"sklearn_recs-checkpoint"
_SKIP_DAMAGED = ContextVar("skip_damaged_checkpoints", default=False)


@contextmanager
def skip_damaged_checkpoints():
    """Resume past damaged checkpoints instead of raising.

    Inside this context, a ``fit`` whose checkpoint fails its integrity
    check (SHA-256 mismatch, truncation) warns and resumes from the previous
    good checkpoint (``<name>.prev.pt``), or trains from scratch if there is
    none. Outside it, such a checkpoint raises
    :class:`~sklearn_recs.exceptions.InvalidFileError`.

    Yields
    ------
    None

    Examples
    --------
    >>> from sklearn_recs.neural import skip_damaged_checkpoints
    >>> with skip_damaged_checkpoints():
    ...     pass  # model.fit(X, y) with checkpoint_dir set
    """
    token = _SKIP_DAMAGED.set(True)
    try:
        yield
    finally:
        _SKIP_DAMAGED.reset(token)

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

    @property
    def previous_path(self):
        """Path of the checkpoint before the last one."""
        return self.path[:-len(".pt")] + ".prev.pt"

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
        payload = io.BytesIO()
        torch.save(state, payload)
        payload = payload.getvalue()
        digest = hashlib.sha256(payload).hexdigest()
        fd, temporary = tempfile.mkstemp(prefix=".", suffix=".pt.part", dir=self.dirname)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(b"%s %s %d\n" % (_MAGIC, digest.encode(), len(payload)))
                file.write(payload)
                file.flush()
                os.fsync(file.fileno())
            if os.path.exists(self.path):  # the previous good one, kept for a fallback
                os.replace(self.path, self.previous_path)
            os.replace(temporary, self.path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def _verified_payload(self, path):
        """The parameters of ``path`` after their SHA-256 and length check."""
        with open(path, "rb") as file:
            first = file.readline(200)
            payload = file.read()
        parts = first.split()
        if len(parts) != 3 or parts[0] != _MAGIC or not parts[2].isdigit():
            raise InvalidFileError(
                f"{self.owner}: the checkpoint {path} has no integrity record (SHA-256 and "
                "length); it is corrupted or was written by an older version. Delete it "
                "to train from scratch.")
        if len(payload) != int(parts[2]):
            raise InvalidFileError(
                f"{self.owner}: the checkpoint {path} is truncated or corrupted: it holds "
                f"{len(payload)} bytes of parameters, its record says {int(parts[2])}.")
        digest = hashlib.sha256(payload).hexdigest()
        if digest != parts[1].decode(errors="replace"):
            raise InvalidFileError(
                f"{self.owner}: the checkpoint {path} is corrupted: the SHA-256 of its "
                f"parameters is {digest}, its record says {parts[1].decode(errors='replace')}.")
        return payload

    def _read(self, path):
        payload = self._verified_payload(path)
        try:
            state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise InvalidFileError(
                f"{self.owner}: the checkpoint {path} cannot be read; it is "
                f"truncated or corrupted ({type(exc).__name__}: {exc}). Delete it to "
                "train from scratch."
            ) from exc
        if (not isinstance(state, dict) or state.get("format") != _FORMAT
                or state.get("fingerprint") != self.fingerprint):
            raise ValueError(
                f"{self.owner}: the checkpoint {path} holds the training of another "
                "configuration or other data (its fingerprint differs); it was not "
                "loaded. Delete it, or pass another checkpoint_dir."
            )
        return state

    def _resume_state(self):
        """The state to resume from: the last good checkpoint, or None."""
        for path in (self.path, self.previous_path):
            if not os.path.exists(path):
                continue  # (a crash between the two renames leaves only the previous)
            try:
                return self._read(path)
            except InvalidFileError as exc:
                if not _SKIP_DAMAGED.get():
                    raise InvalidFileError(
                        f"{exc} To resume from the previous good checkpoint instead, fit "
                        "inside sklearn_recs.neural.skip_damaged_checkpoints().") from exc
                warnings.warn(f"{exc} Skipped it.", UserWarning, stacklevel=user_stacklevel())
        return None

    def on_train_begin(self, net, **kwargs):
        """Resume from :attr:`path` if it exists."""
        state = self._resume_state()
        if state is None:
            return
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
        self._sink(f"Resumed from {self.dirname} after epoch {len(net.history)}.", net.verbose)

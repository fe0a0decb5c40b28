"""Faults in neural training: interruption and resumption, crashes while
checkpointing, stale or corrupted checkpoints, and diverging losses.

The reference of every resumption test is an uninterrupted ``fit`` with the
same ``random_state``: the resumed model must hold exactly the same
parameters (bitwise), since every random draw of an epoch is a function of
(seed, epoch) or restored from the checkpoint.
"""

import io
import os
import shutil

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, LRScheduler

from sklearn_recs.exceptions import InvalidFileError
from sklearn_recs.neural import (GMF, MLP, ImplicitMatrixFactorization, MatrixFactorization,
                                 NeuMF, TwoTower, skip_damaged_checkpoints)
from sklearn_recs.neural._data import IndexBatchIterator, InteractionData
from sklearn_recs.neural._net import NonFiniteLossError
from sklearn_recs.utils._testing import checkerboard, tiny_ratings

RATINGS = tiny_ratings()
IMPLICIT = (checkerboard(12, 10), None)
FAST = dict(max_epochs=5, batch_size=16, random_state=0)

# (estimator factory, data): each exercises some state a resumption must restore
CASES = {
    # Adam moments (sparse) and early stopping's best weights and counters
    "MatrixFactorization": (lambda **kw: MatrixFactorization(
        n_factors=4, lr=0.05, optimizer="sparse_adam", early_stopping=True, **FAST, **kw),
        RATINGS),
    # negatives, and an early stop (after epoch 8) on the validation NDCG
    "ImplicitMatrixFactorization": (lambda **kw: ImplicitMatrixFactorization(
        n_factors=4, lr=2.0, early_stopping=True, validation_fraction=0.3,
        callbacks__early_stopping__patience=2,
        **{**FAST, "max_epochs": 30}, **kw), IMPLICIT),
    # dropout: torch's global random state
    "MLP": (lambda **kw: MLP(mlp_factors=4, hidden_layers=(8,), dropout=0.3, **FAST, **kw),
            IMPLICIT),
    "NeuMF": (lambda **kw: NeuMF(n_factors=4, mlp_factors=4, hidden_layers=(8,),
                                 feedback="explicit", **FAST, **kw), RATINGS),
    "TwoTower": (lambda **kw: TwoTower(n_factors=4, id_dropout=0.2, **FAST, **kw), IMPLICIT),
}


class FaultOnce(Callback):
    """Raise ``exc`` after training batch ``batch`` of epoch ``epoch`` (1-based),
    the first time only: the same callback in the rerun lets it finish."""

    def __init__(self, epoch=3, batch=2, exc=KeyboardInterrupt):
        self.epoch = epoch
        self.batch = batch
        self.exc = exc
        self.fired_ = False

    def on_batch_end(self, net, training=None, **kwargs):
        if (training and not self.fired_ and len(net.history) == self.epoch
                and len(net.history[-1]["batches"]) == self.batch):
            self.fired_ = True
            raise self.exc("simulated fault")


def assert_same_model(a, b):
    state_a, state_b = a.net_.module_.state_dict(), b.net_.module_.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        np.testing.assert_array_equal(state_a[key].numpy(), state_b[key].numpy(), err_msg=key)
    assert a.n_epochs_ == b.n_epochs_
    np.testing.assert_array_equal(a.history_[:, "train_loss"], b.history_[:, "train_loss"])


def read_state(path):
    """A checkpoint's state, past its integrity line (SHA-256 and length)."""
    content = path.read_bytes()
    return torch.load(io.BytesIO(content[content.index(b"\n") + 1:]), weights_only=True)


def checkpoint_files(folder):
    """The current checkpoints (not the previous ones kept for a fallback)."""
    return sorted(name for name in os.listdir(folder) if not name.endswith(".prev.pt"))


@pytest.mark.parametrize("name", list(CASES))
def test_interrupted_fit_resumes_to_the_uninterrupted_result(name, tmp_path):
    make, (X, y) = CASES[name]
    reference = make().fit(X, y)
    model = make(checkpoint_dir=tmp_path, callbacks=[FaultOnce(epoch=3, batch=2)])
    with pytest.raises(KeyboardInterrupt, match=rf"{name}: fit was interrupted in epoch 3, "
                                                r"after 2 batch\(es\); the estimator is "
                                                r"not fitted\. Fit again to resume from "
                                                r"the checkpoint of epoch 2 in "):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    [file] = checkpoint_files(tmp_path)  # one file, no temporaries
    assert file.startswith(f"{name}-") and file.endswith(".pt")
    state = read_state(tmp_path / file)
    assert len(state["history"]) and state["history"].count('"epoch"') == 2
    model.fit(X, y)
    assert_same_model(model, reference)
    np.testing.assert_array_equal(model.predict(X[:20]), reference.predict(X[:20]))
    if name == "ImplicitMatrixFactorization":
        assert reference.n_epochs_ < 30  # the early stop happened, after the resumption
    # A finished training resumes to itself without training again.
    again = make(checkpoint_dir=tmp_path, callbacks=[FaultOnce(epoch=3, batch=2)]).fit(X, y)
    assert_same_model(again, reference)


def test_interrupted_fit_with_the_implicit_term_resumes_to_the_uninterrupted_result(tmp_path):
    # the implicit factors, sums and the gradient accumulated in the epoch are buffers
    X, y = RATINGS
    params = dict(n_factors=4, lr=1.0, implicit_term=True, **FAST)
    reference = MatrixFactorization(**params).fit(X, y)
    model = MatrixFactorization(**params, checkpoint_dir=tmp_path,
                                callbacks=[FaultOnce(epoch=3, batch=2)])
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    assert_same_model(model.fit(X, y), reference)
    np.testing.assert_array_equal(model.implicit_factors_, reference.implicit_factors_)


def test_interruption_messages(tmp_path):
    X, y = RATINGS
    for checkpoint_dir, hint in [(None, "Pass checkpoint_dir to make training resumable"),
                                 (tmp_path, "No epoch was complete: fitting again starts over")]:
        model = MatrixFactorization(n_factors=4, lr=1.0, checkpoint_dir=checkpoint_dir,
                                    callbacks=[FaultOnce(epoch=1, batch=1)], **FAST)
        with pytest.raises(KeyboardInterrupt, match=rf"epoch 1, after 1 batch\(es\); .*{hint}"):
            model.fit(X, y)
        assert not hasattr(model, "history_")


@pytest.mark.parametrize("policy", ["StepLR", "ReduceLROnPlateau"])
def test_crash_resumes_with_an_lr_schedule(policy, tmp_path):
    # Any exception (not only Ctrl-C) leaves the checkpoints of complete epochs;
    # a user's LR scheduler continues its schedule.
    X, y = RATINGS
    kwargs = (dict(step_size=2, gamma=0.5) if policy == "StepLR"
              else dict(monitor="train_loss", patience=0, factor=0.5, threshold=0.5))
    schedule = LRScheduler(policy, **kwargs)
    params = dict(n_factors=4, lr=1.0, **FAST)
    reference = MatrixFactorization(**params, callbacks=[schedule]).fit(X, y)
    fault = FaultOnce(epoch=4, batch=1, exc=MemoryError)
    model = MatrixFactorization(**params, checkpoint_dir=tmp_path, callbacks=[schedule, fault])
    with pytest.raises(MemoryError, match="simulated fault"):
        model.fit(X, y)
    assert not hasattr(model, "user_factors_")
    assert_same_model(model.fit(X, y), reference)
    assert (model.net_.optimizer_.param_groups[0]["lr"]
            == reference.net_.optimizer_.param_groups[0]["lr"] < 1.0)


def test_crash_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    X, y = RATINGS
    params = dict(n_factors=4, lr=1.0, **FAST)
    reference = MatrixFactorization(**params).fit(X, y)
    real_save, calls = torch.save, []

    def save_then_die(obj, file, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the checkpoint of epoch 3: half-written, then the crash
            file.write(b"PK\x03\x04 half of a checkpoint")
            raise OSError("No space left on device")
        real_save(obj, file, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_then_die)
    model = MatrixFactorization(**params, checkpoint_dir=tmp_path)
    with pytest.raises(OSError, match="No space left"):
        model.fit(X, y)
    monkeypatch.setattr(torch, "save", real_save)
    [file] = checkpoint_files(tmp_path)  # the temporary file was removed
    assert read_state(tmp_path / file)["history"].count('"epoch"') == 2
    assert_same_model(model.fit(X, y), reference)


def test_other_configuration_or_data_is_not_resumed(tmp_path):
    X, y = RATINGS
    first = MatrixFactorization(n_factors=4, lr=1.0, checkpoint_dir=tmp_path, **FAST).fit(X, y)
    [first_file] = checkpoint_files(tmp_path)
    # Other parameters, or other data: trained from scratch, under another name.
    other_lr = MatrixFactorization(n_factors=4, lr=0.5, checkpoint_dir=tmp_path, **FAST)
    assert_same_model(other_lr.fit(X, y), MatrixFactorization(n_factors=4, lr=0.5,
                                                              **FAST).fit(X, y))
    [lr_file] = set(checkpoint_files(tmp_path)) - {first_file}
    other_data = MatrixFactorization(n_factors=4, lr=1.0, checkpoint_dir=tmp_path, **FAST)
    assert_same_model(other_data.fit(X[:-3], y[:-3]),
                      MatrixFactorization(n_factors=4, lr=1.0, **FAST).fit(X[:-3], y[:-3]))
    assert len(checkpoint_files(tmp_path)) == 3
    # Parameters that do not change the training share the checkpoint.
    quiet = MatrixFactorization(n_factors=4, lr=1.0, checkpoint_dir=str(tmp_path), n_jobs=1,
                                **FAST).fit(X, y)
    assert_same_model(quiet, first)
    assert len(checkpoint_files(tmp_path)) == 3
    # A file that holds another training under this name is refused.
    shutil.copyfile(tmp_path / first_file, tmp_path / lr_file)
    with pytest.raises(ValueError, match=r"holds the training of another configuration or "
                                         r"other data .* not loaded\. Delete it"):
        other_lr.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(other_lr)


def test_truncated_checkpoint_is_refused(tmp_path):
    X, y = RATINGS
    model = MatrixFactorization(n_factors=4, lr=1.0, checkpoint_dir=tmp_path, **FAST).fit(X, y)
    [file] = checkpoint_files(tmp_path)
    content = (tmp_path / file).read_bytes()
    (tmp_path / file).write_bytes(content[:len(content) // 2])
    with pytest.raises(InvalidFileError, match=rf"checkpoint .*{file} is truncated or "
                                               r"corrupted: it holds \d+ bytes"):
        model.fit(X, y)
    (tmp_path / file).unlink()
    model.fit(X, y)  # from scratch once deleted
    assert checkpoint_files(tmp_path) == [file]


def test_checkpoint_needs_an_int_random_state(tmp_path):
    X, y = RATINGS
    model = MatrixFactorization(max_epochs=1, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=r"checkpoint_dir needs an int random_state, got "
                                         r"random_state=None"):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    assert not tmp_path.exists() or checkpoint_files(tmp_path) == []


def test_epoch_draws_depend_on_seed_and_epoch_only():
    data = InteractionData(np.arange(12) % 4, np.arange(12) % 6, n_items=6,
                           positives=np.unique((np.arange(12) % 4) * 6 + np.arange(12) % 6))

    def epoch(iterator):
        batches = list(iterator)
        return [torch.cat([b[0][key] for b in batches]) for key in ("users", "items")]

    fresh = IndexBatchIterator(data, 5, shuffle=True, n_negatives=2, seed=7)
    epochs = [epoch(fresh) for _ in range(3)]
    resumed = IndexBatchIterator(data, 5, shuffle=True, n_negatives=2, seed=7, epoch=2)
    for a, b in zip(epoch(resumed), epochs[2]):
        assert torch.equal(a, b)
    assert not torch.equal(epochs[1][1], epochs[2][1])


# NaN / inf losses ------------------------------------------------------------


class PlantNaN(Callback):
    """Fault: fill every weight with ``value`` before training batch 1 of epoch 2."""

    def __init__(self, value=float("nan")):
        self.value = value

    def on_batch_begin(self, net, training=None, **kwargs):
        if training and len(net.history) == 2 and len(net.history[-1]["batches"]) == 1:
            with torch.no_grad():
                for param in net.module_.parameters():
                    param.fill_(self.value)


ALL = {
    "MatrixFactorization": (MatrixFactorization(lr=1.0), RATINGS),
    "ImplicitMatrixFactorization": (ImplicitMatrixFactorization(lr=1.0), IMPLICIT),
    "GMF": (GMF(), IMPLICIT),
    "MLP": (MLP(), IMPLICIT),
    "NeuMF": (NeuMF(), IMPLICIT),
    "TwoTower": (TwoTower(n_factors=8), IMPLICIT),
}
MESSAGE = (r"{}: the training loss became (nan|inf|-inf) in epoch {}, batch {} \(lr=.*\)\. "
           r"Training diverged and the model was not fitted: use a smaller lr")


@pytest.mark.parametrize("name", list(ALL))
def test_non_finite_loss_stops_and_leaves_no_model(name):
    model, (X, y) = ALL[name]
    model = clone(model).set_params(max_epochs=3, batch_size=32, random_state=0).fit(X, y)
    # A failed refit must not leave the previous model (or a NaN one) fitted.
    model.set_params(callbacks=[PlantNaN(float("inf"))])
    with pytest.raises(NonFiniteLossError, match=MESSAGE.format(name, 2, 1)):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        model.recommend(np.unique(X[:, 0])[:1] if isinstance(X, np.ndarray) else ["u00"])
    if name != "TwoTower":  # its loss is bounded (cosines): a huge lr does not diverge
        model.set_params(callbacks=None, lr=1e30)
        with pytest.raises(NonFiniteLossError, match=MESSAGE.format(name, r"\d+", r"\d+")):
            model.fit(X, y)
        with pytest.raises(NotFittedError):
            check_is_fitted(model)


def _interrupted(tmp_path, epoch=4):
    """A MatrixFactorization fit stopped in epoch ``epoch``: checkpoints of the
    two epochs before it on disk; and the uninterrupted reference."""
    X, y = RATINGS
    make = CASES["MatrixFactorization"][0]
    reference = make().fit(X, y)
    model = make(checkpoint_dir=tmp_path, callbacks=[("fault", FaultOnce(epoch=epoch))])
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    [file] = checkpoint_files(tmp_path)
    return model, reference, tmp_path / file


def test_flipped_bytes_and_truncations_are_detected(tmp_path):
    model, _, path = _interrupted(tmp_path)
    content = path.read_bytes()
    header = content.index(b"\n") + 1
    rng = np.random.default_rng(0)
    detected = 0
    # every flip in the parameters, and every truncation, is refused, naming the file
    damaged = [content[:n] for n in rng.integers(header, len(content), 10)]
    for where in rng.integers(header, len(content), 20):
        flipped = bytearray(content)
        flipped[where] ^= 1 << int(rng.integers(8))
        damaged.append(bytes(flipped))
    for blob in damaged:
        path.write_bytes(blob)
        with pytest.raises(InvalidFileError, match=rf"checkpoint {path} is (truncated or )?"
                                                   r"corrupted.*skip_damaged_checkpoints"):
            model.fit(*RATINGS)
        detected += 1
    assert detected == 30


def test_damaged_checkpoint_falls_back_to_the_previous_good_one(tmp_path):
    model, reference, path = _interrupted(tmp_path)
    previous = path.with_name(path.name[:-3] + ".prev.pt")
    assert previous.exists()
    content = bytearray(path.read_bytes())
    content[-10] ^= 0xFF
    path.write_bytes(bytes(content))
    with skip_damaged_checkpoints(), pytest.warns(UserWarning, match=rf"{path} is corrupted"):
        model.fit(*RATINGS)
    # resumed one epoch earlier, it still ends exactly where an uninterrupted fit does
    assert_same_model(model, reference)


def test_a_crash_between_the_renames_resumes_from_the_previous(tmp_path):
    model, reference, path = _interrupted(tmp_path)
    path.unlink()  # only <name>.prev.pt is left
    model.fit(*RATINGS)
    assert_same_model(model, reference)

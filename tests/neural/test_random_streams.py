"""``random_state`` is expanded into independent streams, one per use.

The validation split, the initial weights, the batch order with its
sampled negatives, dropout and fold-in each draw from their own seed
(``numpy.random.SeedSequence(random_state).spawn``): the same
``random_state`` gives the same model, and using one stream differently
(another dropout rate, early stopping on or off) leaves the draws of the
others where they were.
"""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_recs.neural import MLP, ImplicitMatrixFactorization, MatrixFactorization, TwoTower
from sklearn_recs.neural._base import random_streams
from sklearn_recs.utils._testing import checkerboard, tiny_ratings


class _Record(Callback):
    """Keeps the initial weights and the validation rows of a fit."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.weights = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
        split = net.train_split
        valid = None if split is None else split.keywords["valid_ds"]
        self.valid = None if valid is None else (valid.users.numpy().copy(),
                                                 valid.items.numpy().copy())


def _recorded_fit(model, X, y=None):
    record = _Record()
    model.set_params(callbacks=[("record", record)]).fit(X, y)
    return record


def test_streams_are_reproducible_and_independent():
    streams = random_streams(0)
    assert streams == random_streams(0)
    assert set(streams) == {"validation", "init", "sampling", "valid_sampling", "dropout",
                            "fold_in"}
    assert len(set(streams.values())) == len(streams)  # one seed per use, not one for all
    assert streams != random_streams(1)
    # a RandomState instance is drawn from once per expansion, as scikit-learn does
    assert random_streams(np.random.RandomState(5)) == random_streams(np.random.RandomState(5))
    assert random_streams(None) != random_streams(None)


def test_initial_weights_do_not_depend_on_the_validation_split_or_dropout():
    X = checkerboard(12, 12)
    kw = dict(mlp_factors=4, hidden_layers=(8,), max_epochs=1, random_state=3)
    plain = _recorded_fit(MLP(**kw), X)
    others = [_recorded_fit(MLP(dropout=0.5, **kw), X),
              _recorded_fit(MLP(early_stopping=True, validation_fraction=0.3, **kw), X)]
    for other in others:
        assert plain.weights.keys() == other.weights.keys()
        for name, value in plain.weights.items():
            assert torch.equal(value, other.weights[name]), name
    different = _recorded_fit(MLP(**{**kw, "random_state": 4}), X)
    assert not all(torch.equal(v, different.weights[k]) for k, v in plain.weights.items())


def test_validation_split_does_not_depend_on_the_other_streams():
    X, y = tiny_ratings()
    kw = dict(n_factors=4, max_epochs=1, lr=1.0, early_stopping=True, random_state=0)
    a = _recorded_fit(MatrixFactorization(init_std=0.02, **kw), X, y)
    b = _recorded_fit(MatrixFactorization(init_std=0.5, batch_size=7, **kw), X, y)
    assert a.valid is not None and len(a.valid[0]) > 0
    for left, right in zip(a.valid, b.valid):
        np.testing.assert_array_equal(left, right)


@pytest.mark.parametrize("model", [
    MatrixFactorization(n_factors=4, max_epochs=3, early_stopping=True),
    ImplicitMatrixFactorization(n_factors=4, max_epochs=3, early_stopping=True),
    MLP(mlp_factors=4, hidden_layers=(8,), dropout=0.3, max_epochs=3, early_stopping=True),
    TwoTower(n_factors=4, id_dropout=0.3, max_epochs=3, early_stopping=True),
], ids=lambda m: type(m).__name__)
def test_same_random_state_gives_the_same_model(model):
    X, y = tiny_ratings()
    y = y if isinstance(model, MatrixFactorization) else None
    first = model.set_params(random_state=7).fit(X, y).predict(X)
    second = model.set_params(random_state=7).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)
    other = model.set_params(random_state=8).fit(X, y).predict(X)
    assert not np.array_equal(first, other)

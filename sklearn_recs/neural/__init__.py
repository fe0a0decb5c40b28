"""Neural recommenders in PyTorch, trained with skorch.

One module per family, over a floor of shared parts: ``_mf`` (matrix
factorisation), ``_ncf`` (neural collaborative filtering) and
``_two_tower`` (two-tower retrieval) each import only the floor: the
estimator base ``_base``, the skorch net ``_net``,
data loading ``_data``, checkpoints ``_checkpoint`` and the torch modules
(``_modules``, ``_ncf_modules``, ``_two_tower_modules``). Fold-in of new
users (``sklearn_recs._fold_in``) sits above this package: ImplicitALS uses
it too.

Importing :mod:`sklearn_recs` does not import torch; importing an estimator
from this sub-package does (the classes load on first access).

- :class:`MatrixFactorization`: biased MF for ratings (MSE).
- :class:`ImplicitMatrixFactorization`: MF for implicit feedback (BPR, BCE
  or sampled softmax, with sampled negatives).
- :class:`GMF`, :class:`MLP`, :class:`NeuMF`: neural collaborative
  filtering (He et al. 2017), for ratings or implicit feedback.
- :class:`TwoTower`: two-tower retrieval with in-batch sampled softmax and
  optional user/item feature columns; :class:`BruteForceIndex`, its exact
  top-k index over item vectors.
"""

import importlib

from ._optimized_mode import keep_skorch_docstrings

# Before any module of this package imports skorch (a no-op without -OO).
keep_skorch_docstrings()

__all__ = [
    "GMF",
    "MLP",
    "BruteForceIndex",
    "ImplicitMatrixFactorization",
    "MatrixFactorization",
    "NeuMF",
    "TwoTower",
    "skip_damaged_checkpoints",
]

_LAZY = {
    "MatrixFactorization": "._mf",
    "ImplicitMatrixFactorization": "._mf",
    "GMF": "._ncf",
    "MLP": "._ncf",
    "NeuMF": "._ncf",
    "TwoTower": "._two_tower",
    "BruteForceIndex": "._two_tower",
    "skip_damaged_checkpoints": "._checkpoint",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)

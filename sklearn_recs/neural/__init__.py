"""Neural recommenders in PyTorch, trained with skorch.

Importing :mod:`sklearn_recs` does not import torch; importing an estimator
from this sub-package does (the classes load on first access).

- :class:`MatrixFactorization`: biased MF for ratings (MSE).
- :class:`ImplicitMatrixFactorization`: MF for implicit feedback (BPR or
  BCE with sampled negatives).
"""

import importlib

__all__ = ["ImplicitMatrixFactorization", "MatrixFactorization"]

_LAZY = {
    "MatrixFactorization": "._estimators",
    "ImplicitMatrixFactorization": "._estimators",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)

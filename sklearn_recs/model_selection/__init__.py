"""Train/test splitters for recommender evaluation protocols.

Cross-validation splitters with scikit-learn's API (pass them as ``cv=``):
per-user K-fold and random holdout, per-user temporal holdout and
leave-last-out, and a global temporal split; plus :func:`train_test_split`.
"""

from . import _split
from ._split import (
    LeaveLastOut,
    PerUserKFold,
    PerUserShuffleSplit,
    PerUserTemporalSplit,
    TemporalSplit,
    train_test_split,
)

__all__ = list(_split.__all__)

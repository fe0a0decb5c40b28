"""scikit-learn-compatible recommender-system estimators.

Public modules (``__all__``): the estimator families ``baselines``,
``neighbors``, ``content``, ``hybrid``, ``linear_model``, ``decomposition``
and ``neural``
(PyTorch, imported lazily); ``metrics``, ``model_selection`` and
``datasets``; ``serving`` (export without pickle); ``base`` (the
recommender mixin), ``exceptions`` and ``utils``.
Importing ``sklearn_recs`` imports nothing heavy: no torch.
"""

__version__ = "0.1.0"

__all__ = [
    "base",
    "baselines",
    "content",
    "datasets",
    "decomposition",
    "exceptions",
    "hybrid",
    "linear_model",
    "metrics",
    "model_selection",
    "neighbors",
    "neural",
    "serving",
    "utils",
]

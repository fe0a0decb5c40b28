"""scikit-learn-compatible recommender-system estimators.

Sub-packages: ``baselines``, ``neighbors``, ``linear_model``, ``content``,
``neural`` (PyTorch, imported lazily), ``metrics``, ``model_selection``,
``datasets``, ``utils``.
Importing ``sklearn_recs`` imports nothing heavy: no torch.
"""

__version__ = "0.1.0"

__all__ = [
    "baselines",
    "datasets",
    "exceptions",
    "linear_model",
    "metrics",
    "model_selection",
    "utils",
]

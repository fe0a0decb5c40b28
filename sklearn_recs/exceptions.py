"""Warnings and errors raised by sklearn_recs."""

from sklearn.exceptions import NotFittedError

__all__ = ["ColdStartWarning", "DataWarning", "InvalidFileError", "NotFittedError"]


class DataWarning(UserWarning):
    """Warning about the input data: converted, aggregated or dropped rows."""


class ColdStartWarning(UserWarning):
    """Warning that some users or items were unknown at fit time.

    Their scores come from the estimator's documented fallback (the global
    mean and biases for rating models, popularity for rankings); the message
    gives how many rows or users were affected.
    """


class InvalidFileError(ValueError):
    """A file to load is malformed, truncated, corrupted or inconsistent.

    Raised by :func:`sklearn_recs.serving.load_npz` (naming the archive
    member and the problem) and when a neural checkpoint fails its
    integrity check (naming the file). Nothing of the file was used.
    """

"""Warnings and errors raised by sklearn_recs."""

from sklearn.exceptions import NotFittedError

__all__ = ["ColdStartWarning", "DataWarning", "InvalidFileError", "NotFittedError"]


class DataWarning(UserWarning):
    """Warning about the input data: converted, aggregated or dropped rows.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_recs.baselines import GlobalMean
    >>> from sklearn_recs.exceptions import DataWarning
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", DataWarning)
    ...     model = GlobalMean().fit([["a", "x"], ["a", "x"]], [1.0, 3.0])
    >>> print(caught[0].message)
    GlobalMean: X has 1 duplicate (user, item) row(s); their ratings were averaged.
    """


class ColdStartWarning(UserWarning):
    """Warning that some users or items were unknown at fit time.

    Their scores come from the estimator's documented fallback (the global
    mean and biases for rating models, popularity for rankings); the message
    gives how many rows or users were affected.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_recs.baselines import Popularity
    >>> from sklearn_recs.exceptions import ColdStartWarning
    >>> model = Popularity().fit([["a", "x"], ["b", "x"], ["b", "y"]])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", ColdStartWarning)
    ...     model.recommend(["new user"], top_n=1)
    array([['x']], dtype=object)
    >>> print(caught[0].message)
    Popularity: 1 of 1 users were unseen at fit; they get the popularity ranking.
    """


class InvalidFileError(ValueError):
    """A file to load is malformed, truncated, corrupted or inconsistent.

    Raised by :func:`sklearn_recs.serving.load_npz` (naming the archive
    member and the problem) and when a neural checkpoint fails its
    integrity check (naming the file). Nothing of the file was used.

    Examples
    --------
    >>> import io
    >>> from sklearn_recs.exceptions import InvalidFileError
    >>> from sklearn_recs.serving import load_npz
    >>> try:
    ...     load_npz(io.BytesIO(b"not a zip archive"))
    ... except InvalidFileError as error:
    ...     print(type(error).__name__, isinstance(error, ValueError))
    InvalidFileError True
    """

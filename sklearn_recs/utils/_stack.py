"""Warnings that point at the user's line, not at the package's internals."""

import sys

__all__ = ["user_stacklevel"]

# Packages whose frames a warning skips: this one, and the libraries that
# call into it (scikit-learn's fit wrappers and search, skorch's callbacks).
_INTERNAL = ("sklearn_recs", "sklearn", "skorch")


def user_stacklevel():
    """The ``stacklevel`` that makes a warning point at the caller's code.

    For the function that calls :func:`warnings.warn`: the number of frames
    up to the first one outside :mod:`sklearn_recs`, scikit-learn and
    skorch, however deep the call came from (``fit`` through
    ``_fit_context``, ``recommend`` through a scorer).

    Returns
    -------
    stacklevel : int
        For ``warnings.warn(..., stacklevel=user_stacklevel())``.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_recs.utils._stack import user_stacklevel
    >>> def check(value):
    ...     if value < 0:
    ...         warnings.warn("negative value", UserWarning, stacklevel=user_stacklevel())
    >>> user_stacklevel() >= 1
    True
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in _INTERNAL:
        frame, level = frame.f_back, level + 1
    return level

"""The ``__init__`` body of an estimator: its parameters stored as given."""

import inspect

__all__ = ["store_params"]

_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def store_params(estimator, params):
    """Store ``__init__``'s arguments on ``estimator`` under their own names.

    scikit-learn's rule: ``__init__`` sets each parameter as an attribute of
    the same name, unchanged, and does nothing else (validation waits for
    ``fit``), so that ``get_params`` and :func:`~sklearn.base.clone` work.
    Called as ``store_params(self, locals())``; only the names of the
    signature are stored, so helper variables of ``__init__`` never are.

    Parameters
    ----------
    estimator : object
        The instance being initialised.
    params : dict
        ``locals()`` of its ``__init__``.

    Examples
    --------
    >>> from sklearn_recs.utils._params import store_params
    >>> class Model:
    ...     def __init__(self, alpha=1.0, *, n_jobs=None):
    ...         store_params(self, locals())
    >>> vars(Model(alpha=2.0))
    {'alpha': 2.0, 'n_jobs': None}
    """
    signature = inspect.signature(type(estimator).__init__).parameters.values()
    for parameter in signature:
        if parameter.name != "self" and parameter.kind not in _VARIADIC:
            setattr(estimator, parameter.name, params[parameter.name])

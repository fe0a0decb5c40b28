"""Docstring fragments shared by several estimators, and the helper that fills them in.

A docstring holds ``{name}`` where a shared fragment goes; :func:`fill_doc`
replaces it at import. Under ``python -OO`` docstrings are stripped
(``__doc__`` is None) and :func:`fill_doc` leaves them so.
"""

# The vocabulary attributes every recommender documents (RecommenderMixin's
# data contract), at the indentation of a class docstring's Attributes.
VOCABULARY_ATTRIBUTES = """users_ : ndarray of shape (n_users_,)
        User ids seen at fit, sorted.
    items_ : ndarray of shape (n_items_,)
        Item ids seen at fit, sorted.
    n_users_ : int
        Number of users seen at fit.
    n_items_ : int
        Number of items seen at fit."""


def fill_doc(obj, **fragments):
    """Replace each ``{name}`` of ``obj.__doc__`` with ``fragments[name]``; return ``obj``.

    Parameters
    ----------
    obj : class or function
        Whose docstring to fill (None under ``python -OO``: left as is).
    **fragments : str
        The text of each placeholder.

    Returns
    -------
    obj : class or function
        ``obj``, its docstring filled.
    """
    if obj.__doc__:
        obj.__doc__ = fill_text(obj.__doc__, **fragments)
    return obj


def fill_text(text, **fragments):
    """``text`` with each ``{name}`` replaced by ``fragments[name]`` (None stays None)."""
    if text is None:
        return None
    for name, fragment in fragments.items():
        text = text.replace("{" + name + "}", fragment)
    return text


def shared_doc(obj):
    """Decorator: :func:`fill_doc` with every shared fragment of this module.

    ``{vocabulary_attributes}`` is :data:`VOCABULARY_ATTRIBUTES`.
    """
    return fill_doc(obj, vocabulary_attributes=VOCABULARY_ATTRIBUTES)

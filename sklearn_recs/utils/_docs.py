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
# The fitted attributes of an implicit-feedback model that keeps the training
# weights (filled in for ``{fitted_attributes}``).
IMPLICIT_FITTED_ATTRIBUTES = VOCABULARY_ATTRIBUTES + """
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        The training weights (duplicates summed; 1 per row when ``y`` is
        None).
    n_features_in_ : int
        Number of columns of ``X`` at fit."""


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


# The Parameters heading and ``X`` of every ``fit`` (the docstring goes on
# with "." or more text), and its Returns section, at the indentation of a
# method docstring.
FIT_X = """Parameters
        ----------
        X : array-like of shape (n_samples, n_columns >= 2)
            Column 0 holds user ids, column 1 item ids"""
FIT_RETURNS = """Returns
        -------
        self : object
            The fitted estimator."""

# The catalogue sizes and training data of a model whose items_ are described
# on their own (meta-estimators, feature models).
CATALOGUE_ATTRIBUTES = """n_users_ : int
        Number of users seen at fit.
    n_items_ : int
        Number of items in the catalogue.
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        The training interactions.
    n_features_in_ : int
        Number of columns of ``X`` at fit."""

# Parameters, Returns and Notes of an implicit model's partial_fit.
PARTIAL_FIT_IMPLICIT = FIT_X + """.
        y : array-like of shape (n_samples,), default=None
            Non-negative interaction weights; None means every row weighs 1.

        Returns
        -------
        self : object
            The updated estimator.

        Notes
        -----
        The first call on an unfitted model is ``fit``, as in scikit-learn."""

# The parameters of approximate retrieval (the factor models; sklearn_recs._retrieval).
RETRIEVAL_PARAMETERS = """retrieval : {"exact", "hnsw"}, default="exact"
        How ``recommend`` finds each user's best items in the whole
        catalogue: ``"exact"`` scores every item; ``"hnsw"`` searches an
        HNSW graph over the item vectors built at fit (approximate: a list
        may miss a few of the exact top items, but never holds an excluded
        or seen one). Needs the optional ``hnswlib`` (``pip install
        sklearn_recs[ann]``). Fold-in users search the graph too;
        restricting ``items=`` is ranked exactly. See
        :ref:`approximate-retrieval`.
    retrieval_params : dict, default=None
        Settings of the HNSW graph, with hnswlib's names: ``M`` (links per
        item, default 32; more links make deep lists and heavy exclusions
        more exact), ``ef_construction`` (search width while building,
        default 100) and ``ef_search`` (search width per query, default 150;
        larger is slower and more exact). None means the defaults.
        ``n_jobs`` (default None: one thread) builds the graph on several
        threads: faster, but two builds then differ slightly (not
        reproducible to the bit)."""

SHARED_FRAGMENTS = {"vocabulary_attributes": VOCABULARY_ATTRIBUTES, "fit_X": FIT_X,
                    "fit_returns": FIT_RETURNS, "catalogue_attributes": CATALOGUE_ATTRIBUTES,
                    "partial_fit_implicit": PARTIAL_FIT_IMPLICIT,
                    "retrieval_parameters": RETRIEVAL_PARAMETERS}


def fill_class_doc(cls, **fragments):
    """Fill the docstrings of ``cls`` and of its own methods; return ``cls``.

    The placeholders are those of :data:`SHARED_FRAGMENTS` and ``fragments``.

    Parameters
    ----------
    cls : class
        The class whose docstrings to fill.
    **fragments : str
        More placeholders.

    Returns
    -------
    cls : class
        ``cls``, its docstrings filled.
    """
    fragments = {**SHARED_FRAGMENTS, **fragments}
    fill_doc(cls, **fragments)
    for method in vars(cls).values():
        if callable(method) and getattr(method, "__doc__", None):
            fill_doc(method, **fragments)
    return cls


def shared_doc(cls):
    """Class decorator: :func:`fill_class_doc` with the shared fragments."""
    return fill_class_doc(cls)

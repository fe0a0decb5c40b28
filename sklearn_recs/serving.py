"""Safe export of fitted recommenders for serving: ``.npz`` files, no pickle.

A pickle (or joblib) file runs code when it is loaded, so it must only be
loaded from a trusted source. :func:`save_npz` writes what a fitted model
learnt as plain arrays instead (numpy's ``.npz``: the vocabularies, the
training interactions and the model's own arrays); :func:`load_npz` reads
them back with ``allow_pickle=False`` into an :class:`ExportedRecommender`,
which serves ``recommend``, ``predict``, ``similar_items`` and ``explain``
with exactly the output of the original estimator, without the estimator's class,
PyTorch, or the training data beyond the seen items.

The export is a protocol: an estimator opts in with one hook,
``_serving_arrays() -> (kind, arrays)`` (declared by
:class:`~sklearn_recs.base.RecommenderMixin`), where ``kind`` names one of
the scoring formulas of :mod:`sklearn_recs._scoring` and ``arrays`` holds
its operands. The estimator scores with the same formula object, so the
served model cannot drift from the live one.

- ``"factors"``: ``score(u, i) = user_factors[u] @ item_factors[i] +
  item_bias[i] + user_offset[u]`` (:class:`~sklearn_recs.neural.MatrixFactorization`,
  :class:`~sklearn_recs.neural.ImplicitMatrixFactorization`,
  :class:`~sklearn_recs.decomposition.ImplicitALS`, and with no
  factors :class:`~sklearn_recs.baselines.GlobalMean`,
  :class:`~sklearn_recs.baselines.BiasBaseline`,
  :class:`~sklearn_recs.baselines.Popularity`).
- ``"two_tower"``: ``score(u, i) = user_vectors[u] @ item_vectors[i] /
  temperature`` (:class:`~sklearn_recs.neural.TwoTower`).
- ``"product"``: ``score(u, i) = left[u] @ right[i]`` over dense or sparse
  matrices, plus optional offsets (:class:`~sklearn_recs.linear_model.EASE`,
  :class:`~sklearn_recs.linear_model.SparseEASE`,
  :class:`~sklearn_recs.linear_model.SLIM`,
  :class:`~sklearn_recs.neighbors.RP3Beta`, implicit
  :class:`~sklearn_recs.neighbors.ItemKNN` and
  :class:`~sklearn_recs.neighbors.UserKNN`,
  :class:`~sklearn_recs.content.ContentRecommender`, demographic
  :class:`~sklearn_recs.baselines.Popularity`).

Not exportable (``save_npz`` says so): the NCF models (``GMF``, ``MLP``,
``NeuMF``), which score with a neural network; ``RankingBlend``, which
combines other models; ``ItemKNN`` and ``UserKNN`` fit on ratings, whose
predictions select each pair's neighbours. Persist those with
``joblib.dump`` and load the files only from trusted sources.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._explain import EXPORTED_TERMS
from ._scoring import FORMULAS as _KINDS
from ._scoring import FormulaScoring
from .base import RecommenderMixin
from .utils._docs import shared_doc
from .utils._npz import read_export

__all__ = ["ExportedRecommender", "load_npz", "save_npz"]

#: The newest format :func:`save_npz` writes; :func:`load_npz` reads it and older ones.
#: Version 2 added the optional members ``feature_names`` (the sources of a served
#: ContentRecommender's explain) and ``hnsw_n_jobs`` (a multi-threaded graph build).
#: A file is written with the lowest version that describes it, so an export without
#: those members stays readable by releases that read version 1 only.
FORMAT_VERSION = 2
_VERSION_2_MEMBERS = ("feature_names", "hnsw_n_jobs")
_FORMAT = "sklearn_recs.serving"
# Separates a sparse matrix's name from its parts in the file (``left__data``).
_SEP = "__"
_CSR_PARTS = ("data", "indices", "indptr", "shape")


# -- writing ---------------------------------------------------------------------
def _plain_ids(ids):
    """Ids as an array numpy loads without pickle: strings as unicode, not objects."""
    ids = np.asarray(ids)
    if ids.dtype == object and all(isinstance(v, str) for v in ids.tolist()):
        return ids.astype(str)
    return np.asarray(ids.tolist()) if ids.dtype == object else ids


def _flatten(arrays):
    """``{name: value}`` as plain arrays: a CSR matrix becomes its parts, None is left out."""
    flat = {}
    for name, value in arrays.items():
        if value is None:
            continue
        if sp.issparse(value):
            value = sp.csr_matrix(value)
            for part in _CSR_PARTS:
                flat[f"{name}{_SEP}{part}"] = np.asarray(getattr(value, part))
        else:
            flat[name] = np.asarray(value)
            if flat[name].dtype == object:
                raise TypeError(
                    f"save_npz: {name!r} holds Python objects (e.g. ids of mixed types), "
                    "which cannot be stored without pickle."
                )
    return flat


def save_npz(estimator, file, *, compressed=True):
    """Save a fitted recommender's learned arrays to a ``.npz`` file, without pickle.

    The file holds the id vocabularies (string ids as unicode arrays), the
    training interactions (for ``exclude_seen``), the fallback used for
    unknown users and items, and the arrays of the model's scoring formula,
    plus the format version and the estimator's class name. Read it with
    :func:`load_npz`, which never unpickles anything.

    Parameters
    ----------
    estimator : fitted recommender
        A recommender of this package that supports the export (see the
        module description for the list).
    file : str, path or file-like
        Where to write; ``.npz`` is appended to a name without it (numpy's
        rule).
    compressed : bool, default=True
        Whether to compress the arrays (``np.savez_compressed``).

    Raises
    ------
    TypeError
        If the estimator's scores are not a formula of exported arrays (a
        neural network, a blend of models, per-pair neighbour selection).
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.

    See Also
    --------
    load_npz : Load the file into an :class:`ExportedRecommender`.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_recs.baselines import BiasBaseline
    >>> from sklearn_recs.serving import load_npz, save_npz
    >>> from sklearn_recs.utils._testing import tiny_ratings
    >>> X, y = tiny_ratings()
    >>> model = BiasBaseline().fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "bias.npz")
    >>> save_npz(model, path)
    >>> served = load_npz(path)
    >>> served
    ExportedRecommender(estimator='BiasBaseline')
    >>> (served.recommend(["u00", "u01"], top_n=3)
    ...  == model.recommend(["u00", "u01"], top_n=3)).all()
    np.True_
    """
    name = type(estimator).__name__
    check_is_fitted(estimator)
    hook = estimator._provided("_serving_arrays")
    if hook is None:
        raise TypeError(
            f"save_npz: {name} does not support the .npz export: its scores are not a "
            "formula of arrays that can be stored (a neural network, or a blend of "
            "other models). Persist it with joblib.dump(model, path), and load such "
            "files only from sources you trust (loading a pickle runs code)."
        )
    kind, arrays = hook()
    fallback = arrays.pop("fallback", estimator._fallback)
    names = estimator._provided("_feature_names")
    if names is not None:  # the sources of explain (ContentRecommender)
        arrays = {**arrays, "feature_names": _plain_ids(names()).astype(str)}
    version = 2 if any(member in arrays for member in _VERSION_2_MEMBERS) else 1
    header = {"format": _FORMAT, "format_version": version, "estimator": name, "kind": kind}
    common = {"users": _plain_ids(estimator.users_), "items": _plain_ids(estimator.items_),
              "interactions": estimator.interactions_,
              "popularity": estimator._popularity,
              "fallback_mean": fallback[0], "fallback_user": fallback[1],
              "fallback_item": fallback[2]}
    flat = _flatten({**header, **common, **arrays})
    (np.savez_compressed if compressed else np.savez)(file, **flat)


# -- reading ---------------------------------------------------------------------
def _unflatten(flat):
    """The inverse of :func:`_flatten`: CSR parts joined into matrices."""
    arrays = {}
    for key in flat:
        name, sep, part = key.rpartition(_SEP)
        if sep and part == "data":
            data, indices, indptr, shape = (flat[f"{name}{_SEP}{p}"] for p in _CSR_PARTS)
            arrays[name] = sp.csr_matrix((data, indices, indptr), shape=tuple(shape))
        elif not (sep and part in _CSR_PARTS):
            arrays[key] = flat[key]
    return arrays


def _loaded_ids(ids):
    """Unicode ids back to the object arrays the estimators hold."""
    return ids.astype(object) if ids.dtype.kind == "U" else ids


def load_npz(file, *, max_bytes=None):
    """Load a recommender saved by :func:`save_npz`, validating the untrusted file.

    Nothing in the file is trusted: the archive's directory and every
    member's header (dtype, shape, memory order) are checked against the
    members that the recorded estimator family has, with their dtypes and
    shapes, **before** any array is decompressed; then every float must be
    finite, the ids unique and sorted, every sparse structure consistent and
    within bounds. Nothing is ever unpickled. A file that fails any check
    raises :class:`~sklearn_recs.exceptions.InvalidFileError` naming the
    member and the problem; no bytes can crash the interpreter or decompress
    beyond ``max_bytes``.

    Parameters
    ----------
    file : str, path or file-like
        The ``.npz`` file.
    max_bytes : int, default=None
        Most bytes the arrays may take once decompressed, compared with the
        sizes the members' headers declare before decompressing anything.
        None: 64 times the file's size plus 64 MiB (real models compress
        far less; a larger ratio is a decompression bomb). Pass a larger
        value to load a file you trust that exceeds it.

    Returns
    -------
    model : ExportedRecommender
        A fitted, read-only recommender whose ``recommend``, ``predict`` and
        ``similar_items`` (where the original had it) return exactly what
        the original estimator returned.

    Raises
    ------
    sklearn_recs.exceptions.InvalidFileError
        A ``ValueError``: if the file is not an export of this package, was
        written by a newer format version than this one reads, or fails any
        of the checks above (the message names the member).

    See Also
    --------
    save_npz : Write the file.

    Examples
    --------
    >>> import io
    >>> from sklearn_recs.linear_model import EASE
    >>> from sklearn_recs.serving import load_npz, save_npz
    >>> from sklearn_recs.utils._testing import checkerboard
    >>> model = EASE(alpha=1.0).fit(checkerboard(10, 10))
    >>> buffer = io.BytesIO()
    >>> save_npz(model, buffer)
    >>> served = load_npz(io.BytesIO(buffer.getvalue()))
    >>> served.recommend([0, 1], top_n=3)
    array([[1, 3, 5],
           [0, 2, 4]])
    """
    flat = read_export(file, format_name=_FORMAT, max_version=FORMAT_VERSION,
                       max_bytes=max_bytes)
    kind = str(flat["kind"])
    arrays = _unflatten(flat)
    model = ExportedRecommender()
    model._load(arrays, _KINDS[kind](arrays))
    return model


# -- the served models -----------------------------------------------------------
@shared_doc
class ExportedRecommender(FormulaScoring, RecommenderMixin, BaseEstimator):
    """A fitted recommender loaded by :func:`load_npz`: serving only.

    It answers ``recommend``, ``predict`` and (where the original estimator
    had them) ``similar_items`` and ``explain`` exactly as the estimator it
    was exported from (``explain``: a served MatrixFactorization gives its
    global mean and user bias summed, as ``"user offset"``; a content
    model exported before the file held its features' names names them
    ``x0, x1, ...``),
    with the same handling of unknown users and items and of seen items.
    It cannot be refitted: fit the original estimator and export it again.

    Attributes
    ----------
    estimator_name_ : str
        Class name of the estimator the file was exported from.
    format_version_ : int
        Format version of the file.
    {vocabulary_attributes}
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        The training interactions (the seen items).

    See Also
    --------
    load_npz : Build one from a file.
    save_npz : Write the file from a fitted estimator.

    Examples
    --------
    >>> import io
    >>> from sklearn_recs.baselines import Popularity
    >>> from sklearn_recs.serving import load_npz, save_npz
    >>> buffer = io.BytesIO()
    >>> save_npz(Popularity().fit([["a", "x"], ["b", "x"], ["b", "y"]]), buffer)
    >>> served = load_npz(io.BytesIO(buffer.getvalue()))
    >>> served.recommend(["a"], top_n=1)
    array([['y']], dtype=object)
    """

    def __init__(self):
        pass

    def _load(self, arrays, formula):
        """Set the fitted attributes from the file's arrays and the scoring formula."""
        self.estimator_name_ = str(arrays["estimator"])
        self.format_version_ = int(arrays["format_version"])
        self.users_ = _loaded_ids(arrays["users"])
        self.items_ = _loaded_ids(arrays["items"])
        self.n_users_, self.n_items_ = len(self.users_), len(self.items_)
        self.interactions_ = arrays["interactions"]
        self._user_index = pd.Index(self.users_)
        self._item_index = pd.Index(self.items_)
        self._popularity = arrays["popularity"]
        self._fallback = (float(arrays["fallback_mean"]), arrays["fallback_user"],
                          arrays["fallback_item"])
        self._loaded_formula = formula
        self._loaded_feature_names = arrays.get("feature_names")

    def _feature_names(self):
        """The item features' names (the sources of a served content model's
        ``explain``): from the file, else ``x0, x1, ...`` (older files)."""
        names = self._loaded_feature_names
        if names is None:
            names = np.array([f"x{j}" for j in range(self._loaded_formula.left.shape[1])])
        return names.astype(object)

    def __repr__(self, N_CHAR_MAX=700):
        name = getattr(self, "estimator_name_", None)
        return f"ExportedRecommender(estimator={name!r})" if name else super().__repr__()

    def fit(self, X=None, y=None):
        """Not available: an exported model is read-only.

        Parameters
        ----------
        X : object, default=None
            Ignored.
        y : object, default=None
            Ignored.

        Raises
        ------
        TypeError
            Always: fit the original estimator and export it again.
        """
        raise TypeError(
            "ExportedRecommender serves a model exported by save_npz and cannot be "
            "refitted; fit the original estimator and export it again."
        )

    # -- hooks of RecommenderMixin, answered by the loaded formula -------------
    def _formula(self):
        return self._loaded_formula

    @property
    def _score_factors(self):
        formula = self._loaded_formula
        return formula.score_factors if formula.factor_path else None

    @property
    def _similar_item_scores(self):
        formula = self._loaded_formula
        return formula.similar_item_scores if formula.has_similarity else None

    @property
    def _explain_terms(self):
        terms = EXPORTED_TERMS.get(getattr(self, "estimator_name_", None))
        return None if terms is None else partial(terms, self)

"""Safe export of fitted recommenders for serving: ``.npz`` files, no pickle.

A pickle (or joblib) file runs code when it is loaded, so it must only be
loaded from a trusted source. :func:`save_npz` writes what a fitted model
learnt as plain arrays instead (numpy's ``.npz``: the vocabularies, the
training interactions and the model's own arrays); :func:`load_npz` reads
them back with ``allow_pickle=False`` into an :class:`ExportedRecommender`,
which serves ``recommend``, ``predict`` and ``similar_items`` with exactly
the output of the original estimator, without the estimator's class,
PyTorch, or the training data beyond the seen items.

The export is a protocol: an estimator opts in with one private hook,
``_serving_arrays() -> (kind, arrays)``, where ``kind`` names one of the
scoring formulas below and ``arrays`` holds its operands.

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

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from .base import RecommenderMixin

__all__ = ["ExportedRecommender", "load_npz", "save_npz"]

#: The format written by :func:`save_npz`; :func:`load_npz` reads it and older ones.
FORMAT_VERSION = 1
_FORMAT = "sklearn_recs.serving"
# Separates a sparse matrix's name from its parts in the file (``left__data``).
_SEP = "__"
_CSR_PARTS = ("data", "indices", "indptr", "shape")
# Bytes of one gathered entry when predicting pairs by the "product" formula.
_BYTES_PER_PAIR_ENTRY = 24


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
    >>> (served.recommend(["u00", "u01"], n_items=3)
    ...  == model.recommend(["u00", "u01"], n_items=3)).all()
    np.True_
    """
    name = type(estimator).__name__
    check_is_fitted(estimator)
    hook = getattr(estimator, "_serving_arrays", None)
    if hook is None:
        raise TypeError(
            f"save_npz: {name} does not support the .npz export: its scores are not a "
            "formula of arrays that can be stored (a neural network, or a blend of "
            "other models). Persist it with joblib.dump(model, path), and load such "
            "files only from sources you trust (loading a pickle runs code)."
        )
    kind, arrays = hook()
    fallback = arrays.pop("fallback", estimator._fallback)
    header = {"format": _FORMAT, "format_version": FORMAT_VERSION, "estimator": name,
              "kind": kind}
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


def load_npz(file):
    """Load a recommender saved by :func:`save_npz`, without unpickling anything.

    Parameters
    ----------
    file : str, path or file-like
        The ``.npz`` file.

    Returns
    -------
    model : ExportedRecommender
        A fitted, read-only recommender whose ``recommend``, ``predict`` and
        ``similar_items`` (where the original had it) return exactly what
        the original estimator returned.

    Raises
    ------
    ValueError
        If the file is not an export of this package, or was written by a
        newer format version than this one reads.

    See Also
    --------
    save_npz : Write the file.

    Examples
    --------
    >>> import io
    >>> from sklearn_recs.linear_model import EASE
    >>> from sklearn_recs.serving import load_npz, save_npz
    >>> from sklearn_recs.utils._testing import checkerboard
    >>> model = EASE(l2_reg=1.0).fit(checkerboard(10, 10))
    >>> buffer = io.BytesIO()
    >>> save_npz(model, buffer)
    >>> served = load_npz(io.BytesIO(buffer.getvalue()))
    >>> served.recommend([0, 1], n_items=3)
    array([[1, 3, 5],
           [0, 2, 4]])
    """
    with np.load(file, allow_pickle=False) as data:
        flat = {key: data[key] for key in data.files}
    if flat.get("format") is None or str(flat["format"]) != _FORMAT:
        raise ValueError(
            "load_npz: this file is not a recommender exported by "
            "sklearn_recs.serving.save_npz (it has no 'format' entry "
            f"{_FORMAT!r}); keys found: {sorted(flat)[:10]}."
        )
    version = int(flat["format_version"])
    if version > FORMAT_VERSION:
        raise ValueError(
            f"load_npz: the file has format version {version}, but this version of "
            f"sklearn_recs reads versions up to {FORMAT_VERSION}. Upgrade sklearn_recs "
            "to load it."
        )
    kind = str(flat["kind"])
    if kind not in _KINDS:
        raise ValueError(
            f"load_npz: the file's scoring formula {kind!r} is unknown to this version "
            f"of sklearn_recs (known: {sorted(_KINDS)}); upgrade sklearn_recs to load it."
        )
    arrays = _unflatten(flat)
    model = ExportedRecommender()
    model._load(arrays, _KINDS[kind](arrays))
    return model


# -- the served models -----------------------------------------------------------
class ExportedRecommender(RecommenderMixin, BaseEstimator):
    """A fitted recommender loaded by :func:`load_npz`: serving only.

    It answers ``recommend``, ``predict`` and (where the original estimator
    had it) ``similar_items`` exactly as the estimator it was exported from,
    with the same handling of unknown users and items and of seen items.
    It cannot be refitted: fit the original estimator and export it again.

    Attributes
    ----------
    estimator_name_ : str
        Class name of the estimator the file was exported from.
    format_version_ : int
        Format version of the file.
    users_ : ndarray of shape (n_users_,)
        User ids seen at fit, sorted.
    items_ : ndarray of shape (n_items_,)
        Item ids of the catalogue, sorted.
    n_users_ : int
        Number of users seen at fit.
    n_items_ : int
        Number of items in the catalogue.
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
    >>> served.recommend(["a"], n_items=1)
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
        self._formula = formula

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

    # -- hooks of RecommenderMixin, answered by the formula -------------------
    def _predict_pairs(self, user_codes, item_codes):
        return self._formula.predict_pairs(user_codes, item_codes)

    def _predict_cold(self, user_codes, item_codes):
        return self._formula.clip(super()._predict_cold(user_codes, item_codes))

    def _score_users(self, user_codes, item_codes):
        return self._formula.score_users(user_codes, item_codes)

    @available_if(lambda self: self._formula.factor_path)
    def _score_factors(self, user_codes):
        return self._formula.score_factors(user_codes)

    @available_if(lambda self: self._formula.has_similarity)
    def _similar_item_scores(self, item_codes):
        return self._formula.similar_item_scores(item_codes)


class _Formula:
    """The scoring formula of an export: what ``ExportedRecommender`` delegates to.

    Everything is built when the file is loaded, nothing lazily while
    serving, so that concurrent calls share only read-only arrays.
    """

    factor_path = False

    def __init__(self, arrays):
        self.similarity_vectors = arrays.get("similarity_vectors")
        self.has_similarity = self.similarity_vectors is not None

    def clip(self, scores):
        return scores

    def similar_item_scores(self, item_codes):
        vectors = self.similarity_vectors
        scores = vectors[item_codes] @ vectors.T
        return scores.toarray() if sp.issparse(scores) else scores


class _Factors(_Formula):
    """``user_factors[u] @ item_factors[i] + item_bias[i] + user_offset[u]``."""

    def __init__(self, arrays):
        super().__init__(arrays)
        self.user_factors = arrays["user_factors"]
        self.item_factors = arrays["item_factors"]
        self.item_bias = arrays["item_bias"]
        self.user_offset = arrays["user_offset"]
        self.rating_range = arrays.get("rating_range")

    def clip(self, scores):
        return scores if self.rating_range is None else np.clip(scores, *self.rating_range)

    def predict_pairs(self, user_codes, item_codes):
        p = self.user_factors[user_codes].astype(np.float64)
        q = self.item_factors[item_codes].astype(np.float64)
        return self.clip(self.user_offset[user_codes] + self.item_bias[item_codes]
                         + (p * q).sum(1))

    def score_users(self, user_codes, item_codes):
        q = self.item_factors if item_codes is None else self.item_factors[item_codes]
        bias = self.item_bias if item_codes is None else self.item_bias[item_codes]
        scores = self.user_factors[user_codes] @ q.T
        scores += bias[None, :]
        scores += self.user_offset[user_codes][:, None]
        return scores


class _TwoTower(_Formula):
    """``user_vectors[u] @ item_vectors[i] / temperature``."""

    def __init__(self, arrays):
        super().__init__(arrays)
        self.user_vectors = arrays["user_vectors"]
        self.item_vectors = arrays["item_vectors"]
        self.temperature = float(arrays["temperature"])
        # The candidates as TwoTower's index holds them.
        self.scaled_items = self.item_vectors / self.temperature

    def predict_pairs(self, user_codes, item_codes):
        dots = (self.user_vectors[user_codes] * self.item_vectors[item_codes]).sum(1)
        return dots.astype(np.float64) / self.temperature

    def score_users(self, user_codes, item_codes):
        items = self.scaled_items if item_codes is None else self.scaled_items[item_codes]
        return self.user_vectors[user_codes] @ items.T


class _Product(_Formula):
    """``left[u] @ right[i]`` (dense or sparse), with optional offsets and scale.

    ``predict`` gives ``user_offset[u] + scale * left[u] @ right[i] +
    item_offset[i]`` (the terms present); ``recommend`` ranks
    ``left[u] @ right[i] + item_offset[i]``. With ``factor_path``, full
    catalogue rankings go through the sparse top-k of the product, as the
    estimator's do. ``similar="right_rows"`` or ``"right_columns"`` makes the
    rows or the columns of ``right`` the item similarities.
    """

    def __init__(self, arrays):
        super().__init__(arrays)
        self.left, self.right = arrays["left"], arrays["right"]
        self.user_offset = arrays.get("user_offset")
        self.item_offset = arrays.get("item_offset")
        self.scale = arrays.get("scale")
        self.factor_path = bool(arrays.get("factor_path", False))
        self.similar = str(arrays["similar"]) if "similar" in arrays else None
        self.has_similarity = self.has_similarity or self.similar is not None
        self.right_t = self.right.T.tocsr() if sp.issparse(self.right) else self.right.T

    def predict_pairs(self, user_codes, item_codes):
        budget = get_config()["working_memory"] * 2**20
        step = max(1, int(budget // (max(self.right.shape[1], 1) * _BYTES_PER_PAIR_ENTRY)))
        dots = np.empty(len(user_codes), dtype=np.float64)
        for start in range(0, len(user_codes), step):
            chunk = slice(start, start + step)
            product = self.left[user_codes[chunk]].multiply(self.right[item_codes[chunk]])
            dots[chunk] = np.asarray(product.sum(axis=1), dtype=np.float64).ravel()
        if self.scale is not None:
            dots = float(self.scale) * dots
        if self.user_offset is not None:
            dots = self.user_offset[user_codes] + dots
        if self.item_offset is not None:
            dots = dots + self.item_offset[item_codes]
        return dots

    def score_users(self, user_codes, item_codes):
        right = self.right if item_codes is None else self.right[item_codes]
        scores = self.left[user_codes] @ right.T
        scores = scores.toarray() if sp.issparse(scores) else np.asarray(scores)
        if self.item_offset is not None:
            scores += (self.item_offset if item_codes is None
                       else self.item_offset[item_codes])
        return scores

    def score_factors(self, user_codes):
        return self.left[user_codes], self.right_t

    def similar_item_scores(self, item_codes):
        if self.similar is None:
            return super().similar_item_scores(item_codes)
        rows = (self.right if self.similar == "right_rows" else self.right_t)[item_codes]
        return rows.toarray() if sp.issparse(rows) else rows


_KINDS = {"factors": _Factors, "two_tower": _TwoTower, "product": _Product}

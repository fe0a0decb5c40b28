"""Side-information frames (item or user features): validation and transformation.

Shared by the estimators that take ``item_features`` or ``user_features`` at
fit: the frame is indexed by entity id, and a scikit-learn transformer turns
it into a sparse matrix with one finite row per entity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .validation import _name, check_ids, get_column

__all__ = ["check_feature_frame", "transform_features"]


def check_feature_frame(features, X, *, column, noun, estimator=None, require_all=True):
    """Validate a frame of side information indexed by entity id.

    Parameters
    ----------
    features : DataFrame or Series
        One row per entity, indexed by its id (unique).
    X : array-like of shape (n_samples, n_columns >= 2)
        The interactions whose ids ``features`` describes.
    column : {0, 1}
        The column of ``X`` holding those ids (0 users, 1 items).
    noun : {"user", "item"}
        The entity, named in messages (``f"{noun}_features"``).
    estimator : object or str, default=None
        Named in error messages.
    require_all : bool, default=True
        Whether every id of ``X`` needs a row.

    Returns
    -------
    features : DataFrame
        ``features`` (a Series becomes a one-column frame).
    ids : ndarray
        Its index as validated ids.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recs.utils._features import check_feature_frame
    >>> users = pd.DataFrame({"age": [31, 45]}, index=[1, 2])
    >>> check_feature_frame(users, [[1, 10], [3, 10]], column=0, noun="user",
    ...                     require_all=True)
    Traceback (most recent call last):
    ...
    ValueError: 1 user id(s) of X have no row in user_features (e.g. [3]); ...
    """
    prefix, name = _name(estimator), f"{noun}_features"
    if isinstance(features, pd.Series):
        features = features.to_frame()
    if not isinstance(features, pd.DataFrame):
        raise TypeError(
            f"{prefix}{name} must be a pandas DataFrame indexed by {noun} id; got "
            f"{type(features).__name__}. Wrap it, e.g. pd.DataFrame(features, "
            f"index={noun}_ids)."
        )
    ids = check_ids(features.index, what=f"{name}.index ({noun} ids)", estimator=estimator)
    duplicated = pd.Index(ids).duplicated()
    if duplicated.any():
        raise ValueError(
            f"{prefix}{name} has {int(duplicated.sum())} duplicate {noun} id(s) in "
            f"its index (e.g. {ids[duplicated][:5].tolist()}); each {noun} needs "
            f"exactly one row. Drop or aggregate the duplicates, e.g. "
            f"{name}[~{name}.index.duplicated()]."
        )
    trained = check_ids(get_column(X, column, estimator=estimator),
                        what=f"{noun} ids (column {column} of X)", estimator=estimator)
    hint = (f" It has a '{noun}_id' column: use {name}.set_index('{noun}_id')."
            if f"{noun}_id" in features.columns else "")
    if (ids.dtype.kind == "O") != (trained.dtype.kind == "O"):
        raise ValueError(
            f"{prefix}{name}.index holds "
            f"{'strings' if ids.dtype.kind == 'O' else 'numbers'} but the {noun} "
            f"ids of X are {'strings' if trained.dtype.kind == 'O' else 'numbers'}; "
            f"index {name} by the {noun} ids of X.{hint}"
        )
    missing = pd.Index(np.unique(trained)).difference(pd.Index(ids))
    if require_all and len(missing):
        raise ValueError(
            f"{prefix}{len(missing)} {noun} id(s) of X have no row in {name} "
            f"(e.g. {missing[:5].tolist()}); its index must hold the {noun} ids of "
            f"X. To give featureless {noun}s a zero vector, add empty rows: "
            f"{name}.reindex(all_{noun}_ids) (missing text counts as empty with "
            f"the default transformer).{hint}"
        )
    return features, ids


def transform_features(transformer, frame, ids, *, noun, estimator=None):
    """Fit ``transformer`` on ``frame`` and return a finite CSR matrix, one row per id.

    Parameters
    ----------
    transformer : transformer
        Unfitted; fitted in place.
    frame : DataFrame of shape (n, n_columns)
        The features, rows in the order of ``ids``.
    ids : ndarray of shape (n,)
        The ids of the rows, named in error messages.
    noun : {"user", "item"}
        The entity, named in messages.
    estimator : object or str, default=None
        Named in error messages.

    Returns
    -------
    vectors : scipy.sparse.csr_matrix of shape (n, n_features), float64
        The transformed features, every value finite.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.preprocessing import OneHotEncoder
    >>> from sklearn_recs.utils._features import transform_features
    >>> frame = pd.DataFrame({"gender": ["F", "M", "F"]})
    >>> transform_features(OneHotEncoder(), frame, np.array([1, 2, 3]),
    ...                    noun="user").toarray()
    array([[1., 0.],
           [0., 1.],
           [1., 0.]])
    """
    prefix, name = _name(estimator), f"{noun}_features"
    try:
        vectors = transformer.fit_transform(frame)
    except (ValueError, TypeError, AttributeError) as exc:
        holes = [str(c) for c in frame.columns if frame[c].isna().any()]
        if not holes:
            raise
        raise ValueError(
            f"{prefix}the transformer failed on {name} ({exc}); columns {holes} "
            f"hold missing values. Fill them (e.g. {name}.fillna({{'{holes[0]}': ''}})), "
            "impute them in the transformer, or use the default transformer, "
            "which treats missing text as empty."
        ) from exc
    vectors = sp.csr_matrix(vectors, dtype=np.float64)
    if vectors.shape[0] != len(ids):
        raise ValueError(
            f"{prefix}the transformer returned {vectors.shape[0]} rows for "
            f"{len(ids)} {noun}s; it must return one row per {noun}."
        )
    bad = ~np.isfinite(vectors.data)
    if bad.any():
        rows = np.repeat(np.arange(len(ids)), np.diff(vectors.indptr))[bad]
        raise ValueError(
            f"{prefix}the transformer output {int(bad.sum())} NaN or infinite "
            f"value(s), for {noun}(s) {ids[np.unique(rows)][:5].tolist()}; impute "
            "missing numbers (e.g. SimpleImputer) in the transformer."
        )
    vectors.sum_duplicates()
    return vectors

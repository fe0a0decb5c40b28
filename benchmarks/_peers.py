"""Peer libraries behind this package's ``fit`` / ``recommend``, so one scorer measures all.

``ImplicitPeer`` wraps a model of the ``implicit`` library, ``LensKitPeer`` a
LensKit scorer, ``SkrecsysPeer`` a ``skrecsys`` recommender. All are scikit-learn estimators (``clone`` works), fit on
the interactions ``X`` (user ids in column 0, item ids in column 1) and
answer ``recommend(users, n_items, exclude_seen=True, return_scores=...)``
like :class:`sklearn_recs.base.RecommenderMixin`, with ``-inf`` scores in
the slots of a short list. Test users must have been seen at fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator


def _columns(X):
    X = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
    return X[:, 0], X[:, 1]


def _padded(lists, n_items):
    """Rows of (ids, scores) pairs as two (n_users, n_items) arrays, -inf padded."""
    ids = np.zeros((len(lists), n_items), dtype=np.int64)
    scores = np.full((len(lists), n_items), -np.inf)
    for row, (found, values) in enumerate(lists):
        ids[row, :len(found)] = found[:n_items]
        scores[row, :len(found)] = values[:n_items]
    return ids, scores


class ImplicitPeer(BaseEstimator):
    """A model of the ``implicit`` library (ALS, BPR, item-item), binary interactions."""

    def __init__(self, algo=None):
        self.algo = algo

    def fit(self, X, y=None):
        users, items = _columns(X)
        self.users_, user_codes = np.unique(users, return_inverse=True)
        self.items_, item_codes = np.unique(items, return_inverse=True)
        self.n_items_ = len(self.items_)
        self.matrix_ = sp.csr_matrix(
            (np.ones(len(user_codes), dtype=np.float32), (user_codes, item_codes)),
            shape=(len(self.users_), self.n_items_))
        self.algo.fit(self.matrix_, show_progress=False)
        return self

    def recommend(self, users, top_n=10, *, exclude_seen=True, items=None,
                  return_scores=False):
        codes = np.searchsorted(self.users_, users)
        found, scores = self.algo.recommend(codes, self.matrix_[codes], N=top_n,
                                            filter_already_liked_items=exclude_seen)
        # implicit pads a short list with id -1 (score -inf, or 0 for item-item).
        scores = np.where(found < 0, -np.inf, scores)
        found = self.items_[np.maximum(found, 0)]
        return (found, scores) if return_scores else found


class LensKitPeer(BaseEstimator):
    """A LensKit scorer in its top-N pipeline (training items excluded)."""

    def __init__(self, scorer=None):
        self.scorer = scorer

    def fit(self, X, y=None):
        from lenskit.data import from_interactions_df
        from lenskit.pipeline import topn_pipeline

        users, items = _columns(X)
        self.n_items_ = len(np.unique(items))
        frame = pd.DataFrame({"user_id": users, "item_id": items})
        self.pipeline_ = topn_pipeline(self.scorer, n=-1)
        self.pipeline_.train(from_interactions_df(frame, user_col="user_id",
                                                  item_col="item_id"))
        return self

    def recommend(self, users, top_n=10, *, exclude_seen=True, items=None,
                  return_scores=False):
        from lenskit.batch import recommend

        out = recommend(self.pipeline_, np.asarray(users), n=top_n).to_df()
        groups = dict(iter(out.sort_values(["user_id", "rank"]).groupby("user_id")))
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0))
        lists = [(groups[u]["item_id"].to_numpy(), groups[u]["score"].to_numpy())
                 if u in groups else empty for u in users]
        found, scores = _padded(lists, top_n)
        return (found, scores) if return_scores else found


class SkrecsysPeer(BaseEstimator):
    """A recommender of ``skrecsys`` (scikit-learn style, Rust core), fitted on the interactions."""

    def __init__(self, model=None):
        self.model = model

    def fit(self, X, y=None):
        from sklearn.base import clone

        users, items = _columns(X)
        self.n_items_ = len(np.unique(items))
        self.model_ = clone(self.model).fit(np.column_stack([users, items]))
        return self

    def recommend(self, users, top_n=10, *, exclude_seen=True, items=None,
                  return_scores=False):
        found, scores = self.model_.recommend(np.asarray(users), n_recommendations=top_n,
                                              exclude_seen=exclude_seen)
        lists = [(np.asarray(f), np.asarray(s, dtype=float)) for f, s in zip(found, scores)]
        found, scores = _padded(lists, top_n)
        return (found, scores) if return_scores else found

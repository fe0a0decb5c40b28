"""Fold-in: recommendations for users given by interactions at recommend time.

:class:`FoldInMixin` adds the ``interactions`` / ``interactions_y``
arguments to ``recommend``: each such user's vector is solved from those
rows with the item side fixed, without refitting. Only the estimators that
can solve a user vector use it (the matrix factorisations, neural and
ALS); they provide
``_fold_in(matrix)`` and ``_score_fold_in(codes, item_codes, extra)``.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from .exceptions import ColdStartWarning
from .utils._stack import user_stacklevel
from .utils.validation import _check_bool, check_ids, check_interactions

__all__ = ["FoldInMixin"]


class _StackedRows:
    """Row access to ``vstack([top, bottom])`` without copying ``top``."""

    def __init__(self, top, bottom):
        self.top, self.bottom = top, bottom
        self.shape = (top.shape[0] + bottom.shape[0], top.shape[1])

    def __getitem__(self, rows):
        rows = np.asarray(rows)
        upper = rows < self.top.shape[0]
        parts = sp.vstack([self.top[rows[upper]],
                           self.bottom[rows[~upper] - self.top.shape[0]]], format="csr")
        order = np.r_[np.flatnonzero(upper), np.flatnonzero(~upper)]
        return parts[np.argsort(order, kind="stable")]


class FoldInMixin:
    """``recommend(..., interactions=X_new)``: new users folded in at recommend time.

    For a :class:`~sklearn_recs.base.RecommenderMixin` estimator that
    provides

    - ``_fold_in(matrix) -> extra``: the fold-in users' parameters, from
      their CSR rows over the catalogue (ratings averaged, or weights);
    - ``_score_fold_in(codes, item_codes, extra)``: scores where codes
      ``>= n_users_`` are fold-in users (rows of ``extra``);
    - ``_fold_in_rows(codes, extra) -> (vectors, offsets)``: the same users'
      factor rows and score offsets, with which an approximate-retrieval
      graph (``retrieval="hnsw"``) is searched for them;
    - ``_implicit``: whether the rows are implicit weights (True) or
      ratings (False, ``interactions_y`` required).
    """

    def recommend(self, users, top_n=10, *, exclude_seen=True, items=None,
                  exclude=None, return_scores=False, interactions=None,
                  interactions_y=None):
        """Recommend the top ``top_n`` items for each user, best first.

        Parameters
        ----------
        users : array-like of shape (n_users,)
            User ids. Users unseen at fit and absent from ``interactions``
            get the popularity ranking and a :class:`ColdStartWarning`.
        top_n : int, default=10
            Length of each list, capped at the number of candidates.
        exclude_seen : bool, default=True
            Whether to leave out the items each user interacted with (at fit,
            and in ``interactions``).
        items : array-like of shape (n_candidates,), default=None
            Restrict the candidates to these item ids (all known at fit).
        exclude : array-like or list of array-like, default=None
            Item ids to leave out for every user, or one list per user, on
            top of ``exclude_seen``; as for
            :meth:`~sklearn_recs.base.RecommenderMixin.recommend`.
        return_scores : bool, default=False
            Whether to also return the scores.
        interactions : array-like of shape (n_rows, >= 2), default=None
            Fold-in: (user id, item id) rows for some of ``users`` (typically
            users unseen at fit). Each such user's vector is solved from
            these rows alone with the item factors fixed, without refitting
            (for a known user it replaces the learned vector). Items unseen
            at fit are ignored, with a :class:`ColdStartWarning`.
        interactions_y : array-like of shape (n_rows,), default=None
            The ratings of ``interactions`` (required by rating models) or
            their confidence weights (implicit models).

        Returns
        -------
        recommended : ndarray of shape (n_users, min(top_n, n_candidates))
            Item ids, best first.
        scores : ndarray of shape (n_users, min(top_n, n_candidates))
            Only with ``return_scores=True``; ``-inf`` marks slots beyond the
            user's unseen candidates.
        """
        if interactions is None:
            if interactions_y is not None:
                raise ValueError(
                    f"{type(self).__name__}: interactions_y was given without "
                    "interactions; pass the (user id, item id) rows as interactions."
                )
            return super().recommend(users, top_n, exclude_seen=exclude_seen,
                                     items=items, exclude=exclude,
                                     return_scores=return_scores)
        check_is_fitted(self)
        user_ids = check_ids(users, what="user ids", estimator=self)
        fold_index, fold_matrix = self._fold_in_matrix(interactions, interactions_y)
        extra = self._fold_in(fold_matrix)
        codes = self._user_index.get_indexer(user_ids)
        position = fold_index.get_indexer(user_ids)
        codes = np.where(position >= 0, self.n_users_ + position, codes)
        seen = None
        if _check_bool(exclude_seen, "exclude_seen", self):
            pattern = fold_matrix.copy()
            pattern.data[:] = 1.0
            known = self._user_index.get_indexer(fold_index)
            pick = sp.csr_matrix((np.ones((known >= 0).sum()),
                                  (np.flatnonzero(known >= 0), known[known >= 0])),
                                 shape=(len(fold_index), self.n_users_))
            fit_rows = pick @ self.interactions_
            fit_rows.data[:] = 1.0
            seen = _StackedRows(self.interactions_, (pattern + fit_rows).tocsr())
        retrieve = self._provided("_retrieve")  # the graph, with the fold-in vectors
        if retrieve is not None:
            retrieve = partial(retrieve, user_rows=lambda block: self._fold_in_rows(block, extra))
        return self._recommend_codes(
            codes, top_n, items, return_scores,
            lambda block, cand: self._score_fold_in(block, cand, extra), seen,
            exclude=exclude, retrieve=retrieve)

    def _fold_in_matrix(self, interactions, interactions_y):
        """Encode fold-in rows: (index of their user ids, CSR of their items)."""
        try:
            users, items, values = check_interactions(
                interactions, interactions_y, implicit=self._implicit,
                y_required=not self._implicit)
        except (TypeError, ValueError) as exc:
            # check_interactions names its arguments X and y
            raise type(exc)(
                f"{type(self).__name__}: the fold-in rows are invalid (X below "
                f"means interactions, y means interactions_y): {exc}") from exc
        item_codes = self._item_index.get_indexer(items)
        unknown = item_codes < 0
        if unknown.any():
            warnings.warn(
                f"{type(self).__name__}: {int(unknown.sum())} of {len(items)} "
                "interactions have an item unseen at fit; they were ignored "
                "for fold-in.", ColdStartWarning, stacklevel=user_stacklevel())
        row_codes, fold_users = pd.factorize(users[~unknown], sort=True)
        fold_index = pd.Index(np.asarray(fold_users))
        data = np.ones(len(row_codes)) if values is None else values[~unknown]
        shape = (len(fold_index), self.n_items_)
        matrix = sp.csr_matrix((data, (row_codes, item_codes[~unknown])), shape=shape)
        matrix.sum_duplicates()
        if not self._implicit:
            counts = sp.csr_matrix((np.ones(len(row_codes)), (row_codes, item_codes[~unknown])),
                                   shape=shape)
            counts.sum_duplicates()
            matrix.data /= counts.data
        return fold_index, matrix

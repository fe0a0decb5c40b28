"""The scoring formulas: fitted arrays to scores, written once.

A model whose scores are a formula of arrays (factors and biases, the two
towers' vectors, an item-item matrix) names the formula and its operands in
one hook, ``_serving_arrays() -> (kind, arrays)``. The same formula object
then scores for the fitted estimator (through :class:`FormulaScoring`) and
for :class:`~sklearn_recs.serving.ExportedRecommender`, which loads those
arrays from a file: a change to a model's score is made here, once.

- ``"factors"`` (:class:`FactorFormula`): ``user_factors[u] @
  item_factors[i] + item_bias[i] + user_offset[u]``.
- ``"two_tower"`` (:class:`TwoTowerFormula`): ``user_vectors[u] @
  item_vectors[i] / temperature``.
- ``"product"`` (:class:`ProductFormula`): ``left[u] @ right[i]`` over dense
  or sparse matrices, plus optional offsets.

Everything a formula needs is computed when it is built, nothing lazily
while scoring, so that concurrent calls share only read-only arrays.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import scipy.sparse as sp

from ._retrieval import HNSWIndex
from .utils._sparse_topk import rows_of
from .utils._topk import memory_share

__all__ = ["FORMULAS", "FactorFormula", "Formula", "FormulaScoring", "ProductFormula",
           "TwoTowerFormula"]

# Bytes of one gathered entry when predicting pairs by the "product" formula.
_BYTES_PER_PAIR_ENTRY = 24


class Formula:
    """Base of the formulas: optional item similarity, no clipping, no factor path.

    A formula with item vectors may hold ``retrieval``, an
    :class:`~sklearn_recs._retrieval.HNSWIndex` over them (built here when
    the arrays ask for it), and then gives ``retrieval_queries(user_codes)``
    and ``score_candidates(user_codes, item_codes)``, an array of scores
    shaped like ``item_codes`` (one row per user).
    """

    factor_path = False
    retrieval = None

    def __init__(self, arrays):
        self.similarity_vectors = arrays.get("similarity_vectors")
        self.has_similarity = self.similarity_vectors is not None

    def clip(self, scores):
        """``scores``, clipped to the rating range where the formula has one."""
        return scores

    def similar_item_scores(self, item_codes):
        """Similarities of ``item_codes`` to every item: dot products of their vectors."""
        vectors = self.similarity_vectors
        scores = vectors[item_codes] @ vectors.T
        return scores.toarray() if sp.issparse(scores) else scores

    def retrieve(self, user_codes, width, excluded, exact, n_jobs=None, *, user_rows=None):
        """The users' top ``width`` items by ``retrieval`` (see ``HNSWIndex.top``).

        ``user_rows(user_codes) -> (vectors, offsets)`` (factor formulas)
        gives the users' factor rows and offsets where they are not the
        fitted ones (fold-in users).
        """
        queries, rescore = self.retrieval_queries, self.score_candidates
        if user_rows is not None:
            queries = partial(queries, user_rows=user_rows)
            rescore = partial(rescore, user_rows=user_rows)
        return self.retrieval.top(queries, rescore, user_codes, width, excluded, exact, n_jobs)


class FactorFormula(Formula):
    """``user_factors[u] @ item_factors[i] + item_bias[i] + user_offset[u]``.

    ``rating_range`` (optional) clips the predictions; ``similarity_vectors``
    (optional) are unit item factors for ``similar_items``.
    """

    def __init__(self, arrays):
        super().__init__(arrays)
        self.user_factors = arrays["user_factors"]
        self.item_factors = arrays["item_factors"]
        self.item_bias = arrays["item_bias"]
        self.user_offset = arrays["user_offset"]
        self.rating_range = arrays.get("rating_range")
        # the bias as one more coordinate: p_u . q_i + b_i = [p_u, 1] . [q_i, b_i]
        self.retrieval = HNSWIndex.from_arrays(
            arrays, np.column_stack([self.item_factors, self.item_bias]))

    def clip(self, scores):
        return scores if self.rating_range is None else np.clip(scores, *self.rating_range)

    def predict_pairs(self, user_codes, item_codes):
        p = self.user_factors[user_codes].astype(np.float64)
        q = self.item_factors[item_codes].astype(np.float64)
        return self.clip(self.user_offset[user_codes] + self.item_bias[item_codes]
                         + (p * q).sum(1))

    def score_users(self, user_codes, item_codes):
        return self.score_vectors(self.user_factors[user_codes],
                                  self.user_offset[user_codes], item_codes)

    def score_vectors(self, vectors, offsets, item_codes):
        """Scores of users given by their factor rows and offsets (fold-in users)."""
        q = self.item_factors if item_codes is None else self.item_factors[item_codes]
        bias = self.item_bias if item_codes is None else self.item_bias[item_codes]
        scores = vectors @ q.T
        scores += bias[None, :]
        scores += offsets[:, None]
        return scores

    def user_rows(self, user_codes):
        """The fitted users' factor rows and offsets."""
        return self.user_factors[user_codes], self.user_offset[user_codes]

    def retrieval_queries(self, user_codes, user_rows=None):
        vectors, _ = (user_rows or self.user_rows)(user_codes)
        return np.column_stack([vectors, np.ones(len(user_codes))])

    def score_candidates(self, user_codes, item_codes, user_rows=None):
        vectors, offsets = (user_rows or self.user_rows)(user_codes)
        q = self.item_factors[item_codes].astype(np.float64)
        return (np.einsum("rd,rkd->rk", vectors.astype(np.float64), q)
                + self.item_bias[item_codes] + np.asarray(offsets)[:, None])


class TwoTowerFormula(Formula):
    """``user_vectors[u] @ item_vectors[i] / temperature``."""

    def __init__(self, arrays):
        super().__init__(arrays)
        self.user_vectors = arrays["user_vectors"]
        self.item_vectors = arrays["item_vectors"]
        self.temperature = float(arrays["temperature"])
        # The candidates as TwoTower's index holds them.
        self.scaled_items = self.item_vectors / self.temperature
        self.retrieval = HNSWIndex.from_arrays(arrays, self.scaled_items)

    def predict_pairs(self, user_codes, item_codes):
        dots = (self.user_vectors[user_codes] * self.item_vectors[item_codes]).sum(1)
        return dots.astype(np.float64) / self.temperature

    def score_users(self, user_codes, item_codes):
        items = self.scaled_items if item_codes is None else self.scaled_items[item_codes]
        return self.user_vectors[user_codes] @ items.T

    def retrieval_queries(self, user_codes):
        return self.user_vectors[user_codes]

    def score_candidates(self, user_codes, item_codes):
        return np.einsum("rd,rkd->rk", self.user_vectors[user_codes].astype(np.float64),
                         self.scaled_items[item_codes].astype(np.float64))


class ProductFormula(Formula):
    """``left[u] @ right[i]`` (dense or sparse), with optional offsets and scale.

    ``predict`` gives ``user_offset[u] + scale * left[u] @ right[i] +
    item_offset[i]`` (the terms present); ``recommend`` ranks
    ``left[u] @ right[i] + item_offset[i]``. With ``factor_path``, full
    catalogue rankings go through the sparse top-k of the product.
    ``similar="right_rows"`` or ``"right_columns"`` makes the rows or the
    columns of ``right`` the item similarities.
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
        # the transpose of a CSC ``right`` (a transposed CSR matrix) is CSR: no copy
        self.right_t = self.right.T.tocsr() if sp.issparse(self.right) else self.right.T

    def _right_rows(self):
        """``right`` with fast row access (a CSC ``right`` is converted for the call)."""
        return self.right.tocsr() if sp.issparse(self.right) else self.right

    def predict_pairs(self, user_codes, item_codes):
        budget = memory_share() * 2**20
        step = max(1, int(budget // (max(self.right.shape[1], 1) * _BYTES_PER_PAIR_ENTRY)))
        dots = np.empty(len(user_codes), dtype=np.float64)
        right = self._right_rows()
        for start in range(0, len(user_codes), step):
            chunk = slice(start, start + step)
            product = self.left[user_codes[chunk]].multiply(right[item_codes[chunk]])
            dots[chunk] = np.asarray(product.sum(axis=1), dtype=np.float64).ravel()
        if self.scale is not None:
            dots = float(self.scale) * dots
        if self.user_offset is not None:
            dots = self.user_offset[user_codes] + dots
        if self.item_offset is not None:
            dots = dots + self.item_offset[item_codes]
        return dots

    def score_users(self, user_codes, item_codes):
        if item_codes is None:
            right_t = self.right_t
        elif sp.issparse(self.right_t):
            right_t = self.right_t[:, item_codes]
        else:
            right_t = self.right[item_codes].T
        scores = self.left[user_codes] @ right_t
        scores = scores.toarray() if sp.issparse(scores) else np.asarray(scores)
        if self.item_offset is not None:
            scores += (self.item_offset if item_codes is None
                       else self.item_offset[item_codes])
        return scores

    def score_factors(self, user_codes):
        """The sparse factors of the full-catalogue scores (``RecommenderMixin._score_factors``)."""
        return rows_of(self.left, user_codes), self.right_t

    def similar_item_scores(self, item_codes):
        if self.similar is None:
            return super().similar_item_scores(item_codes)
        rows = (self._right_rows() if self.similar == "right_rows" else self.right_t)[item_codes]
        return rows.toarray() if sp.issparse(rows) else rows


FORMULAS = {"factors": FactorFormula, "two_tower": TwoTowerFormula,
            "product": ProductFormula}


class FormulaScoring:
    """``_predict_pairs``, ``_predict_cold`` and ``_score_users`` by the model's formula.

    For a :class:`~sklearn_recs.base.RecommenderMixin` subclass whose
    ``_serving_arrays()`` names its formula. ``fit`` ends with
    ``self._formula()``, which builds the formula from those arrays; it is
    kept out of pickles and rebuilt on loading, so that serving never writes
    to the estimator. A new ``interactions_`` (a new fit, items added)
    makes it build again. A subclass with an item similarity or a sparse
    factor path defines ``_similar_item_scores`` or ``_score_factors`` by
    :meth:`_formula` too. A model whose scores are a formula only for some
    fits (KNN: implicit feedback) overrides :meth:`_scored_by_formula`, and
    answers the hooks itself for the other fits.
    """

    def _scored_by_formula(self):
        """Whether the fitted model's scores are its formula (True here)."""
        return True

    def _formula(self):
        """The formula of the fitted model, built again when ``interactions_`` is replaced."""
        cached = self.__dict__.get("_formula_cache")
        if cached is None or cached[0] is not self.interactions_:
            kind, arrays = self._serving_arrays()
            cached = (self.interactions_, FORMULAS[kind](arrays))
            self.__dict__["_formula_cache"] = cached
        return cached[1]

    def __getstate__(self):
        state = super().__getstate__()
        if "_formula_cache" in state:
            state = {k: v for k, v in state.items() if k != "_formula_cache"}
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "interactions_" in state and self._scored_by_formula():
            self._formula()

    def _predict_pairs(self, user_codes, item_codes):
        return self._formula().predict_pairs(user_codes, item_codes)

    def _predict_cold(self, user_codes, item_codes):
        return self._formula().clip(super()._predict_cold(user_codes, item_codes))

    def _score_users(self, user_codes, item_codes):
        return self._formula().score_users(user_codes, item_codes)

    @property
    def _retrieve(self):
        """The approximate top-k of the formula's ``retrieval``, or None (exact)."""
        if not self._scored_by_formula():
            return None
        formula = self._formula()
        return None if formula.retrieval is None else formula.retrieve

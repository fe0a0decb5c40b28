"""Explanations: a score split into the terms it sums, per model family.

:meth:`~sklearn_recs.base.RecommenderMixin.explain` encodes the pairs and
calls the model's ``_explain_terms(user_codes, item_codes)`` hook, which
returns an :class:`Explanation` built by the functions here:

- :func:`product_terms`: models scoring ``left[u] @ right[i]`` (the
  ``"product"`` formula of :mod:`sklearn_recs._scoring`): one row per
  nonzero term ``left[u, j] * right[i, j]``, ``j`` a history item (item-item
  models), a neighbour user (UserKNN) or a feature (content);
- :func:`neighbour_terms`: the weighted mean of ItemKNN and UserKNN on
  ratings, each selected neighbour's share of it;
- :func:`factor_terms`: factor models, whose dot product is one term; the
  history items nearest the item in factor space are added as
  approximate rows (``exact=False``);
- :meth:`Explanation.add_constant`: the bias terms of any model.

Rows with ``exact=True`` are additive: per pair they sum to ``predict``.
The functions read the model's scoring formula (``_formula()`` or
``_serving_arrays()``), so that :class:`~sklearn_recs.serving.ExportedRecommender`
explains a served model by the same code (:data:`EXPORTED_TERMS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._scoring import FORMULAS, ProductFormula, TwoTowerFormula
from .utils._topk import block_size

# The kinds of rows that name a source (ranked and cut by ``n_contributions``);
# the other kinds ("bias", "factors", "clip") are the model's fixed terms.
SOURCE_KINDS = ("item", "user", "feature", "similar_item")
COLUMNS = ["user", "item", "source", "kind", "contribution", "exact"]


class Explanation:
    """The rows of an explanation, gathered part by part (pair positions, not ids)."""

    def __init__(self, n_pairs):
        self.n_pairs = n_pairs
        self._parts = []

    def add(self, pair, source, kind, contribution, *, exact=True):
        """Rows ``(pair[r], source[r], kind, contribution[r])`` (``kind`` and
        ``exact``: one value, or one per row)."""
        pair = np.asarray(pair, dtype=np.intp)
        source = np.asarray(source, dtype=object)
        self._parts.append((pair, source, np.full(len(pair), kind, dtype=object),
                            np.asarray(contribution, dtype=np.float64),
                            np.full(len(pair), exact)))
        return self

    def add_constant(self, name, kind, values, *, only=None):
        """One row named ``name`` per pair (or per pair where ``only`` holds)."""
        values = np.broadcast_to(np.asarray(values, dtype=np.float64), (self.n_pairs,))
        pair = np.arange(self.n_pairs) if only is None else np.flatnonzero(only)
        return self.add(pair, np.full(len(pair), name, dtype=object), kind, values[pair])

    def add_clip(self, total, rating_range):
        """The clipping of ``total`` (the unclipped sums) to ``rating_range``,
        a ``"clip"`` row where it changes the score."""
        if rating_range is None:
            return self
        change = np.clip(total, *rating_range) - total
        return self.add_constant("rating range", "clip", change, only=change != 0)

    def arrays(self):
        """The rows so far: ``pair, source, kind, contribution, exact`` arrays."""
        if self._parts:
            return tuple(np.concatenate(p) for p in zip(*self._parts))
        return tuple(np.empty(0, dtype=t) for t in (np.intp, object, object, float, bool))

    def merged(self):
        """The same explanation with the rows of equal ``(pair, source, kind,
        exact)`` summed into one (the first's place kept): a history item
        several members of a blend give, as one row."""
        pair, source, kind, value, exact = self.arrays()
        rows = pd.DataFrame({"pair": pair, "source": source, "kind": kind, "exact": exact,
                             "value": value})
        rows = rows.groupby(["pair", "source", "kind", "exact"], sort=False,
                            dropna=False)["value"].sum().reset_index()
        merged = Explanation(self.n_pairs)
        merged._parts.append((rows["pair"].to_numpy(np.intp), rows["source"].to_numpy(object),
                              rows["kind"].to_numpy(object), rows["value"].to_numpy(np.float64),
                              rows["exact"].to_numpy(bool)))
        return merged

    def frame(self, users, items, n_contributions):
        """The DataFrame of ``explain``: ``users``/``items`` give each pair's ids."""
        pair, source, kind, value, exact = self.arrays()
        ranked = np.isin(kind, SOURCE_KINDS)
        # Per pair: the fixed terms in the order added, then the sources by
        # decreasing |contribution| (ties: the order added).
        key = np.where(ranked, -np.abs(value), -np.inf)
        order = np.lexsort((np.arange(len(pair)), key, pair))
        pair, source, kind, value, exact, ranked = (
            a[order] for a in (pair, source, kind, value, exact, ranked))
        if n_contributions is not None and ranked.any():
            # rank of each source row within its pair
            starts = np.searchsorted(pair, pair)
            fixed_before = np.cumsum(~ranked) - np.concatenate(
                [[0], np.cumsum(~ranked)])[starts]
            position = np.arange(len(pair)) - starts - fixed_before
            keep = ~ranked | (position < n_contributions)
            pair, source, kind, value, exact = (
                a[keep] for a in (pair, source, kind, value, exact))
        return pd.DataFrame({"user": users[pair], "item": items[pair], "source": source,
                             "kind": kind, "contribution": value, "exact": exact},
                            columns=COLUMNS)


def member_terms(explanation, name, member, pairs, user_codes, item_codes, value, *,
                 score=None, scale=None, shift=0.0):
    """Rows of a composite model's pairs ``pairs`` for its member ``name``.

    ``value`` is the member's part of each pair's score (``user_codes``,
    ``item_codes``: the member's codes), given as one row of kind
    ``"member"``. Where the part is ``scale * score + shift``, ``score``
    the member's own score of the pair (``scale`` None: no such map, e.g.
    a reciprocal rank), and the member explains its score exactly (its
    exact rows sum to ``score``), the member's rows follow, the exact ones
    scaled by ``scale`` (its fixed terms named ``"<name>: <term>"``), with
    a ``"<name>: normalisation"`` row for ``shift``: these are then the
    terms of the score, and the member row, their sum, is not (``exact``
    False). Otherwise the member row is the term, and the member's rows
    are left out.
    """
    pairs = np.asarray(pairs, dtype=np.intp)
    value = np.asarray(value, dtype=np.float64)
    split = np.zeros(len(pairs), dtype=bool)
    hook = member._provided("_explain_terms")
    if scale is not None and hook is not None and len(pairs):
        scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), len(pairs))
        shift = np.broadcast_to(np.asarray(shift, dtype=np.float64), len(pairs))
        pair, source, kind, terms, exact = hook(user_codes, item_codes).arrays()
        sums = np.bincount(pair[exact], terms[exact], minlength=len(pairs))
        split = np.isclose(sums, score, rtol=1e-5, atol=1e-6)
    explanation.add(pairs, np.full(len(pairs), name, dtype=object), "member", value,
                    exact=~split)
    if not split.any():
        return explanation
    keep = split[pair]
    pair, source, kind, terms, exact = (a[keep] for a in (pair, source, kind, terms, exact))
    fixed = ~np.isin(kind, SOURCE_KINDS)
    source = source.copy()
    source[fixed] = [f"{name}: {term}" for term in source[fixed]]
    explanation.add(pairs[pair], source, kind,
                    np.where(exact, terms * scale[pair], terms), exact=exact)
    shifted = split & (shift != 0)
    return explanation.add(pairs[shifted], np.full(shifted.sum(), f"{name}: normalisation",
                                                   dtype=object),
                           "bias", shift[shifted])


def product_terms(explanation, left, right, user_codes, item_codes, *, kind, ids,
                  scale=1.0):
    """Rows ``scale * left[u, j] * right[i, j]`` for every nonzero term.

    ``left`` has one row per user, ``right`` one row per item, and their
    columns are the sources ``ids`` (history items, neighbour users or
    features) of kind ``kind``; the rows sum to ``scale * left[u] @
    right[i]``. Pairs are handled in blocks of scikit-learn's
    ``working_memory``.
    """
    left = sp.csr_matrix(left)
    right = sp.csr_matrix(right) if sp.issparse(right) else np.asarray(right)
    step = block_size(left.shape[1])
    for start in range(0, len(user_codes), step):
        block = slice(start, start + step)
        terms = sp.coo_matrix(left[user_codes[block]].multiply(right[item_codes[block]]))
        nonzero = terms.data != 0
        explanation.add(start + terms.row[nonzero], ids[terms.col[nonzero]], kind,
                        float(scale) * terms.data[nonzero])
    return explanation


def _formula_of(estimator):
    """The scoring formula of a model: its cached one (formula-scored models,
    :class:`~sklearn_recs.serving.ExportedRecommender`), else built from
    ``_serving_arrays()``."""
    cached = getattr(estimator, "_formula", None)
    if cached is not None:
        return cached()
    kind, arrays = estimator._serving_arrays()
    return FORMULAS[kind](arrays)


def formula_product_terms(estimator, explanation, user_codes, item_codes, *, kind, ids,
                          user_offset=None, item_offset=None):
    """:func:`product_terms` of a model scored by the ``"product"`` formula,
    with its offsets as constant rows named ``user_offset`` and
    ``item_offset`` (``(name, kind)`` pairs; an offset that is 0 for
    everyone is left out)."""
    formula = _formula_of(estimator)
    for names, values, codes in ((user_offset, formula.user_offset, user_codes),
                                 (item_offset, formula.item_offset, item_codes)):
        if names is not None and values is not None and np.any(values):
            explanation.add_constant(*names, np.asarray(values)[codes])
    scale = 1.0 if formula.scale is None else float(formula.scale)
    return product_terms(explanation, formula.left, formula._right_rows(), user_codes,
                         item_codes, kind=kind, ids=ids, scale=scale)


def neighbour_terms(estimator, user_codes, item_codes, base_names):
    """The explanation of ItemKNN / UserKNN fit on ratings.

    The prediction is ``base + sum_j w_j r_j / (sum_j w_j + damping)`` over
    the pair's selected neighbours ``j`` (``r_j`` their residual ratings),
    clipped to the rating range: the base terms (``base_names`` names the
    three parts of ``estimator._base``, the constant, the entity's and the
    rater's term, None for a part left out), one row ``w_j r_j / (sum w +
    damping)`` per neighbour (none below ``min_neighbors``), and the
    clipping.
    """
    raters, entities = estimator._orient(user_codes, item_codes)
    explanation = Explanation(len(user_codes))
    mean, entity_part, rater_part = estimator._base
    total = np.zeros(len(user_codes))
    for name, values in zip(base_names, (np.full(len(user_codes), mean),
                                         entity_part[entities], rater_part[raters])):
        if name is not None:
            explanation.add_constant(name, "bias", values)
            total += values
    # The neighbours of the prediction (``_BaseKNN._predict_chunk``).
    rows, neighbours, weights, residuals = estimator._neighbours(raters, entities)
    count = np.bincount(rows, minlength=len(raters))
    weight_sum = np.bincount(rows, weights, minlength=len(raters))
    used = (count >= estimator.min_neighbors)[rows]
    share = weights * residuals / (weight_sum[rows] + estimator.damping)
    ids = estimator.users_ if estimator._user_based else estimator.items_
    explanation.add(rows[used], ids[neighbours[used]],
                    "user" if estimator._user_based else "item", share[used])
    total += np.bincount(rows[used], share[used], minlength=len(raters))
    return explanation.add_clip(total, estimator._rating_range)


def factor_terms(estimator, user_codes, item_codes, biases, dot, rating_range=None):
    """The explanation of a factor model: biases, the dot product, and the
    history items nearest the item in factor space.

    ``biases`` are ``(name, values)`` pairs (one value per pair) and ``dot``
    the factor term of each pair: with the clipping to ``rating_range``
    they sum to the score. Each item the user interacted with at fit
    (except the explained item) then gets an approximate row (kind
    ``"similar_item"``, ``exact=False``): its similarity to the item in
    factor space (the model's ``similar_items`` score), which says which
    of the user's items the factor term resembles, not a share of it.
    """
    explanation = Explanation(len(user_codes))
    total = np.zeros(len(user_codes))
    for name, values in biases:
        explanation.add_constant(name, "bias", values)
        total += values
    explanation.add_constant("factors", "factors", dot)
    explanation.add_clip(total + dot, rating_range)
    history = estimator.interactions_[user_codes]
    step = block_size(estimator.n_items_)
    for start in range(0, len(item_codes), step):
        block = slice(start, start + step)
        scores = np.asarray(estimator._similar_item_scores(item_codes[block]))
        sub = history[block].tocoo()
        own = sub.col == item_codes[block][sub.row]
        rows, cols = sub.row[~own], sub.col[~own]
        explanation.add(start + rows, estimator.items_[cols], "similar_item",
                        scores[rows, cols], exact=False)
    return explanation


def dot_rows(a, b):
    """Row-wise dot products of two dense arrays, in float64."""
    return np.einsum("ij,ij->i", np.asarray(a, dtype=np.float64),
                     np.asarray(b, dtype=np.float64))


# -- per family: the body of each model's ``_explain_terms`` hook -------------
def item_item_terms(estimator, user_codes, item_codes):
    """Item-item models (``left`` = the user's weights over their history
    items): one row per history item."""
    return formula_product_terms(estimator, Explanation(len(user_codes)), user_codes,
                                 item_codes, kind="item", ids=estimator.items_)


def user_user_terms(estimator, user_codes, item_codes):
    """User-user models (``left`` = the user's similarities to the other
    users): one row per neighbour."""
    return formula_product_terms(estimator, Explanation(len(user_codes)), user_codes,
                                 item_codes, kind="user", ids=estimator.users_)


def knn_terms(estimator, user_codes, item_codes):
    """ItemKNN / UserKNN: similar history items or neighbour users, and on
    ratings the baseline of ``centering``."""
    user_based = estimator._user_based
    if estimator.feedback_ == "implicit":
        terms = user_user_terms if user_based else item_item_terms
        return terms(estimator, user_codes, item_codes)
    entity, rater = ("user", "item") if user_based else ("item", "user")
    if estimator.centering == "mean":
        names = (None, f"{entity} mean", None)
    else:
        names = ("global mean", f"{entity} bias", f"{rater} bias")
    return neighbour_terms(estimator, user_codes, item_codes, names)


def content_terms(estimator, user_codes, item_codes):
    """ContentRecommender: one row per item feature, the user's mean and the item's bias."""
    return formula_product_terms(estimator, Explanation(len(user_codes)), user_codes,
                                 item_codes, kind="feature", ids=estimator._feature_names(),
                                 user_offset=("user mean", "bias"),
                                 item_offset=("item bias", "bias"))


def popularity_terms(estimator, user_codes, item_codes):
    """Popularity: the item's popularity, or (with user features, the
    ``"product"`` formula) the demographic neighbours' weights on it and
    its share of all interactions."""
    formula = _formula_of(estimator)
    if not isinstance(formula, ProductFormula):
        return Explanation(len(user_codes)).add_constant(
            "popularity", "bias", np.asarray(formula.item_bias)[item_codes])
    return formula_product_terms(estimator, Explanation(len(user_codes)), user_codes,
                                 item_codes, kind="user", ids=estimator.users_,
                                 item_offset=("popularity share", "bias"))


def bias_terms(estimator, user_codes, item_codes):
    """GlobalMean and BiasBaseline: the global mean, the user's and the
    item's bias (a bias 0 for everyone left out), read from the model's
    fallback baseline, which is its score."""
    mean, user_bias, item_bias = estimator._fallback
    explanation = Explanation(len(user_codes)).add_constant("global mean", "bias", mean)
    for name, values, codes in (("user bias", user_bias, user_codes),
                                ("item bias", item_bias, item_codes)):
        if np.any(values):
            explanation.add_constant(name, "bias", np.asarray(values)[codes])
    return explanation


def factor_model_terms(estimator, user_codes, item_codes):
    """Factor models (``"factors"`` and ``"two_tower"`` formulas): the biases,
    the dot product (exact) and the nearest history items (approximate)."""
    formula = _formula_of(estimator)
    if isinstance(formula, TwoTowerFormula):
        dot = dot_rows(formula.user_vectors[user_codes],
                       formula.item_vectors[item_codes]) / formula.temperature
        return factor_terms(estimator, user_codes, item_codes, [], dot)
    biases = []
    offsets = np.asarray(formula.user_offset, dtype=np.float64)
    mean = getattr(estimator, "global_mean_", None)
    if mean is not None:  # the user offset is mu + b_u
        biases += [("global mean", np.full(len(user_codes), mean)),
                   ("user bias", offsets[user_codes] - mean)]
    elif offsets.any():
        biases.append(("user offset", offsets[user_codes]))
    if np.any(formula.item_bias):
        biases.append(("item bias", np.asarray(formula.item_bias)[item_codes]))
    dot = dot_rows(formula.user_factors[user_codes], formula.item_factors[item_codes])
    return factor_terms(estimator, user_codes, item_codes, biases, dot,
                        formula.rating_range)


# The explanation of a model served by ExportedRecommender, by the name of
# the estimator it was exported from: the families whose formula (and
# fallback, and for content the exported feature names) says what its
# terms are, without the estimator. A served factor model names its user
# term "user offset" (MatrixFactorization's global mean and user bias are
# exported summed).
EXPORTED_TERMS = {
    **dict.fromkeys(("ItemKNN", "RP3Beta", "EASE", "SparseEASE", "SLIM"), item_item_terms),
    "UserKNN": user_user_terms,
    "ContentRecommender": content_terms,
    **dict.fromkeys(("GlobalMean", "BiasBaseline"), bias_terms),
    "Popularity": popularity_terms,
    **dict.fromkeys(("MatrixFactorization", "ImplicitMatrixFactorization", "ImplicitALS",
                     "TwoTower"), factor_model_terms),
}

"""Approximate top-k retrieval for the factor models: an HNSW graph (hnswlib).

With ``retrieval="hnsw"``, :class:`~sklearn_recs.neural.MatrixFactorization`,
:class:`~sklearn_recs.neural.ImplicitMatrixFactorization`,
:class:`~sklearn_recs.neural.TwoTower` and
:class:`~sklearn_recs.decomposition.ImplicitALS` build an HNSW graph
(Malkov and Yashunin 2018) over their item vectors when their scoring
formula is built (at fit, and when :func:`~sklearn_recs.serving.load_npz`
loads an export), and ``recommend`` over the whole catalogue searches it
instead of scoring every item.

The score is an inner product plus an item bias, ``p_u . q_i + b_i = [p_u, 1]
. [q_i, b_i]`` (a user's constant offset does not change the user's
ranking), so the graph is built and searched by inner product (hnswlib's
``space="ip"``, the ip-NSW graph of Morozov and Babenko 2018) over the
items ``[q_i, b_i]``, queried with ``[p_u, 1]``. The usual reduction of
inner products to L2 distances, one more coordinate ``sqrt(R^2 -
|x_i|^2)`` that puts every item on a sphere (Bachrach et al. 2014), was
measured and rejected: the item norms of a fitted model spread over
orders of magnitude, the lifted items crowd around one pole, and the
graph's recall@10 fell to 0.15-0.30 where the inner-product graph keeps
0.99 (ImplicitALS factors of the 100,000-item catalogue of
``benchmarks/bench_ann.py``).

Exclusions are exact: the graph returns more items than the list needs
(``max(2 * top_n, ef_search)``: fewer than ``ef_search`` cost no less), the
excluded ones are dropped, and the rest are rescored with the model's
formula and ranked as ``recommend`` ranks (ties by item id). A user left
with fewer than ``top_n`` is searched again, the excluded items skipped
during the search (hnswlib's filter; a deeper fetch would lose recall: an
inner-product graph reaches the items of small norm badly; more links,
a larger ``M``, help most). A user for
whom that fails, or who could need more than a quarter of the catalogue
fetched, is ranked exactly.

The graph is built with one thread and a seed (``random_state`` when it
is an int, else 0), so the same factors give the same graph and the same
lists.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from joblib import effective_n_jobs
from sklearn.utils._param_validation import StrOptions

from .utils._topk import block_size, topk

__all__ = ["HNSWIndex", "RETRIEVAL_CONSTRAINTS", "check_retrieval", "retrieval_arrays"]

RETRIEVAL_CONSTRAINTS = {
    "retrieval": [StrOptions({"exact", "hnsw"})],
    "retrieval_params": [dict, None],
}
#: hnswlib's (and faiss's) names, their defaults and the accepted ranges.
DEFAULT_PARAMS = {"M": 32, "ef_construction": 100, "ef_search": 150}
#: Also the ranges of the export's members ``hnsw_M``, ... (sklearn_recs.utils._npz).
LIMITS = {"M": (2, 256), "ef_construction": (1, 10_000), "ef_search": (1, 10_000),
          "seed": (0, 2**32 - 1)}

def _import_hnswlib(owner):
    try:
        import hnswlib
    except ImportError:
        raise ImportError(
            f"{owner}: retrieval='hnsw' needs the optional dependency hnswlib, which "
            "is not installed. Install it with `pip install sklearn_recs[ann]` (or "
            "`pip install hnswlib`), or use retrieval='exact'."
        ) from None
    return hnswlib


def check_retrieval(estimator):
    """The full settings of ``estimator``'s HNSW graph, or None for exact retrieval.

    Validates ``retrieval_params`` and checks that hnswlib is installed, so
    that ``fit`` fails at once on bad settings.
    """
    owner = type(estimator).__name__
    if estimator.retrieval == "exact":
        return None
    given = {} if estimator.retrieval_params is None else estimator.retrieval_params
    unknown = sorted(set(given) - set(DEFAULT_PARAMS), key=str)
    if unknown:
        raise ValueError(
            f"{owner}: retrieval_params has unknown key(s) {unknown}; the settings of "
            f"the HNSW graph are {sorted(DEFAULT_PARAMS)}."
        )
    params = {**DEFAULT_PARAMS, **given}
    for name, value in params.items():
        low, high = LIMITS[name]
        if not isinstance(value, Integral) or isinstance(value, bool) or not (
                low <= value <= high):
            raise ValueError(
                f"{owner}: retrieval_params[{name!r}] must be an int in [{low}, {high}], "
                f"got {value!r}."
            )
    _import_hnswlib(owner)
    state = getattr(estimator, "random_state", None)
    seed = int(state) % 2**32 if isinstance(state, Integral) else 0
    return {**{name: int(value) for name, value in params.items()}, "seed": seed}


def retrieval_arrays(estimator):
    """The retrieval members of ``estimator``'s scoring arrays (none for exact)."""
    params = check_retrieval(estimator)
    if params is None:
        return {}
    return {"retrieval": "hnsw",
            **{f"hnsw_{name}": np.int64(value) for name, value in params.items()}}


class HNSWIndex:
    """An HNSW graph for ``scores = queries @ items.T`` (inner products), and its top-k.

    ``items`` are the item vectors of the score (bias included as a
    coordinate); :meth:`top` ranks users given their query vectors.
    """

    def __init__(self, items, *, M, ef_construction, ef_search, seed):
        hnswlib = _import_hnswlib("HNSWIndex")
        data = np.asarray(items, dtype=np.float32)
        self.n_items, self.dim = data.shape
        self.ef_search = int(ef_search)
        self.index = hnswlib.Index(space="ip", dim=self.dim)
        self.index.init_index(max_elements=self.n_items, M=int(M),
                              ef_construction=int(ef_construction), random_seed=int(seed))
        self.index.add_items(data, num_threads=1)  # one thread: the same graph every time
        self.index.set_ef(self.ef_search)

    @classmethod
    def from_arrays(cls, arrays, items):
        """The index that ``arrays`` (a scoring formula's) ask for, or None."""
        if "retrieval" not in arrays:
            return None
        return cls(items, **{name: int(arrays[f"hnsw_{name}"]) for name in LIMITS})

    def _search(self, queries, k, n_threads, by_exact, rows, allowed=None):
        """The ``k`` best items of each query, or None (``rows`` then marked in
        ``by_exact``) where the graph finds fewer."""
        queries = np.asarray(queries, dtype=np.float32)
        try:
            labels, _ = self.index.knn_query(queries, k=k, num_threads=n_threads,
                                             filter=allowed)
        except RuntimeError:
            by_exact[rows] = True
            return None
        return labels.astype(np.intp)

    def top(self, queries, rescore, codes, width, excluded, exact, n_jobs=None):
        """The ``width`` best items of each user, excluded items never among them.

        Parameters
        ----------
        queries : callable
            ``queries(codes)``: the users' query vectors.
        rescore : callable
            ``rescore(codes, item_codes)``: the model's scores of each row's
            items, an array shaped like ``item_codes``.
        codes : ndarray of shape (n,)
            User codes.
        width : int
            List length.
        excluded : scipy.sparse.csr_matrix of shape (n, n_items) or None
            Row ``i``: the items never to return to ``codes[i]``.
        exact : callable
            ``exact(codes, excluded)``: the exact ranking, for users who
            would need most of the catalogue fetched.
        n_jobs : int, default=None
            Search threads (None: 1).

        Returns
        -------
        ranked, scores : ndarray of shape (n, width)
            Item codes best first, and their scores.
        """
        n = len(codes)
        ranked = np.empty((n, width), dtype=np.intp)
        scores = np.empty((n, width), dtype=np.float64)
        n_excluded = (np.zeros(n, dtype=np.intp) if excluded is None
                      else np.diff(excluded.indptr).astype(np.intp))
        limit = self.n_items // 4  # a longer fetch: exact ranking is as cheap
        by_exact = width + n_excluded > limit  # (a fetch of width + n_excluded fills a list)
        fetch = min(max(2 * width, self.ef_search), limit)  # ef_search items cost no more
        pending = np.flatnonzero(~by_exact)
        n_threads = effective_n_jobs(n_jobs)
        short = []
        step = block_size(fetch * self.dim)  # rescoring gathers fetch vectors a row
        for start in range(0, len(pending), step):
            rows = pending[start:start + step]
            labels = self._search(queries(codes[rows]), fetch, n_threads, by_exact, rows)
            if labels is not None:
                full = self._rank(rows, labels, codes, width, excluded, rescore, ranked, scores)
                short.append(rows[~full])
        # Too many of the fetched items excluded: search again for these users,
        # the excluded items skipped during the search (deeper fetches of an
        # inner-product graph lose recall).
        for row in np.concatenate(short) if short else []:
            banned = set(excluded[row].indices.tolist())
            rows = np.array([row])
            labels = self._search(queries(codes[rows]), width, 1, by_exact, rows,
                                  allowed=lambda label, banned=banned: label not in banned)
            if labels is not None and not self._rank(rows, labels, codes, width, excluded,
                                                     rescore, ranked, scores)[0]:
                by_exact[row] = True
        rows = np.flatnonzero(by_exact)
        if rows.size:
            ranked[rows], scores[rows] = exact(
                codes[rows], None if excluded is None else excluded[rows])
        return ranked, scores

    def _rank(self, rows, labels, codes, width, excluded, rescore, ranked, scores):
        """Fill ``ranked[rows]`` and ``scores[rows]`` from the fetched ``labels``
        where at least ``width`` are not excluded; return which rows were full."""
        labels = np.sort(labels, axis=1)  # topk orders equal scores by column: by item code
        keep = np.ones(labels.shape, dtype=bool)
        if excluded is not None:  # (row, item) pairs as one number: row * n_items + item
            sub = excluded[rows]
            banned = (np.repeat(np.arange(len(rows)), np.diff(sub.indptr)) * self.n_items
                      + sub.indices)
            keep = ~np.isin(np.arange(len(rows))[:, None] * self.n_items + labels, banned)
        full = keep.sum(axis=1) >= width
        if full.any():
            values = np.asarray(rescore(codes[rows[full]], labels[full]), dtype=np.float64)
            values[~keep[full]] = -np.inf
            position, top_scores = topk(values, width)
            ranked[rows[full]] = np.take_along_axis(labels[full], position, axis=1)
            scores[rows[full]] = top_scores
        return full

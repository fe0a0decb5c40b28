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
formula and ranked as ``recommend`` ranks (ties by item id). The users
left with fewer than ``top_n`` are searched again, together, twice as
deep, until their lists fill (at most ``top_n`` plus their number of
excluded items, rounded up to a power of two, which always leaves
``top_n``). A user for whom the graph finds fewer items, or who could need
more than a quarter of the catalogue fetched, is ranked exactly. Fold-in
users (``recommend(interactions=...)``) search the graph with their
folded-in vectors.

The graph is built with a seed (``random_state`` when it is an int, else
0) and, by default, one thread, so the same factors give the same graph
and the same lists. ``retrieval_params={"n_jobs": 4}`` builds it on 4
threads (-1: all cores), faster on as many cores, but then the order in
which the threads insert items changes the graph from one build to the
next: the lists are no longer reproducible to the bit (their recall is
the same). The graph is rebuilt with the same setting when a pickled or
exported model is loaded.
"""

from __future__ import annotations

import os
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
#: Threads of the graph build (joblib's convention; None: 1, reproducible),
#: and the range of the optional export member ``hnsw_n_jobs``.
BUILD_PARAMS = {"n_jobs": None}
N_JOBS_LIMITS = (-1024, 1024)

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
    unknown = sorted(set(given) - set(DEFAULT_PARAMS) - set(BUILD_PARAMS), key=str)
    if unknown:
        raise ValueError(
            f"{owner}: retrieval_params has unknown key(s) {unknown}; the settings of "
            f"the HNSW graph are {sorted([*DEFAULT_PARAMS, *BUILD_PARAMS])}."
        )
    n_jobs = given.get("n_jobs")
    low, high = N_JOBS_LIMITS
    if n_jobs is not None and (not isinstance(n_jobs, Integral) or isinstance(n_jobs, bool)
                               or n_jobs == 0 or not low <= n_jobs <= high):
        raise ValueError(
            f"{owner}: retrieval_params['n_jobs'] must be None (one thread), a positive "
            f"int or a negative one (-1: all cores), got {n_jobs!r}."
        )
    params = {**DEFAULT_PARAMS, **{k: v for k, v in given.items() if k in DEFAULT_PARAMS}}
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
    return {**{name: int(value) for name, value in params.items()}, "seed": seed,
            "n_jobs": None if n_jobs in (None, 1) else int(n_jobs)}


def retrieval_arrays(estimator):
    """The retrieval members of ``estimator``'s scoring arrays (none for exact;
    ``hnsw_n_jobs`` only for a multi-threaded build)."""
    params = check_retrieval(estimator)
    if params is None:
        return {}
    return {"retrieval": "hnsw",
            **{f"hnsw_{name}": np.int64(value) for name, value in params.items()
               if value is not None}}


class HNSWIndex:
    """An HNSW graph for ``scores = queries @ items.T`` (inner products), and its top-k.

    ``items`` are the item vectors of the score (bias included as a
    coordinate); :meth:`top` ranks users given their query vectors.
    """

    def __init__(self, items, *, M, ef_construction, ef_search, seed, n_jobs=None):
        hnswlib = _import_hnswlib("HNSWIndex")
        data = np.asarray(items, dtype=np.float32)
        self.n_items, self.dim = data.shape
        self.ef_search = int(ef_search)
        self.index = hnswlib.Index(space="ip", dim=self.dim)
        self.index.init_index(max_elements=self.n_items, M=int(M),
                              ef_construction=int(ef_construction), random_seed=int(seed))
        # one thread (the default): the same graph every time; more: faster,
        # the graph depending on the threads' timing (capped at the cores, as
        # the setting may come from a file)
        threads = 1 if n_jobs is None else min(effective_n_jobs(n_jobs), os.cpu_count() or 1)
        self.index.add_items(data, num_threads=threads)
        self.index.set_ef(self.ef_search)

    @classmethod
    def from_arrays(cls, arrays, items):
        """The index that ``arrays`` (a scoring formula's) ask for, or None."""
        if "retrieval" not in arrays:
            return None
        n_jobs = arrays.get("hnsw_n_jobs")
        return cls(items, **{name: int(arrays[f"hnsw_{name}"]) for name in LIMITS},
                   n_jobs=None if n_jobs is None else int(n_jobs))

    def _search(self, queries, k, n_threads, by_exact, rows):
        """The ``k`` best items of each query, or None (``rows`` then marked in
        ``by_exact``) where the graph finds fewer."""
        queries = np.asarray(queries, dtype=np.float32)
        try:
            labels, _ = self.index.knn_query(queries, k=k, num_threads=n_threads)
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
        n_threads = effective_n_jobs(n_jobs)
        short = self._fetch(np.flatnonzero(~by_exact), fetch, queries, rescore, codes, width,
                            excluded, n_threads, by_exact, ranked, scores)
        # Too many of the fetched items excluded: fetch again, twice as deep,
        # in one batch, until the list fills; a user whose width plus number
        # of excluded items is below the depth is fetched that deep (rounded
        # up to a power of two), which always leaves width.
        depth = fetch
        while short.size:
            depth = min(2 * depth, limit)
            size = np.minimum(2 ** np.ceil(np.log2(width + n_excluded[short])), depth)
            left = [self._fetch(short[size == k], k, queries, rescore, codes, width,
                                excluded, n_threads, by_exact, ranked, scores)
                    for k in np.unique(size).astype(int)]
            short = np.concatenate(left)
            if depth == limit:
                by_exact[short] = True  # (none: limit items hold width not excluded)
                break
        rows = np.flatnonzero(by_exact)
        if rows.size:
            ranked[rows], scores[rows] = exact(
                codes[rows], None if excluded is None else excluded[rows])
        return ranked, scores

    def _fetch(self, pending, k, queries, rescore, codes, width, excluded, n_threads,
               by_exact, ranked, scores):
        """Rank the rows ``pending`` from the graph's ``k`` best items, in
        blocks; return the rows left with fewer than ``width`` not excluded."""
        short = [np.empty(0, dtype=np.intp)]
        step = block_size(k * self.dim)  # rescoring gathers k vectors a row
        for start in range(0, len(pending), step):
            rows = pending[start:start + step]
            labels = self._search(queries(codes[rows]), k, n_threads, by_exact, rows)
            if labels is not None:
                full = self._rank(rows, labels, codes, width, excluded, rescore, ranked, scores)
                short.append(rows[~full])
        return np.concatenate(short)

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

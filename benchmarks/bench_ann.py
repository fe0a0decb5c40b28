"""Benchmark approximate retrieval (``retrieval="hnsw"``) against exact ranking.

Usage::

    flock /tmp/bench.lock python benchmarks/bench_ann.py

Needs hnswlib (``pip install sklearn_recs[ann]``). A synthetic catalogue of
100,000 items: ``make_interactions`` (implicit, planted factors, Zipf
popularity) with 10,000 users and 300,000 interactions, plus one
interaction of a random user with every item, so that every item is in the
catalogue (``MatrixFactorization`` is fit on ratings of the same sizes: the
explicit variant of the generator, and a random rating of 1-5 for the
pairs that cover the catalogue). Each factor model is fit twice with the same ``random_state``,
``retrieval="exact"`` and ``retrieval="hnsw"`` (default ``retrieval_params``),
and must learn the same factors (checked). For 1,000 random users, top 10,
seen items excluded (the default):

- ``recall@10``: the share of the exact top 10 that the HNSW list holds;
- ``exact_s`` and ``hnsw_s``: seconds of ``recommend`` for the 1,000 users
  (best of 3), and their ratio ``speedup``;
- ``build_s``: seconds to build the graph (with one thread), timed apart
  from the fit (a difference of two fit times is too noisy here).

Targets (issue 20): recall@10 >= 0.95 and a speedup >= 5. A sweep over
``ef_search`` (a search-time setting: the graph does not depend on it, so
setting it on the fitted graph equals a fit with that value) shows the
trade-off; the default ``ef_search`` of ``sklearn_recs._retrieval.DEFAULT_PARAMS``
is the smallest value of the sweep at which every model meets both targets
on this synthetic catalogue (printed as ``choice``; never chosen on test
data). Results go to ``benchmarks/results/ann.json`` and ``ann.md``.
Timings are wall-clock on a shared machine: compare within one run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.base import clone

from sklearn_recs._retrieval import DEFAULT_PARAMS
from sklearn_recs._scoring import FORMULAS
from sklearn_recs.datasets import make_interactions
from sklearn_recs.decomposition import ImplicitALS
from sklearn_recs.neural import ImplicitMatrixFactorization, MatrixFactorization, TwoTower

from _report import best_time, machine, markdown_table, write_results

MODELS = {  # --models key: (name in the table, estimator)
    "mf": ("MatrixFactorization(n_factors=64, max_epochs=5)",
           MatrixFactorization(n_factors=64, max_epochs=5, random_state=0)),
    "ials": ("ImplicitALS(n_factors=64, max_iter=10)",
             ImplicitALS(n_factors=64, max_iter=10, random_state=0)),
    "imf": ("ImplicitMatrixFactorization(n_factors=64, max_epochs=5)",
            ImplicitMatrixFactorization(n_factors=64, max_epochs=5, random_state=0)),
    "twotower": ("TwoTower(n_factors=64, max_epochs=1)",
                 TwoTower(n_factors=64, max_epochs=1, random_state=0)),
}
SWEEP = (25, 50, 100, 150, 200)


def catalogue(n_items, n_users, n_interactions, seed=0, ratings=False):
    """Interactions over exactly ``n_items`` items (every item at least once);
    ``(X, y)`` with ratings (``ratings=True``), ``(X, None)`` without."""
    data = make_interactions(n_users=n_users, n_items=n_items, n_interactions=n_interactions,
                             implicit=not ratings, n_factors=16, random_state=seed,
                             as_frame=False)
    rng = np.random.default_rng(seed)
    pairs = np.asarray(data.data)[:, :2].astype(np.int64)
    cover = np.column_stack([rng.integers(0, n_users, n_items), np.arange(n_items)])
    X, first = np.unique(np.vstack([pairs, cover]), axis=0, return_index=True)
    if not ratings:
        return X, None
    y = np.concatenate([np.asarray(data.target, dtype=float),
                        rng.integers(1, 6, n_items).astype(float)])
    return X, y[first]


def recall(approx, exact):
    return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact)]))


def run_model(name, estimator, X, y, users, top_n, repeat):
    start = time.perf_counter()
    exact = clone(estimator).set_params(retrieval="exact").fit(X, y)
    exact_fit = time.perf_counter() - start
    hnsw = clone(estimator).set_params(retrieval="hnsw").fit(X, y)
    kind, arrays = hnsw._serving_arrays()
    build_s, _ = best_time(lambda: FORMULAS[kind](arrays))  # the graph, as at fit
    names = ("user_vectors_", "item_vectors_") if hasattr(exact, "user_vectors_") else (
        "user_factors_", "item_factors_")
    same = all(np.array_equal(getattr(exact, a), getattr(hnsw, a)) for a in names)
    exact_s, truth = best_time(lambda: exact.recommend(users, top_n), repeat)
    hnsw_s, found = best_time(lambda: hnsw.recommend(users, top_n), repeat)
    row = {"model": name, "same_factors": same, "fit_s": exact_fit,
           "build_s": build_s, "recall@10": recall(found, truth),
           "exact_s": exact_s, "hnsw_s": hnsw_s, "speedup": exact_s / hnsw_s}
    sweep = []
    index = hnsw._formula().retrieval
    default_ef = index.ef_search
    for ef in SWEEP:
        index.ef_search = ef
        index.index.set_ef(ef)
        seconds, found = best_time(lambda: hnsw.recommend(users, top_n), repeat)
        sweep.append({"model": name, "ef_search": ef, "recall@10": recall(found, truth),
                      "hnsw_s": seconds, "speedup": exact_s / seconds})
    index.ef_search = default_ef
    index.index.set_ef(default_ef)
    return row, sweep


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-items", type=int, default=100_000)
    parser.add_argument("--n-users", type=int, default=10_000)
    parser.add_argument("--n-interactions", type=int, default=300_000)
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated keys of MODELS to run")
    args = parser.parse_args()
    rows, sweeps = [], []
    for key in args.models.split(","):
        X, y = catalogue(args.n_items, args.n_users, args.n_interactions,
                         ratings=key == "mf")
        users = np.random.default_rng(1).choice(np.unique(X[:, 0]), args.n_queries,
                                                replace=False)
        row, sweep = run_model(*MODELS[key], X, y, users, 10, args.repeat)
        print(row, flush=True)
        rows.append(row)
        sweeps.extend(sweep)
    header = ["model", "same factors", "fit s (exact)", "graph build s", "recall@10",
              "exact recommend s", "hnsw recommend s", "speedup"]
    table = markdown_table(header, [[r["model"], r["same_factors"], r["fit_s"], r["build_s"],
                                     r["recall@10"], r["exact_s"], r["hnsw_s"], r["speedup"]]
                                    for r in rows])
    sweep_table = markdown_table(["model", "ef_search", "recall@10", "hnsw recommend s",
                                  "speedup"],
                                 [[s["model"], s["ef_search"], s["recall@10"], s["hnsw_s"],
                                   s["speedup"]] for s in sweeps])
    meets = [ef for ef in SWEEP
             if all(s["recall@10"] >= 0.95 and s["speedup"] >= 5
                    for s in sweeps if s["ef_search"] == ef)]
    choice = f"ef_search={meets[0]}" if meets else "none of the sweep"
    print("choice:", choice, flush=True)
    n_items = len(np.unique(X[:, 1]))
    markdown = (
        f"## Approximate retrieval (retrieval=\"hnsw\") against exact ranking\n\n"
        f"Synthetic catalogue: {n_items:,} items, {len(np.unique(X[:, 0])):,} users, "
        f"{len(X):,} interactions; recommend top 10 (seen items excluded) for "
        f"{args.n_queries:,} users, best of {args.repeat}; default retrieval_params "
        f"({', '.join(f'{k}={v}' for k, v in DEFAULT_PARAMS.items())}), n_jobs=None "
        f"(one search thread). "
        f"Targets: recall@10 >= 0.95, speedup >= 5.\n\n{table}\n"
        f"### ef_search sweep (same graphs)\n\n{sweep_table}\n"
        f"Smallest ef_search of the sweep meeting both targets for every model (the "
        f"rule of the default): {choice}.\n\n"
        f"Machine: {machine()}.\n")
    write_results("ann", {"machine": machine(), "args": vars(args), "rows": rows,
                          "sweep": sweeps, "choice": choice}, markdown)


if __name__ == "__main__":
    main()

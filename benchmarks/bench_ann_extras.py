"""Benchmark the extras of approximate retrieval: threaded build, heavy exclusions, fold-in.

Usage::

    flock /tmp/bench.lock python benchmarks/bench_ann_extras.py

Needs hnswlib (``pip install sklearn_recs[ann]``). The catalogue of
``bench_ann.py`` (100,000 items, 10,000 users), one model
(``ImplicitALS(n_factors=64, max_iter=10)``), fit twice with the same
``random_state``: ``retrieval="exact"`` and ``retrieval="hnsw"`` (default
``retrieval_params``). Three tables, each hnsw against exact in the same
run, recall@10 against the exact lists, seconds the best of ``--repeat``:

- **graph build**: seconds to build the graph on 1 thread (the default,
  reproducible) and with ``retrieval_params={"n_jobs": n}`` for each
  ``--threads`` (default 2, the cores of the machine it was written on),
  the better of two builds, the recall@10 of the graph, and whether the two
  builds give the same lists (a threaded build need not);
- **exclusions**: 1,000 users, their seen items excluded (the case of
  ``bench_ann.py``), then on top their exact top ``--n-top`` (100: the
  first fetch) and ``--n-excluded`` random items, so that the lists come
  back short from the first fetch and are fetched again deeper (the
  batched re-fetch, which replaced a one-by-one filtered search); the
  share of users re-fetched and the count of excluded items returned
  (must be 0) are given;
- **fold-in**: 1,000 users given as new ids by their training rows
  (``recommend(ids, interactions=...)``): before, fold-in users were ranked
  exactly; now they search the graph with their folded-in vectors.

Results go to ``benchmarks/results/ann_extras.json`` and ``ann_extras.md``.
Timings are wall-clock on a shared machine: compare within one run.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.base import clone

from sklearn_recs import _retrieval
from sklearn_recs._scoring import FORMULAS
from sklearn_recs.decomposition import ImplicitALS

from _report import best_time, machine, markdown_table, write_results
from bench_ann import catalogue, recall

NAME = "ImplicitALS(n_factors=64, max_iter=10)"
ESTIMATOR = ImplicitALS(n_factors=64, max_iter=10, random_state=0)
TOP_N = 10
CATALOGUE = {"n-items": 100_000, "n-users": 10_000, "n-interactions": 300_000,
             "n-queries": 1000}


def build_rows(model, users, truth, threads):
    """Build seconds, recall@10 and reproducibility of each thread setting
    (two builds each: a build takes a minute)."""
    rows = []
    for n_jobs in (None, *threads):
        model.set_params(retrieval_params=None if n_jobs is None else {"n_jobs": n_jobs})
        kind, arrays = model._serving_arrays()
        timed = [best_time(lambda: FORMULAS[kind](arrays)) for _ in range(2)]
        seconds = min(time for time, _ in timed)
        lists = [_with_formula(model, formula).recommend(users, TOP_N) for _, formula in timed]
        rows.append({"n_jobs": n_jobs, "build_s": seconds,
                     "recall@10": recall(lists[0], truth),
                     "same_lists_twice": bool(np.array_equal(*lists))})
    model.set_params(retrieval_params=None)
    return rows


def _with_formula(model, formula):
    """``model`` scoring with ``formula`` (its cached formula replaced)."""
    model.__dict__["_formula_cache"] = (model.interactions_, formula)
    return model


def exclusion_row(exact, hnsw, users, n_top, n_excluded, repeat):
    """Seen items excluded and, on top, each user's exact top ``n_top`` and
    ``n_excluded`` random items (none with 0)."""
    rng = np.random.default_rng(2)
    exclude = None
    if n_top:
        top = exact.recommend(users, n_top)
        exclude = [np.r_[best, exact.items_[rng.choice(exact.n_items_, n_excluded,
                                                       replace=False)]] for best in top]
    exact_s, truth = best_time(lambda: exact.recommend(users, TOP_N, exclude=exclude), repeat)
    refetched = []
    fetch = getattr(_retrieval.HNSWIndex, "_fetch", None)
    if fetch is None:  # (an older version: no batched re-fetch to count)
        hnsw_s, found = best_time(lambda: hnsw.recommend(users, TOP_N, exclude=exclude),
                                  repeat)
        return {"case": "old", "recall@10": recall(found, truth), "exact_s": exact_s,
                "hnsw_s": hnsw_s, "speedup": exact_s / hnsw_s}

    def counting(self, pending, k, *args):
        refetched.append(len(pending) if k > max(2 * TOP_N, self.ef_search) else 0)
        return fetch(self, pending, k, *args)

    _retrieval.HNSWIndex._fetch = counting
    try:
        hnsw_s, found = best_time(lambda: hnsw.recommend(users, TOP_N, exclude=exclude),
                                  repeat)
    finally:
        _retrieval.HNSWIndex._fetch = fetch
    banned = {(row, item) for row, items in enumerate(exclude or []) for item in items}
    leaked = sum((row, item) in banned for row, items in enumerate(found) for item in items)
    case = (f"seen + exact top {n_top} + {n_excluded} random excluded" if n_top
            else "seen excluded (as bench_ann.py)")
    return {"case": case,
            "recall@10": recall(found, truth), "exact_s": exact_s, "hnsw_s": hnsw_s,
            "speedup": exact_s / hnsw_s, "refetched_share": sum(refetched) / repeat / len(users),
            "leaked": leaked}


def fold_in_row(exact, hnsw, X, users, repeat):
    rows = X[np.isin(X[:, 0], users)]
    fold = np.column_stack([rows[:, 0] + 10**9, rows[:, 1]])  # the same rows, new ids
    new = users + 10**9
    exact_s, truth = best_time(lambda: exact.recommend(new, TOP_N, interactions=fold), repeat)
    hnsw_s, found = best_time(lambda: hnsw.recommend(new, TOP_N, interactions=fold), repeat)
    return {"case": f"{len(users):,} fold-in users ({len(fold):,} rows)",
            "recall@10": recall(found, truth), "exact_s": exact_s, "hnsw_s": hnsw_s,
            "speedup": exact_s / hnsw_s}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in CATALOGUE.items():  # (the defaults of bench_ann.py)
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--n-top", type=int, default=100,
                        help="each user's exact top items excluded (the first fetch)")
    parser.add_argument("--n-excluded", type=int, default=200)
    parser.add_argument("--threads", default="2",
                        help="comma-separated n_jobs of the threaded builds")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    X = catalogue(args.n_items, args.n_users, args.n_interactions)
    users = np.random.default_rng(1).choice(np.unique(X[:, 0]), args.n_queries,
                                            replace=False)
    exact = clone(ESTIMATOR).fit(X)
    hnsw = clone(ESTIMATOR).set_params(retrieval="hnsw").fit(X)
    assert np.array_equal(exact.user_factors_, hnsw.user_factors_)
    truth = exact.recommend(users, TOP_N)
    threads = [int(n) for n in args.threads.split(",") if n]
    builds = build_rows(hnsw, users, truth, threads)
    hnsw = clone(ESTIMATOR).set_params(retrieval="hnsw").fit(X)  # the default graph
    cases = [exclusion_row(exact, hnsw, users, 0, 0, args.repeat),
             exclusion_row(exact, hnsw, users, args.n_top, args.n_excluded, args.repeat),
             fold_in_row(exact, hnsw, X, users, args.repeat)]
    for row in builds + cases:
        print(row, flush=True)
    build_table = markdown_table(
        ["retrieval_params n_jobs", "graph build s", "build speed-up", "recall@10",
         "same lists from two builds"],
        [["None (1 thread)" if r["n_jobs"] is None else r["n_jobs"], r["build_s"], builds[0]["build_s"] / r["build_s"], r["recall@10"],
          r["same_lists_twice"]] for r in builds])
    case_table = markdown_table(
        ["case", "recall@10", "exact recommend s", "hnsw recommend s", "speedup",
         "users re-fetched", "excluded items returned"],
        [[r["case"], r["recall@10"], r["exact_s"], r["hnsw_s"], r["speedup"],
          r.get("refetched_share"), r.get("leaked")] for r in cases])
    markdown = (
        f"## Approximate retrieval extras: threaded build, heavy exclusions, fold-in\n\n"
        f"{NAME} on the catalogue of bench_ann.py ({len(np.unique(X[:, 1])):,} items, "
        f"{len(np.unique(X[:, 0])):,} users, {len(X):,} interactions); top 10 for "
        f"{args.n_queries:,} users, best of {args.repeat}; default retrieval_params, one "
        f"search thread.\n\n### Graph build\n\n{build_table}\n"
        f"### Heavy exclusions and fold-in users (hnsw against exact)\n\n{case_table}\n"
        f"Machine: {machine()}.\n")
    write_results("ann_extras", {"machine": machine(), "args": vars(args),
                                 "builds": builds, "cases": cases}, markdown)


if __name__ == "__main__":
    main()

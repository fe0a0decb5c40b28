"""Benchmark EASE and SparseEASE against implicit's BM25 item-item and ItemKNN, in one run.

Usage::

    flock /tmp/bench.lock python benchmarks/bench_ease.py --data-home ../shared/datasets [--scale]

1. Accuracy: ml-100k and ml-latest-small, per-user random 80/20 holdout
   (``sklearn_recs.model_selection.train_test_split``), full-catalogue
   ranking of unseen items: NDCG@10 and precision@10, fit seconds,
   top-10 for every test user in seconds, and the peak memory the fit
   allocates (numpy and scipy arrays, traced by ``tracemalloc``). ``alpha``
   (and SparseEASE's ``n_neighbors``) are chosen by ``GridSearchCV`` with the
   package's NDCG@10 scorer on a per-user 80/20 validation split of the
   training part only. The peers, in the same run: this package's
   ``ItemKNN(feedback="implicit", weighting="bm25", n_neighbors=200)`` and implicit's
   ``BM25Recommender(K=100)``.
2. ``--scale``: SparseEASE fit seconds and peak RSS on ``make_interactions``
   data (1M interactions over 20k items, 10M over 50k items), each in a
   fresh process; exact EASE's cost at those sizes is projected from its
   ml-latest-small fit (time ``~ n_items^3``, memory ``n_items^2`` floats).

Sections not run keep their previous results in ``ease.json``
(``--datasets --scale`` runs the scale part alone).

Results go to ``benchmarks/results/ease.json`` and ``ease.md``. Timings are
wall-clock on a shared machine: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.linear_model import EASE, SparseEASE
from sklearn_recs.metrics import make_ranking_scorer, ndcg_at_k_score, precision_at_k_score
from sklearn_recs.model_selection import PerUserShuffleSplit, train_test_split
from sklearn_recs.neighbors import ItemKNN

from _report import RESULTS, add_peer_ratios, machine, run_child, write_results

GRIDS = {
    "EASE": (EASE(), {"alpha": [100.0, 250.0, 500.0, 1000.0]}),
    "SparseEASE": (SparseEASE(), {"alpha": [250.0, 500.0, 1000.0], "n_neighbors": [100, 200]}),
}


def _measured(fn):
    """(seconds, peak traced MiB, result) of ``fn``: timed untraced, then traced again."""
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, out


def _truth(X_test, users):
    groups = X_test.groupby("user_id")["item_id"].apply(list)
    return [groups.get(u, []) for u in users]


def _scores(X_test, users, recs):
    truth = _truth(X_test, users)
    return {"ndcg@10": float(ndcg_at_k_score(truth, recs, k=10)),
            "precision@10": float(precision_at_k_score(truth, recs, k=10))}


def load(name, data_home):
    variant = "100k" if name == "ml-100k" else "latest-small"
    X = fetch_movielens(variant, data_home=data_home, download_if_missing=False).data
    X_train, X_test = train_test_split(X[["user_id", "item_id"]], test_size=0.2, random_state=42)
    return X_train.reset_index(drop=True), X_test.reset_index(drop=True)


def tune(name, X_train):
    """The search on a validation split of the training part only, and its seconds."""
    estimator, grid = GRIDS[name]
    search = GridSearchCV(estimator, grid, scoring=make_ranking_scorer("ndcg", k=10),
                          cv=PerUserShuffleSplit(n_splits=1, test_size=0.2, random_state=0),
                          refit=False)
    start = time.perf_counter()
    search.fit(X_train)
    return search, time.perf_counter() - start


def best_with(search, **fixed):
    """The best parameters of ``search`` among those with the ``fixed`` values."""
    results = search.cv_results_
    rows = [i for i, params in enumerate(results["params"])
            if all(params[key] == value for key, value in fixed.items())]
    return results["params"][max(rows, key=lambda i: results["mean_test_score"][i])]


def ours(model, X_train, X_test):
    fit_seconds, peak, _ = _measured(lambda: model.fit(X_train))
    users = np.unique(X_test["user_id"])
    start = time.perf_counter()
    recs = model.recommend(users, top_n=10)
    rec_seconds = time.perf_counter() - start
    return {**_scores(X_test, users, recs), "fit_seconds": fit_seconds,
            "recommend_seconds": rec_seconds, "fit_peak_mib": peak}


def implicit_bm25(X_train, X_test, K=100):
    from implicit.nearest_neighbours import BM25Recommender

    users = pd.Index(np.unique(X_train["user_id"]))
    items = pd.Index(np.unique(X_train["item_id"]))
    matrix = sp.csr_matrix((np.ones(len(X_train), dtype=np.float32),
                            (users.get_indexer(X_train["user_id"]),
                             items.get_indexer(X_train["item_id"]))),
                           shape=(len(users), len(items)))
    model = BM25Recommender(K=K)
    fit_seconds, peak, _ = _measured(lambda: model.fit(matrix, show_progress=False))
    test_users = np.unique(X_test["user_id"])
    codes = users.get_indexer(test_users)
    start = time.perf_counter()
    ids, _ = model.recommend(codes, matrix[codes], N=10, filter_already_liked_items=True)
    rec_seconds = time.perf_counter() - start
    return {**_scores(X_test, test_users, items.to_numpy()[ids]), "fit_seconds": fit_seconds,
            "recommend_seconds": rec_seconds, "fit_peak_mib": peak, "params": {"K": K}}


def accuracy_benchmark(name, data_home):
    X_train, X_test = load(name, data_home)
    results = {}
    runs = []
    for model_name in GRIDS:
        search, seconds = tune(model_name, X_train)
        runs.append((f"{model_name} (ours)", model_name, search.best_params_, seconds))
        if model_name == "SparseEASE":
            # The fastest neighbourhood of the grid too, alpha chosen the same way.
            runs.append(("SparseEASE n_neighbors=100 (ours)", model_name,
                         best_with(search, n_neighbors=100), seconds))
    for key, model_name, params, seconds in runs:
        model = clone(GRIDS[model_name][0]).set_params(**params)
        results[key] = {**ours(model, X_train, X_test), "params": params,
                        "search_seconds": seconds}
        print(f"  {key}: {results[key]}", flush=True)
    knn = ItemKNN(feedback="implicit", weighting="bm25", n_neighbors=200)
    results["ItemKNN bm25 k=200 (ours)"] = {**ours(knn, X_train, X_test),
                                           "params": {"weighting": "bm25", "k": 200}}
    try:
        results["implicit BM25Recommender K=100"] = implicit_bm25(X_train, X_test)
    except ImportError as exc:
        results["implicit BM25Recommender K=100"] = {"error": f"not installed: {exc}"}
    for key in ("ItemKNN bm25 k=200 (ours)", "implicit BM25Recommender K=100"):
        print(f"  {key}: {results[key]}", flush=True)
    exact = results["EASE (ours)"]
    results["summary"] = {"n_items": int(X_train["item_id"].nunique()), "sparse": {
        key: {"ndcg_share_of_exact": results[key]["ndcg@10"] / exact["ndcg@10"],
              "fit_speedup": exact["fit_seconds"] / results[key]["fit_seconds"]}
        for key in ("SparseEASE (ours)", "SparseEASE n_neighbors=100 (ours)")}}
    return results


# -- scale --------------------------------------------------------------------
_SCALE_CHILD = """
import sys, time, resource, numpy as np
n, nu, ni, k = map(int, sys.argv[1:5])
from sklearn_recs.datasets import make_interactions
X, _ = make_interactions(nu, ni, n, implicit=True, random_state=0, as_frame=False,
                         return_X_y=True, with_timestamps=False)
X = np.ascontiguousarray(X[:, :2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
from sklearn_recs.linear_model import SparseEASE
start = time.perf_counter()
model = SparseEASE(n_neighbors=k).fit(X)
fit = time.perf_counter() - start
fit_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
users = model.users_[:10_000]
start = time.perf_counter()
model.recommend(users, top_n=10)
rec = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(fit, rec, base / 2**20, fit_peak / 2**20, peak / 2**20)
"""


def scale_benchmark(sizes, n_neighbors, timeout, exact_reference):
    """SparseEASE at scale; exact EASE projected from ``(n_items, fit seconds)``."""
    results = {}
    ref_items, ref_seconds = exact_reference
    for n, nu, ni in sizes:
        key = (f"SparseEASE n_neighbors={n_neighbors}, {n:,} interactions "
               f"({nu:,} users x {ni:,} items)")
        projection = {"exact_projected_fit_seconds": ref_seconds * (ni / ref_items) ** 3,
                      "exact_dense_matrix_gib": ni**2 * 4 / 2**30}
        out, error = run_child(["-c", _SCALE_CHILD, str(n), str(nu), str(ni), str(n_neighbors)],
                               timeout)
        if error:
            results[key] = {"error": error, **projection}
        else:
            fit, rec, data, fit_peak, peak = map(float, out.split()[-5:])
            results[key] = {"fit_seconds": fit, "recommend_10k_users_seconds": rec,
                            "data_peak_rss_gib": data, "fit_peak_rss_gib": fit_peak,
                            "recommend_peak_rss_gib": peak, **projection}
        print(f"  {key}: {results[key]}", flush=True)
    return results


# -- report -------------------------------------------------------------------
def to_markdown(report):
    lines = ["# EASE benchmark", "", f"Machine: {report['machine']}", ""]
    for name, results in report.get("accuracy", {}).items():
        summary = results["summary"]
        rows = [{"model": model, **r} for model, r in results.items() if model != "summary"]
        best = add_peer_ratios(rows, metric="ndcg@10",
                               times=("fit_seconds", "recommend_seconds"),
                               is_peer=lambda row: "(ours)" not in row["model"])
        lines += [f"## {name} ({summary['n_items']} items), per-user 80/20, "
                  "full-catalogue ranking", "",
                  f"Ratios divide by the best peer (highest NDCG@10): {best}.",
                  "", "| model | NDCG@10 | P@10 | fit (s) | top-10 all users (s) | "
                  "fit peak (MiB) | NDCG / best peer | fit / best peer | top-10 / best peer | "
                  "settings |", "|" + " --- |" * 10]
        for r in rows:
            if "error" in r:
                lines.append(f"| {r['model']} | {r['error']} |" + " |" * 8)
                continue
            lines.append(f"| {r['model']} | {r['ndcg@10']:.4f} | {r['precision@10']:.4f} | "
                         f"{r['fit_seconds']:.2f} | {r['recommend_seconds']:.3f} | "
                         f"{r['fit_peak_mib']:.0f} | {r['ndcg@10 / best peer']:.2f} | "
                         f"{r['fit_seconds / best peer']:.2f} | "
                         f"{r['recommend_seconds / best peer']:.2f} | "
                         f"{r.get('params', '')} |")
        lines.append("")
        for key, share in summary["sparse"].items():
            lines.append(f"- {key} keeps {share['ndcg_share_of_exact']:.1%} of exact EASE's "
                         f"NDCG@10 and fits {share['fit_speedup']:.1f}x faster.")
        lines.append("")
    if report.get("scale"):
        lines += ["## Scale: SparseEASE on make_interactions", "",
                  "Peak RSS is the process's high-water mark after generating the data, "
                  "after the fit, and after recommending.", "",
                  "| run | fit (s) | recommend 10k users (s) | peak RSS: data / fit / recommend "
                  "(GiB) | exact EASE: projected fit (s) | dense matrix (GiB) |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for run, r in report["scale"].items():
            projected = (f"{r['exact_projected_fit_seconds']:.0f} | "
                         f"{r['exact_dense_matrix_gib']:.1f} |")
            if "error" in r:
                lines.append(f"| {run} | {r['error']} | | | {projected}")
            else:
                lines.append(f"| {run} | {r['fit_seconds']:.1f} | "
                             f"{r['recommend_10k_users_seconds']:.1f} | "
                             f"{r['data_peak_rss_gib']:.2f} / {r['fit_peak_rss_gib']:.2f} / "
                             f"{r['recommend_peak_rss_gib']:.2f} | {projected}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SKLEARN_RECS_DATA"))
    parser.add_argument("--datasets", nargs="*", default=["ml-100k", "ml-latest-small"],
                        choices=["ml-100k", "ml-latest-small"],
                        help="accuracy runs (none with --datasets and no name)")
    parser.add_argument("--scale", action="store_true", help="also run the 1M / 10M runs")
    parser.add_argument("--scale-neighbors", type=int, default=100)
    parser.add_argument("--scale-timeout", type=float, default=900)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    # Sections not run now keep their last results.
    previous = RESULTS / "ease.json"
    report = json.loads(previous.read_text()) if previous.exists() else {}
    report["machine"] = machine()
    report.setdefault("accuracy", {})
    for name in args.datasets:
        print(name, flush=True)
        report["accuracy"][name] = accuracy_benchmark(name, args.data_home)
    if args.scale:
        print("scale", flush=True)
        small = report["accuracy"]["ml-latest-small"]
        reference = (small["summary"]["n_items"], small["EASE (ours)"]["fit_seconds"])
        report["scale"] = scale_benchmark(
            [(1_000_000, 50_000, 20_000), (10_000_000, 500_000, 50_000)],
            args.scale_neighbors, args.scale_timeout, reference)
    write_results("ease", report, to_markdown(report))


if __name__ == "__main__":
    main()

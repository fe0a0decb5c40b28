"""Benchmark ImplicitALS, SLIM and RP3Beta against implicit's ALS and skrecsys, in one run.

Usage::

    flock /tmp/bench.lock python benchmarks/bench_models.py --data-home DIR [--select]

MovieLens 100k, per-user random 80/20 holdout
(``sklearn_recs.model_selection.train_test_split``, ``random_state=42``),
full-catalogue ranking of unseen items: NDCG@10, precision@10, fit and
recommend seconds. Every model runs with its defaults (ours and the
peers'), and SLIM also with ``n_neighbors=100`` (restricted against full);
implicit's ``AlternatingLeastSquares`` also runs at our
``n_factors`` and ``max_iter`` (its ``factors`` and ``iterations``), the
like-for-like fit-time comparison: at 1 and 2 threads (our ``n_jobs`` and
implicit's ``num_threads``; BLAS pinned to 1 thread for both), the median
ratio of 7 interleaved fits of each.

``--select`` first runs the small grids that chose our defaults, by
``GridSearchCV`` with the package's NDCG@10 scorer on a per-user 80/20
validation split of the training part only (never the test part), and
stores their validation scores in the report.

Results go to ``benchmarks/results/models.json`` and ``models.md``.
Timings are wall-clock on a shared machine: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.decomposition import ImplicitALS
from sklearn_recs.linear_model import SLIM
from sklearn_recs.metrics import make_ranking_scorer, ndcg_at_k_score, precision_at_k_score
from sklearn_recs.model_selection import PerUserShuffleSplit, train_test_split
from sklearn_recs.neighbors import RP3Beta

from _peers import ImplicitPeer
from _report import add_peer_ratios, machine, markdown_table, write_results

GRIDS = {
    "ImplicitALS": (ImplicitALS(random_state=0),
                    {"n_factors": [64, 128], "alpha": [10.0, 50.0, 100.0],
                     "confidence_scale": [2.0, 5.0, 10.0]}),
    "SLIM": (SLIM(n_jobs=2), {"alpha": [0.03, 0.1, 0.2, 0.4], "l1_ratio": [0.001, 0.01, 0.1]}),
    "RP3Beta": (RP3Beta(), {"exponent": [0.3, 0.5, 1.0], "beta": [0.3, 0.6],
                            "n_neighbors": [100, 200, 400], "normalize": [False, True]}),
}
OURS = {"ImplicitALS": ImplicitALS(random_state=0), "SLIM": SLIM(n_jobs=2),
        "RP3Beta": RP3Beta()}
# Not defaults: SLIM restricted to each item's 100 most co-occurring items
# (SparseEASE's default neighbourhood), against the full SLIM row above.
VARIANTS = {"SLIM (ours, n_neighbors=100)": SLIM(n_jobs=2, n_neighbors=100)}


def load(data_home):
    X = fetch_movielens("100k", data_home=data_home, download_if_missing=False).data
    X_train, X_test = train_test_split(X[["user_id", "item_id"]], test_size=0.2, random_state=42)
    return X_train.reset_index(drop=True), X_test.reset_index(drop=True)


def select(X_train):
    """Validation scores of each grid (training part only) and the best parameters."""
    report = {}
    for name, (estimator, grid) in GRIDS.items():
        search = GridSearchCV(estimator, grid, scoring=make_ranking_scorer("ndcg", k=10),
                              cv=PerUserShuffleSplit(n_splits=1, test_size=0.2, random_state=0),
                              refit=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search.fit(X_train)
        report[name] = {"best_params": search.best_params_,
                        "best_validation_ndcg@10": float(search.best_score_),
                        "grid": [{**p, "validation_ndcg@10": float(s)} for p, s in zip(
                            search.cv_results_["params"], search.cv_results_["mean_test_score"])]}
        print(f"  {name}: {report[name]['best_params']} {search.best_score_:.4f}", flush=True)
    return report


def evaluate(model, X_train, X_test):
    start = time.perf_counter()
    model.fit(X_train)
    fit_seconds = time.perf_counter() - start
    users = np.unique(X_test["user_id"])
    start = time.perf_counter()
    recs = model.recommend(users, 10)
    recommend_seconds = time.perf_counter() - start
    groups = X_test.groupby("user_id")["item_id"].apply(list)
    truth = [groups[u] for u in users]
    return {"ndcg@10": float(ndcg_at_k_score(truth, recs, k=10)),
            "precision@10": float(precision_at_k_score(truth, recs, k=10)),
            "fit_seconds": fit_seconds, "recommend_seconds": recommend_seconds}


def fit_time_ratios(X_train, threads=(1, 2), repeats=7):
    """ImplicitALS fit seconds / implicit ALS fit seconds, same factors, iterations, threads.

    For each thread count, both solvers run on it (our ``n_jobs``,
    implicit's ``num_threads``) with BLAS pinned to one thread for both
    (threadpoolctl; implicit warns against a BLAS thread pool, and ours
    pins it to 1 anyway); the two fit in turn ``repeats`` times. Returns, per thread count, the median of the
    per-repeat ratios and both sides' median seconds.
    """
    from implicit.cpu.als import AlternatingLeastSquares

    ours = OURS["ImplicitALS"]
    report = {}
    for n in threads:
        pair = {"ours": clone(ours).set_params(n_jobs=n),
                "peer": ImplicitPeer(AlternatingLeastSquares(
                    factors=ours.n_factors, iterations=ours.max_iter, random_state=0,
                    num_threads=n))}
        seconds = {"ours": [], "peer": []}
        with threadpool_limits(limits=1, user_api="blas"):
            for _ in range(repeats):
                for key, model in pair.items():
                    start = time.perf_counter()
                    model.fit(X_train)
                    seconds[key].append(time.perf_counter() - start)
        ratios = np.divide(seconds["ours"], seconds["peer"])
        report[f"{n} thread(s)"] = {
            "median ratio": float(np.median(ratios)), "ratios": ratios.round(3).tolist(),
            "ours median seconds": float(np.median(seconds["ours"])),
            "implicit median seconds": float(np.median(seconds["peer"]))}
        print(f"  fit time, {n} thread(s): {report[f'{n} thread(s)']}", flush=True)
    return report


class _SkrecsysPeer:
    """A skrecsys recommender behind ``fit`` / ``recommend(users, n)``."""

    def __init__(self, model):
        self.model = model

    def fit(self, X):
        self.model.fit(X[["user_id", "item_id"]].to_numpy())
        return self

    def recommend(self, users, n):
        ids, _ = self.model.recommend(users, n_recommendations=n)
        return np.asarray(ids).reshape(len(users), -1)


def peers():
    """(row name, model) of the peers installed here, defaults and like-for-like."""
    rows = []
    try:
        from implicit.cpu.als import AlternatingLeastSquares
        ours = OURS["ImplicitALS"]
        rows.append(("implicit AlternatingLeastSquares (defaults)",
                     ImplicitPeer(AlternatingLeastSquares(random_state=0))))
        rows.append((f"implicit AlternatingLeastSquares (factors={ours.n_factors}, "
                     f"iterations={ours.max_iter})",
                     ImplicitPeer(AlternatingLeastSquares(factors=ours.n_factors,
                                                          iterations=ours.max_iter,
                                                          random_state=0))))
    except ImportError:
        pass
    try:
        from skrecsys.recommendation import RP3Beta as SkRP3Beta
        from skrecsys.recommendation import SLIMElasticNet
        rows.append(("skrecsys SLIMElasticNet (defaults)", _SkrecsysPeer(SLIMElasticNet())))
        rows.append(("skrecsys RP3Beta (defaults)", _SkrecsysPeer(SkRP3Beta())))
    except ImportError:
        pass
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--select", action="store_true")
    args = parser.parse_args()
    X_train, X_test = load(args.data_home)
    report = {"machine": machine(), "protocol": "ml-100k, per-user random 80/20, full ranking, "
              "defaults"}
    if args.select:
        report["selection"] = select(X_train)
    rows = []
    runs = ([(f"{name} (ours, defaults)", model) for name, model in OURS.items()]
            + list(VARIANTS.items()) + peers())
    for key, model in runs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row = {"model": key, **evaluate(model, X_train, X_test)}
        print(f"  {row}", flush=True)
        rows.append(row)
    add_peer_ratios(rows, metric="ndcg@10", times=("fit_seconds",),
                    is_peer=lambda row: "(ours" not in row["model"])
    if any(key.startswith("implicit") for key, _ in runs):  # like for like
        report["ImplicitALS fit / implicit ALS fit"] = fit_time_ratios(X_train)
    report["rows"] = rows
    header = ["model", "ndcg@10", "precision@10", "fit_seconds", "recommend_seconds",
              "ndcg@10 / best peer", "fit_seconds / best peer"]
    markdown = (f"# ImplicitALS, SLIM, RP3Beta and peers\n\n{report['protocol']}; "
                f"{report['machine']}\n\n"
                + markdown_table(header, [[row.get(h) for h in header] for row in rows]))
    if "ImplicitALS fit / implicit ALS fit" in report:
        markdown += ("\nImplicitALS fit seconds / implicit ALS fit seconds at the same factors, "
                     "iterations and threads (BLAS pinned to 1 thread; median of 7 "
                     "interleaved pairs):\n\n" + "".join(
                         f"- {n}: {r['median ratio']:.2f} (ours {r['ours median seconds']:.2f} s, "
                         f"implicit {r['implicit median seconds']:.2f} s)\n"
                         for n, r in report["ImplicitALS fit / implicit ALS fit"].items()))
    if args.select:
        markdown += "\n## Defaults chosen on validation (training part only)\n\n" + "".join(
            f"- {name}: {sel['best_params']} (validation NDCG@10 "
            f"{sel['best_validation_ndcg@10']:.4f})\n"
            for name, sel in report["selection"].items())
    write_results("models", report, markdown)


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()

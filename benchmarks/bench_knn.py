"""Benchmark ItemKNN / UserKNN against Surprise, LensKit and implicit, in one run.

Usage::

    python benchmarks/bench_knn.py --data-home ../shared/datasets [--scale] [--quick]

1. Explicit: ml-100k canonical folds u1..u5, RMSE and fit + predict time.
   Our hyperparameters are chosen per fold by ``GridSearchCV`` on a per-user
   80/20 validation split of that fold's training data only.
2. Implicit: ml-100k, per-user random 80/20 holdout, NDCG@10 over the full
   catalogue of unseen items; our settings chosen by ``GridSearchCV`` with
   the package's NDCG@10 ranking scorer on a validation split of the
   training part only.
3. ``--scale``: implicit ItemKNN (K=100) fit time, top-10 for 100k users
   (or all) and peak memory on ``make_interactions`` data (1M and 10M
   interactions), against implicit's CosineRecommender; both use every core
   (ours ``n_jobs=-1``, implicit's default).

Results go to ``benchmarks/results/knn.json`` and ``knn.md``. Peers that are
not installed are reported as missing. Timings are wall-clock on a shared
machine: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from sklearn.model_selection import GridSearchCV

from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.metrics import make_ranking_scorer, ndcg_at_k_score
from sklearn_recs.model_selection import PerUserShuffleSplit, train_test_split
from sklearn_recs.neighbors import ItemKNN, UserKNN

from _report import add_peer_ratios, best_time, machine, run_child, write_results

EXPLICIT_GRIDS = {
    "ItemKNN": (ItemKNN(similarity="pearson_baseline", n_stored_neighbors=400),
                {"shrinkage": [100, 200], "n_neighbors": [30, 60], "damping": [0.1, 0.2],
                 "amplification": [1.0, 1.3]}),
    "UserKNN": (UserKNN(similarity="pearson_baseline", n_stored_neighbors=300),
                {"shrinkage": [50, 100, 200], "n_neighbors": [30, 60], "damping": [0.0, 0.25]}),
}
IMPLICIT_GRIDS = {
    "ItemKNN": (ItemKNN(feedback="implicit"),
                [{"weighting": ["bm25"], "similarity": ["dot", "cosine"], "n_neighbors": [50, 100, 200]},
                 {"weighting": [None], "similarity": ["cosine"], "n_neighbors": [50, 100, 200]}]),
    "UserKNN": (UserKNN(feedback="implicit"),
                [{"weighting": [None, "bm25"], "similarity": ["cosine"], "n_neighbors": [30, 60, 100]}]),
}


def _rmse(pred, truth):
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(truth)) ** 2)))


# -- explicit -----------------------------------------------------------------
def load_folds(data_home):
    names = ["user_id", "item_id", "rating", "timestamp"]
    base = Path(data_home) / "ml-100k"
    return [(pd.read_csv(base / f"u{k}.base", sep="\t", names=names),
             pd.read_csv(base / f"u{k}.test", sep="\t", names=names)) for k in range(1, 6)]


def tune_explicit(estimator, grid, train):
    X, y = train[["user_id", "item_id"]], train["rating"].to_numpy()
    cv = PerUserShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    search = GridSearchCV(estimator, grid, cv=cv, scoring="neg_root_mean_squared_error",
                          refit=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    return search.best_params_


def ours_explicit(name, train, test, repeat):
    estimator, grid = EXPLICIT_GRIDS[name]
    params = tune_explicit(estimator, grid, train)
    model = estimator.set_params(**params)
    X, y = train[["user_id", "item_id"]], train["rating"].to_numpy()
    Xt = test[["user_id", "item_id"]]

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit(X, y).predict(Xt)

    seconds, pred = best_time(run, repeat)
    return {"rmse": _rmse(pred, test["rating"]), "seconds": seconds, "params": params}


def surprise_explicit(kind, train, test, repeat):
    from surprise import Dataset, KNNBaseline, KNNWithMeans, Reader

    def run():
        data = Dataset.load_from_df(train[["user_id", "item_id", "rating"]],
                                    Reader(rating_scale=(1, 5)))
        if kind == "item":
            algo = KNNBaseline(sim_options={"name": "pearson_baseline", "user_based": False},
                               verbose=False)
        else:
            algo = KNNWithMeans(sim_options={"user_based": True}, verbose=False)
        algo.fit(data.build_full_trainset())
        return [algo.predict(u, i).est for u, i in zip(test["user_id"], test["item_id"])]

    seconds, pred = best_time(run, repeat)
    return {"rmse": _rmse(pred, test["rating"]), "seconds": seconds}


def _lenskit_data(train):
    from lenskit.data import from_interactions_df

    return from_interactions_df(train, user_col="user_id", item_col="item_id",
                                rating_col="rating")


def lenskit_explicit(kind, train, test, repeat):
    from lenskit.data import ItemList
    from lenskit.knn import ItemKNNScorer, UserKNNScorer
    from lenskit.pipeline import predict_pipeline

    # lenskit.batch.predict fails here (2025.8.1: "incompatible item lists:
    # field nbr_counts type double != int32"), so the pipeline runs per user.
    groups = test.groupby("user_id")["item_id"]

    def run():
        scorer = ItemKNNScorer(max_nbrs=20) if kind == "item" else UserKNNScorer(max_nbrs=30)
        pipe = predict_pipeline(scorer)
        pipe.train(_lenskit_data(train))
        frames = []
        for user, items in groups:
            scored = pipe.run("rating-predictor", query=user, items=ItemList(item_ids=items.to_numpy()))
            frames.append(pd.DataFrame({"user_id": user, "item_id": scored.ids(),
                                        "score": scored.scores()}))
        return pd.concat(frames)

    seconds, out = best_time(run, repeat)
    merged = test.merge(out, on=["user_id", "item_id"])
    return {"rmse": _rmse(merged["score"], merged["rating"]), "seconds": seconds}


def explicit_benchmark(data_home, n_folds, repeat, only=None):
    folds = load_folds(data_home)[:n_folds]
    runners = {
        "ItemKNN (ours)": lambda tr, te: ours_explicit("ItemKNN", tr, te, repeat),
        "UserKNN (ours)": lambda tr, te: ours_explicit("UserKNN", tr, te, repeat),
        "Surprise KNNBaseline item (pearson_baseline)":
            lambda tr, te: surprise_explicit("item", tr, te, 1),
        "Surprise KNNWithMeans user (msd)": lambda tr, te: surprise_explicit("user", tr, te, 1),
        "LensKit item-item": lambda tr, te: lenskit_explicit("item", tr, te, 1),
        "LensKit user-user": lambda tr, te: lenskit_explicit("user", tr, te, 1),
    }
    results = {}
    for name, run in runners.items():
        if only and not any(word in name for word in only):
            continue
        per_fold = []
        try:
            for k, (train, test) in enumerate(folds, 1):
                per_fold.append(run(train, test))
                print(f"  {name} u{k}: {per_fold[-1]}", flush=True)
        except ImportError as exc:
            results[name] = {"error": f"not installed: {exc}"}
            continue
        results[name] = {
            "rmse": float(np.mean([r["rmse"] for r in per_fold])),
            "rmse_per_fold": [r["rmse"] for r in per_fold],
            "seconds": float(np.mean([r["seconds"] for r in per_fold])),
            "params": [r.get("params") for r in per_fold],
        }
    return results


# -- implicit -----------------------------------------------------------------
def implicit_split(data_home):
    bunch = fetch_movielens("100k", data_home=data_home, download_if_missing=False)
    X = bunch.frame[["user_id", "item_id"]] if hasattr(bunch, "frame") and bunch.frame is not None \
        else bunch.data[["user_id", "item_id"]]
    X_train, X_test = train_test_split(X, test_size=0.2, random_state=42)
    return X_train.reset_index(drop=True), X_test.reset_index(drop=True)


def _truth(X_test, users):
    groups = X_test.groupby("user_id")["item_id"].apply(list)
    return [groups.get(u, []) for u in users]


def ours_implicit(name, X_train, X_test, repeat):
    estimator, grid = IMPLICIT_GRIDS[name]
    search = GridSearchCV(estimator, grid, scoring=make_ranking_scorer("ndcg", k=10),
                          cv=PerUserShuffleSplit(n_splits=1, test_size=0.2, random_state=0),
                          refit=False)
    search.fit(X_train)
    model = estimator.set_params(**search.best_params_)
    fit_seconds, _ = best_time(lambda: model.fit(X_train), repeat)
    users = np.unique(X_test["user_id"])
    rec_seconds, recs = best_time(lambda: model.recommend(users, top_n=10), repeat)
    ndcg = ndcg_at_k_score(_truth(X_test, users), recs, k=10)
    return {"ndcg@10": float(ndcg), "fit_seconds": fit_seconds,
            "recommend_seconds": rec_seconds, "params": search.best_params_}


def _codes(X_train):
    users = pd.Index(np.unique(X_train["user_id"]))
    items = pd.Index(np.unique(X_train["item_id"]))
    matrix = sp.csr_matrix((np.ones(len(X_train), dtype=np.float32),
                            (users.get_indexer(X_train["user_id"]),
                             items.get_indexer(X_train["item_id"]))),
                           shape=(len(users), len(items)))
    return users, items, matrix


def implicit_lib(kind, X_train, X_test, K=100):
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    users, items, matrix = _codes(X_train)
    cls = BM25Recommender if kind == "bm25" else CosineRecommender
    model = cls(K=K)
    fit_seconds, _ = best_time(lambda: model.fit(matrix, show_progress=False))
    test_users = np.unique(X_test["user_id"])
    codes = users.get_indexer(test_users)
    rec_seconds, (ids, _) = best_time(lambda: model.recommend(
        codes, matrix[codes], N=10, filter_already_liked_items=True))
    ndcg = ndcg_at_k_score(_truth(X_test, test_users), items.to_numpy()[ids], k=10)
    return {"ndcg@10": float(ndcg), "fit_seconds": fit_seconds, "recommend_seconds": rec_seconds,
            "params": {"K": K}}


def lenskit_implicit(kind, X_train, X_test):
    from lenskit.batch import recommend
    from lenskit.knn import ItemKNNScorer, UserKNNScorer
    from lenskit.pipeline import topn_pipeline

    from lenskit.data import from_interactions_df

    data = from_interactions_df(X_train, user_col="user_id", item_col="item_id")
    scorer = (ItemKNNScorer(max_nbrs=20, feedback="implicit") if kind == "item"
              else UserKNNScorer(max_nbrs=30, feedback="implicit"))
    pipe = topn_pipeline(scorer, n=10)
    fit_seconds, _ = best_time(lambda: pipe.train(data))
    test_users = np.unique(X_test["user_id"])
    rec_seconds, out = best_time(lambda: recommend(pipe, test_users, n=10))
    df = out.to_df()
    lists = df.sort_values(["user_id", "rank"]).groupby("user_id")["item_id"].apply(list)
    recs = [lists.get(u, []) for u in test_users]
    ndcg = ndcg_at_k_score(_truth(X_test, test_users), recs, k=10)
    return {"ndcg@10": float(ndcg), "fit_seconds": fit_seconds, "recommend_seconds": rec_seconds}


def implicit_benchmark(data_home, repeat):
    X_train, X_test = implicit_split(data_home)
    runners = {
        "ItemKNN (ours)": lambda: ours_implicit("ItemKNN", X_train, X_test, repeat),
        "UserKNN (ours)": lambda: ours_implicit("UserKNN", X_train, X_test, repeat),
        "implicit BM25Recommender K=100": lambda: implicit_lib("bm25", X_train, X_test),
        "implicit CosineRecommender K=100": lambda: implicit_lib("cosine", X_train, X_test),
        "LensKit item-item (implicit)": lambda: lenskit_implicit("item", X_train, X_test),
        "LensKit user-user (implicit)": lambda: lenskit_implicit("user", X_train, X_test),
    }
    results = {}
    for name, run in runners.items():
        try:
            results[name] = run()
        except ImportError as exc:
            results[name] = {"error": f"not installed: {exc}"}
        print(f"  {name}: {results[name]}", flush=True)
    return results


# -- scale --------------------------------------------------------------------
_SCALE_CHILD = """
import sys, time, resource, numpy as np, scipy.sparse as sp
n, nu, ni, who = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
from sklearn_recs.datasets import make_interactions
X, _ = make_interactions(nu, ni, n, implicit=True, random_state=0, as_frame=False,
                         return_X_y=True, with_timestamps=False)
X = np.ascontiguousarray(X[:, :2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if who == "ours":
    from sklearn_recs.neighbors import ItemKNN
    model = ItemKNN(feedback="implicit", n_neighbors=100, n_jobs=-1).fit(X)
    fit = time.perf_counter() - start
    users = np.unique(X[:, 0])[:100_000]
    start = time.perf_counter()
    model.recommend(users, top_n=10)
    rec = time.perf_counter() - start
else:
    from implicit.nearest_neighbours import CosineRecommender
    m = sp.csr_matrix((np.ones(len(X), dtype=np.float32), (X[:, 0], X[:, 1])))
    model = CosineRecommender(K=100)
    model.fit(m, show_progress=False)
    fit = time.perf_counter() - start
    codes = np.arange(min(100_000, m.shape[0]))
    start = time.perf_counter()
    model.recommend(codes, m[codes], N=10)
    rec = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(fit, rec, peak / 2**20, (peak - base) / 2**20)
"""


def scale_benchmark(sizes, timeout):
    results = {}
    for n, nu, ni in sizes:
        for who in ("ours", "implicit"):
            key = f"{who} {n:,} interactions ({nu:,} users x {ni:,} items)"
            out, error = run_child(["-c", _SCALE_CHILD, str(n), str(nu), str(ni), who], timeout)
            if error:
                results[key] = {"error": error}
            else:
                fit, rec, peak, delta = map(float, out.split()[-4:])
                results[key] = {"fit_seconds": fit, "recommend_100k_users_seconds": rec,
                                "peak_rss_gib": peak, "peak_rss_above_data_gib": delta}
            print(f"  {key}: {results[key]}", flush=True)
    return results


# -- report -------------------------------------------------------------------
def to_markdown(report):
    lines = ["# KNN benchmark", "", f"Machine: {report['machine']}", ""]
    rows = [{"model": name, **r} for name, r in report.get("explicit", {}).items()]
    best = add_peer_ratios(rows, metric="rmse", times=("seconds",), greater_is_better=False,
                           is_peer=lambda row: "(ours)" not in row["model"])
    lines += ["## Explicit: ml-100k u1..u5", "",
              f"Ratios divide by the best peer (lowest RMSE): {best}.", "",
              "| model | mean RMSE | RMSE per fold | fit + predict (s, mean per fold) | "
              "RMSE / best peer | time / best peer |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['error']} | | | | |")
        else:
            folds = ", ".join(f"{v:.4f}" for v in r["rmse_per_fold"])
            lines.append(f"| {r['model']} | {r['rmse']:.4f} | {folds} | {r['seconds']:.3f} | "
                         f"{r['rmse / best peer']:.3f} | {r['seconds / best peer']:.2f} |")
    rows = [{"model": name, **r} for name, r in report.get("implicit", {}).items()]
    best = add_peer_ratios(rows, metric="ndcg@10", times=("fit_seconds", "recommend_seconds"),
                           is_peer=lambda row: "(ours)" not in row["model"])
    lines += ["", "## Implicit: ml-100k per-user 80/20, full-catalogue NDCG@10", "",
              f"Ratios divide by the best peer (highest NDCG@10): {best}.", "",
              "| model | NDCG@10 | fit (s) | top-10 for all users (s) | NDCG / best peer | "
              "fit / best peer | top-10 / best peer | settings |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['error']} | | | | | | |")
        else:
            lines.append(f"| {r['model']} | {r['ndcg@10']:.4f} | {r['fit_seconds']:.3f} | "
                         f"{r['recommend_seconds']:.3f} | {r['ndcg@10 / best peer']:.2f} | "
                         f"{r['fit_seconds / best peer']:.2f} | "
                         f"{r['recommend_seconds / best peer']:.2f} | {r.get('params', '')} |")
    if report.get("scale"):
        lines += ["", "## Scale: implicit item-item, K=100", "",
                  "| run | fit (s) | recommend 100k users (s) | peak RSS (GiB) | above data (GiB) |",
                  "| --- | --- | --- | --- | --- |"]
        for name, r in report["scale"].items():
            if "error" in r:
                lines.append(f"| {name} | {r['error']} | | | |")
            else:
                lines.append(f"| {name} | {r['fit_seconds']:.2f} | "
                             f"{r['recommend_100k_users_seconds']:.2f} | {r['peak_rss_gib']:.2f} | "
                             f"{r['peak_rss_above_data_gib']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SKLEARN_RECS_DATA"))
    parser.add_argument("--scale", action="store_true", help="also run the 1M / 10M runs")
    parser.add_argument("--quick", action="store_true", help="explicit on fold u1 only")
    parser.add_argument("--skip", nargs="*", default=[], choices=["explicit", "implicit"])
    parser.add_argument("--only", nargs="*", default=None,
                        help="run only the explicit models whose name contains one of these")
    parser.add_argument("--scale-timeout", type=float, default=900)
    args = parser.parse_args(argv)
    report = {"machine": machine()}
    if "explicit" not in args.skip:
        print("explicit (ml-100k u1..u5)", flush=True)
        report["explicit"] = explicit_benchmark(args.data_home, 1 if args.quick else 5, repeat=3,
                                                only=args.only)
    if "implicit" not in args.skip:
        print("implicit (ml-100k, per-user 80/20)", flush=True)
        report["implicit"] = implicit_benchmark(args.data_home, repeat=3)
    if args.scale:
        print("scale", flush=True)
        report["scale"] = scale_benchmark(
            [(1_000_000, 50_000, 5_000), (10_000_000, 500_000, 50_000)], args.scale_timeout)
    write_results("knn", report, to_markdown(report))


if __name__ == "__main__":
    main()

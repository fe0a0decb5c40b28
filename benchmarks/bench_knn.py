"""Benchmark ItemKNN / UserKNN against Surprise, LensKit and implicit, in one run.

Usage::

    python benchmarks/bench_knn.py --data-home ../shared/datasets [--scale] [--quick]

Every model, ours and the peers, appears twice, compared like with like:

- ``default``: the library's defaults (a peer's row names any setting it
  changes, e.g. Surprise's item-based ``pearson_baseline``, which is what
  ``ItemKNN()`` does on ratings);
- ``tuned``: the best of a grid of the **same size** for every model
  (4 candidates on ratings, 3 on implicit feedback), chosen on the same
  validation split carved from the training data only (per-user 80/20,
  seed 0), then refit on the whole training data and tested once.

1. Explicit: ml-100k canonical folds u1..u5, RMSE and fit + predict time;
   tuned rows choose per fold on a split of that fold's ``u<k>.base``.
   A pair a peer cannot score gets the training mean (LensKit leaves some
   out).
2. Implicit: ml-100k, per-user random 80/20 holdout, NDCG@10 over the full
   catalogue of unseen items, every model behind the same ``fit`` /
   ``recommend`` (``benchmarks/_peers.py``) and the package's NDCG@10
   scorer (``GridSearchCV`` for the tuned rows, on a split of the
   training part).
3. ``--scale``: implicit ItemKNN (K=100, cosine, unweighted) fit time, top-10 for 100k users
   (or all) and peak memory on ``make_interactions`` data (1M and 10M
   interactions), against implicit's CosineRecommender; both use every core
   (ours ``n_jobs=-1``, implicit's default). Without ``--scale`` the last
   scale table is kept.

Results go to ``benchmarks/results/knn.json`` and ``knn.md``. Peers that are
not installed are reported as missing. Timings are wall-clock on a shared
machine: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn.model_selection import GridSearchCV

from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.metrics import make_ranking_scorer, ndcg_at_k_score
from sklearn_recs.model_selection import PerUserShuffleSplit, train_test_split
from sklearn_recs.neighbors import ItemKNN, UserKNN

from _peers import ImplicitPeer, LensKitPeer
from _report import add_peer_ratios, best_time, machine, run_child, write_results

PREVIOUS = Path(__file__).parent / "results" / "knn.json"
# The validation split of every tuned row: per-user 80/20 of the training data.
VALIDATION = PerUserShuffleSplit(n_splits=1, test_size=0.2, random_state=0)


def _rmse(pred, truth):
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(truth)) ** 2)))


# -- explicit -----------------------------------------------------------------
def ours_predict(cls, params, train, test):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cls(**params).fit(train[["user_id", "item_id"]], train["rating"].to_numpy())
        return model.predict(test[["user_id", "item_id"]])


def surprise_predict(algo, params, train, test):
    import surprise

    sim = {"user_based": params.get("user_based", True)}
    if "name" in params:
        sim["name"] = params["name"]
    if "shrinkage" in params:
        sim["shrinkage"] = params["shrinkage"]
    knn = {key: params[key] for key in ("k", "min_k") if key in params}
    data = surprise.Dataset.load_from_df(train[["user_id", "item_id", "rating"]],
                                         surprise.Reader(rating_scale=(1, 5)))
    model = getattr(surprise, algo)(sim_options=sim, verbose=False, **knn)
    model.fit(data.build_full_trainset())
    return np.array([model.predict(u, i).est for u, i in zip(test["user_id"], test["item_id"])])


def lenskit_predict(kind, params, train, test):
    from lenskit.data import ItemList, from_interactions_df
    from lenskit.knn import ItemKNNScorer, UserKNNScorer
    from lenskit.pipeline import predict_pipeline

    # lenskit.batch.predict fails here (2025.8.1: "incompatible item lists:
    # field nbr_counts type double != int32"), so the pipeline runs per user.
    scorer = (ItemKNNScorer if kind == "item" else UserKNNScorer)(**params)
    pipe = predict_pipeline(scorer)
    pipe.train(from_interactions_df(train, user_col="user_id", item_col="item_id",
                                    rating_col="rating"))
    frames = []
    for user, items in test.groupby("user_id")["item_id"]:
        scored = pipe.run("rating-predictor", query=user,
                          items=ItemList(item_ids=items.to_numpy()))
        frames.append(pd.DataFrame({"user_id": user, "item_id": scored.ids(),
                                    "score": scored.scores()}))
    out = test[["user_id", "item_id"]].merge(pd.concat(frames), how="left",
                                             on=["user_id", "item_id"])
    return out["score"].fillna(train["rating"].mean()).to_numpy()


# name: (predict(params, train, test), default params, setting of the default row,
#        grid of 4 candidates for the tuned row)
EXPLICIT = {
    "ItemKNN (ours)": (
        lambda p, tr, te: ours_predict(ItemKNN, p, tr, te), {}, "default",
        {"shrinkage": [100.0, 200.0], "n_neighbors": [30, 60]}),
    "UserKNN (ours)": (
        lambda p, tr, te: ours_predict(UserKNN, p, tr, te), {}, "default",
        {"shrinkage": [100.0, 200.0], "n_neighbors": [30, 60]}),
    "Surprise KNNBaseline": (
        lambda p, tr, te: surprise_predict("KNNBaseline", p, tr, te),
        {"user_based": False, "name": "pearson_baseline"},
        "default, item-based pearson_baseline (as ours)",
        {"user_based": [False], "name": ["pearson_baseline"], "k": [20, 40],
         "shrinkage": [50, 100]}),
    "Surprise KNNWithMeans": (
        lambda p, tr, te: surprise_predict("KNNWithMeans", p, tr, te), {},
        "default (user-based msd)",
        {"k": [20, 40], "name": ["msd", "pearson"]}),
    "LensKit item-item": (
        lambda p, tr, te: lenskit_predict("item", p, tr, te), {}, "default",
        {"max_nbrs": [10, 20, 40, 60]}),
    "LensKit user-user": (
        lambda p, tr, te: lenskit_predict("user", p, tr, te), {}, "default",
        {"max_nbrs": [15, 30, 60, 100]}),
}


def load_folds(data_home):
    names = ["user_id", "item_id", "rating", "timestamp"]
    base = Path(data_home) / "ml-100k"
    return [(pd.read_csv(base / f"u{k}.base", sep="\t", names=names),
             pd.read_csv(base / f"u{k}.test", sep="\t", names=names)) for k in range(1, 6)]


def _candidates(grid):
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*grid.values())]


def tune_explicit(predict, grid, train):
    """The candidate of ``grid`` with the lowest RMSE on the validation split of ``train``."""
    fit_rows, val_rows = next(VALIDATION.split(train[["user_id", "item_id"]]))
    inner, val = train.iloc[fit_rows], train.iloc[val_rows]
    scores = [(_rmse(predict(params, inner, val), val["rating"]), params)
              for params in _candidates(grid)]
    return min(scores, key=lambda pair: pair[0])[1]


def explicit_benchmark(data_home, n_folds, repeat, only=None):
    folds = load_folds(data_home)[:n_folds]
    results = {}
    for name, (predict, defaults, setting, grid) in EXPLICIT.items():
        if only and not any(word in name for word in only):
            continue
        for tuned in (False, True):
            label = f"{name}, {'tuned' if tuned else 'default'}"
            per_fold = []
            try:
                for k, (train, test) in enumerate(folds, 1):
                    params = tune_explicit(predict, grid, train) if tuned else defaults
                    seconds, pred = best_time(lambda: predict(params, train, test),
                                              repeat if "(ours)" in name else 1)
                    per_fold.append({"rmse": _rmse(pred, test["rating"]), "seconds": seconds,
                                     "params": params})
                    print(f"  {label} u{k}: {per_fold[-1]}", flush=True)
            except ImportError as exc:
                results[label] = {"error": f"not installed: {exc}"}
                continue
            results[label] = {
                "setting": (f"tuned: best of {len(_candidates(grid))} on a per-user 80/20 "
                            "split of the fold's training data") if tuned else setting,
                "rmse": float(np.mean([r["rmse"] for r in per_fold])),
                "rmse_per_fold": [r["rmse"] for r in per_fold],
                "seconds": float(np.mean([r["seconds"] for r in per_fold])),
                "params": [r["params"] for r in per_fold],
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


def implicit_models():
    """name: (estimator at its defaults, setting, GridSearchCV grid of 3 candidates)."""
    models = {
        "ItemKNN (ours)": (ItemKNN(feedback="implicit"), "default",
                           {"n_neighbors": [50, 100, 200]}),
        "UserKNN (ours)": (UserKNN(feedback="implicit"), "default",
                           {"n_neighbors": [50, 100, 200]}),
    }
    try:
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender
    except ImportError as exc:
        print(f"implicit is not installed ({exc}): its models are left out", flush=True)
    else:
        models["implicit BM25Recommender"] = (
            ImplicitPeer(BM25Recommender()), "default (K=20)",
            {"algo": [BM25Recommender(K=k) for k in (50, 100, 200)]})
        models["implicit CosineRecommender"] = (
            ImplicitPeer(CosineRecommender()), "default (K=20)",
            {"algo": [CosineRecommender(K=k) for k in (50, 100, 200)]})
    try:
        from lenskit.knn import ItemKNNScorer, UserKNNScorer
    except ImportError as exc:
        print(f"LensKit is not installed ({exc}): its models are left out", flush=True)
    else:
        for label, scorer in (("item-item", ItemKNNScorer), ("user-user", UserKNNScorer)):
            models[f"LensKit {label} (implicit)"] = (
                LensKitPeer(scorer(feedback="implicit")), "default (max_nbrs=20)",
                {"scorer": [scorer(feedback="implicit", max_nbrs=n)
                            for n in (10, 20, 40)]})
    return models


def _describe(params):
    """Readable best parameters (a peer's chosen object by its neighbour count)."""
    def readable(value):
        if isinstance(value, (int, float, str, type(None))):
            return value
        if hasattr(value, "K"):  # implicit's item-item models
            return f"{type(value).__name__}(K={value.K})"
        if hasattr(value, "config"):  # LensKit scorers
            return f"{type(value).__name__}(max_nbrs={value.config.max_nbrs})"
        return repr(value)

    return {key: readable(value) for key, value in params.items()}


def implicit_benchmark(data_home, repeat):
    X_train, X_test = implicit_split(data_home)
    users = np.unique(X_test["user_id"])
    truth = _truth(X_test, users)
    results = {}
    for name, (estimator, setting, grid) in implicit_models().items():
        for tuned in (False, True):
            label = f"{name}, {'tuned' if tuned else 'default'}"
            model, params = estimator, {}
            if tuned:
                search = GridSearchCV(estimator, grid, scoring=make_ranking_scorer("ndcg", k=10),
                                      cv=VALIDATION, refit=False)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    search.fit(X_train)
                model = estimator.set_params(**search.best_params_)
                params = _describe(search.best_params_)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit_seconds, _ = best_time(lambda: model.fit(X_train), repeat)
                rec_seconds, recs = best_time(lambda: model.recommend(users, top_n=10), repeat)
            n_candidates = len(list(itertools.product(*grid.values())))
            results[label] = {
                "setting": (f"tuned: best of {n_candidates} on a per-user 80/20 split of the "
                            "training part") if tuned else setting,
                "ndcg@10": float(ndcg_at_k_score(truth, recs, k=10)),
                "fit_seconds": fit_seconds, "recommend_seconds": rec_seconds, "params": params}
            print(f"  {label}: {results[label]}", flush=True)
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
    model = ItemKNN(feedback="implicit", n_neighbors=100, weighting=None, n_jobs=-1).fit(X)
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
def _kind_tables(results, kind_note, add_table):
    """Call ``add_table(kind, rows)`` for the default rows, then the tuned rows."""
    for kind in ("default", "tuned"):
        rows = [{"model": name.rsplit(", ", 1)[0], **r} for name, r in results.items()
                if name.endswith(", " + kind)]
        if rows:
            add_table(kind, rows, kind_note[kind])


def to_markdown(report):
    lines = ["# KNN benchmark", "", f"Machine: {report['machine']}", "",
             "Every model twice, like with like: at its library's defaults (a peer's "
             "setting names what it changes), and tuned, the best of a grid of the same "
             "size for every model chosen on the same validation split carved from the "
             "training data (never the test data). Ratios divide by the best peer of the "
             "same table.", ""]
    explicit_notes = {"default": "every model at its defaults",
                      "tuned": "4 candidates each, chosen per fold on a per-user 80/20 "
                               "split of that fold's u<k>.base"}

    def explicit_table(kind, rows, note):
        best = add_peer_ratios(rows, metric="rmse", times=("seconds",), greater_is_better=False,
                               is_peer=lambda row: "(ours)" not in row["model"])
        lines.extend([f"## Explicit, {kind}: ml-100k u1..u5 ({note})", "",
                      f"Best peer (lowest RMSE): {best}.", "",
                      "| model | setting | mean RMSE | RMSE per fold | fit + predict (s, mean "
                      "per fold) | RMSE / best peer | time / best peer |",
                      "| --- | --- | --- | --- | --- | --- | --- |"])
        for r in rows:
            if "error" in r:
                lines.append(f"| {r['model']} | {r['error']} | | | | | |")
                continue
            folds = ", ".join(f"{v:.4f}" for v in r["rmse_per_fold"])
            setting = r["setting"] if kind == "default" else "tuned"
            lines.append(f"| {r['model']} | {setting} | {r['rmse']:.4f} | {folds} | "
                         f"{r['seconds']:.3f} | {r['rmse / best peer']:.3f} | "
                         f"{r['seconds / best peer']:.2f} |")
        lines.append("")

    implicit_notes = {"default": "every model at its defaults",
                      "tuned": "3 candidates each, GridSearchCV with NDCG@10 on a per-user "
                               "80/20 split of the training part"}

    def implicit_table(kind, rows, note):
        best = add_peer_ratios(rows, metric="ndcg@10",
                               times=("fit_seconds", "recommend_seconds"),
                               is_peer=lambda row: "(ours)" not in row["model"])
        lines.extend([f"## Implicit, {kind}: ml-100k per-user 80/20, full-catalogue NDCG@10 "
                      f"({note})", "", f"Best peer (highest NDCG@10): {best}.", "",
                      "| model | setting | NDCG@10 | fit (s) | top-10 for all users (s) | "
                      "NDCG / best peer | fit / best peer | top-10 / best peer |",
                      "| --- | --- | --- | --- | --- | --- | --- | --- |"])
        for r in rows:
            setting = r["setting"] if kind == "default" else f"tuned: {r['params']}"
            lines.append(f"| {r['model']} | {setting} | {r['ndcg@10']:.4f} | "
                         f"{r['fit_seconds']:.3f} | {r['recommend_seconds']:.3f} | "
                         f"{r['ndcg@10 / best peer']:.2f} | {r['fit_seconds / best peer']:.2f} | "
                         f"{r['recommend_seconds / best peer']:.2f} |")
        lines.append("")

    _kind_tables(report.get("explicit", {}), explicit_notes, explicit_table)
    _kind_tables(report.get("implicit", {}), implicit_notes, implicit_table)
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
    previous = json.loads(PREVIOUS.read_text()) if PREVIOUS.exists() else {}
    for section in args.skip:  # keep the last run's table of a skipped section
        if section in previous:
            report[section] = previous[section]
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
    elif "scale" in previous:  # keep the last --scale run's table
        report["scale"] = previous["scale"]
    write_results("knn", report, to_markdown(report))


if __name__ == "__main__":
    main()

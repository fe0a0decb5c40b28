"""Benchmark of the matrix factorisation estimators, side by side with peers.

Usage::

    python benchmarks/bench_mf.py rmse      # ml-100k u1..u5 RMSE + fit time, vs Surprise
    python benchmarks/bench_mf.py implicit  # ml-100k per-user 80/20 NDCG@10 and LOO HR/NDCG@10
    python benchmarks/bench_mf.py scale N   # per-epoch time / peak memory on N synthetic rows

Results are appended to ``benchmarks/results/mf.jsonl``; the latest run of
each mode is written to ``mf.json`` and as tables to ``mf.md``. Data: the shared
MovieLens files (``SKLEARN_RECS_DATA`` or ``../shared/datasets``). Every
model is measured in the same process run, so ratios are comparable even on
a shared machine; absolute times are noisy.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from _peers import ImplicitPeer
from _report import add_peer_ratios, markdown_table

warnings.simplefilter("ignore")
HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("SKLEARN_RECS_DATA", HERE.parents[1] / "shared" / "datasets"))
RESULTS = HERE / "results" / "mf.jsonl"
# Validation grid of the implicit benchmark: the defaults and two neighbours.
IMPLICIT_GRID = [{}, {"n_factors": 128}, {"alpha": 0.005}]
NAMES = ["user_id", "item_id", "rating", "timestamp"]


def record(entry):
    RESULTS.parent.mkdir(exist_ok=True)
    entry["when"] = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(RESULTS, "a") as f:
        f.write(json.dumps(entry) + "\n")
    print(json.dumps(entry), flush=True)
    print(write_summary(), flush=True)


def _latest():
    """The last entry of each mode (scale: of each size) in ``mf.jsonl``."""
    latest = {}
    for line in RESULTS.read_text().splitlines():
        entry = json.loads(line)
        key = entry["bench"] + (f"_{entry['n']}" if entry["bench"] == "scale" else "")
        latest[key] = entry
    return latest


def write_summary():
    """Write ``mf.json`` (latest entries) and ``mf.md`` (tables, returned)."""
    latest = _latest()
    (RESULTS.parent / "mf.json").write_text(json.dumps(latest, indent=2))
    out = ["# Matrix factorisation benchmark\n",
           "Every row's peers ran in the same process run (2 shared CPU cores, one "
           "torch thread); see `bench_mf.py`.\n"]
    r = latest.get("ml100k_rmse")
    if r:
        out.append(f"## Explicit: ml-100k u1..u5 ({r['when']})\n")
        rows = [{"model": name, "rmse": r[f"{key}_rmse"], "fit": r[f"{key}_fit_s"]}
                for name, key in [("MatrixFactorization (ours)", "mf"), ("Surprise SVD", "svd"),
                                  ("Surprise SVD++ (fold 1)", "svdpp")]
                if f"{key}_rmse" in r]
        # SVD++ ran on fold 1 only: not comparable with the means over five folds.
        best = add_peer_ratios(rows, metric="rmse", times=("fit",), greater_is_better=False,
                               is_peer=lambda row: row["model"] == "Surprise SVD")
        out.append(f"Ratios divide by the best peer (lowest RMSE): {best}.\n")
        out.append(markdown_table(
            ["model", "mean RMSE", "fit (s, mean per fold)", "RMSE / best peer",
             "fit / best peer"],
            [[row["model"], f"{row['rmse']:.4f}", f"{row['fit']:.2f}",
              f"{row['rmse / best peer']:.3f}", f"{row['fit / best peer']:.2f}"]
             for row in rows]))
        out.append(f"\nFit time ratio ours / SVD (median over folds): "
                   f"{r['fit_ratio_mf_over_svd']:.2f}\n")
    r = latest.get("ml100k_implicit")
    if r:
        out.append(f"## Implicit: ml-100k per-user 80/20, full-catalogue ranking ({r['when']})\n")
        out.append(f"Settings chosen on a validation split of the training part: "
                   f"`{json.dumps(r['chosen'])}` (validation NDCG@10 {r['val_ndcg']:.4f}).\n")
        rows = [{"model": name, "ndcg": r[key + "_ndcg10"], "fit": r[key + "_fit_s"]}
                for name, key in [("ImplicitMatrixFactorization (ours)", "mf"),
                                  ("implicit BPR", "implicit_bpr"),
                                  ("implicit ALS", "implicit_als")]]
        best = add_peer_ratios(rows, metric="ndcg", times=("fit",),
                               is_peer=lambda row: "(ours)" not in row["model"])
        out.append(f"Ratios divide by the best peer (highest NDCG@10): {best}.\n")
        out.append(markdown_table(
            ["model", "NDCG@10", "fit (s)", "NDCG / best peer", "fit / best peer"],
            [[row["model"], f"{row['ndcg']:.4f}", f"{row['fit']:.2f}",
              f"{row['ndcg / best peer']:.2f}", f"{row['fit / best peer']:.2f}"]
             for row in rows]))
        out.append("\nPer-user temporal leave-last-one-out:\n\n")
        out.append(markdown_table(["model", "HR@10", "NDCG@10"], [
            ["ImplicitMatrixFactorization (ours)", f"{r['loo_hr10']:.4f}",
             f"{r['loo_ndcg10']:.4f}"],
            ["implicit BPR", f"{r['loo_implicit_bpr_hr10']:.4f}",
             f"{r['loo_implicit_bpr_ndcg10']:.4f}"]]))
    scale = sorted((v for k, v in latest.items() if k.startswith("scale_")),
                   key=lambda e: e["n"])
    if scale:
        out.append("## Scale: synthetic interactions, one epoch\n")
        rows = [[f"{e['n']:,}", f"{e['n_users']:,} x {e['n_items']:,}",
                 f"{e['mf_epoch_s']:.2f}", f"{e['bpr_epoch_s']:.2f}",
                 f"{e.get('surprise_svd_epoch_s', float('nan')):.2f}",
                 f"{e.get('ratio_mf_over_svd_epoch', float('nan')):.2f}",
                 f"{e.get('ratio_bpr_over_svd_epoch', float('nan')):.2f}",
                 f"{e['rss_before_fit_mb'] / 1024:.2f}", f"{e['peak_rss_mb'] / 1024:.2f}",
                 f"{e['recommend_s_users'][0]:.1f} ({e['recommend_s_users'][1]:,} users)"]
                for e in scale]
        out.append(markdown_table(["rows", "users x items", "MF epoch (s)", "BPR epoch (s)",
                           "Surprise SVD epoch (s)", "MF / SVD", "BPR / SVD",
                           "RSS before fit (GiB)", "peak RSS (GiB)",
                           "recommend top-10 (s)"], rows))
    text = "\n".join(out)
    (RESULTS.parent / "mf.md").write_text(text)
    return text


def fold(k):
    tr = pd.read_csv(DATA / "ml-100k" / f"u{k}.base", sep="\t", names=NAMES)
    te = pd.read_csv(DATA / "ml-100k" / f"u{k}.test", sep="\t", names=NAMES)
    return tr, te


def bench_rmse(folds=(1, 2, 3, 4, 5), svdpp_folds=(1,)):
    from surprise import SVD, Dataset, Reader, SVDpp

    from sklearn_recs.neural import MatrixFactorization

    reader = Reader(rating_scale=(1, 5))
    # warm-up: the first torch optimizer construction imports torch._dynamo (~1.5 s)
    tr, _ = fold(1)
    MatrixFactorization(max_epochs=1).fit(tr[["user_id", "item_id"]][:1000], tr.rating[:1000])
    rows = []
    for k in folds:
        tr, te = fold(k)
        res = {"fold": k}
        t = time.perf_counter()
        model = MatrixFactorization(random_state=0).fit(tr[["user_id", "item_id"]], tr.rating)
        res["mf_fit_s"] = time.perf_counter() - t
        pred = model.predict(te[["user_id", "item_id"]])
        res["mf_rmse"] = float(np.sqrt(np.mean((pred - te.rating) ** 2)))
        train = Dataset.load_from_df(tr[["user_id", "item_id", "rating"]], reader).build_full_trainset()
        peers = [("svd", SVD(random_state=0))]
        if k in svdpp_folds:
            peers.append(("svdpp", SVDpp(random_state=0)))
        for name, algo in peers:
            t = time.perf_counter()
            algo.fit(train)
            res[f"{name}_fit_s"] = time.perf_counter() - t
            est = np.array([algo.predict(u, i).est for u, i in zip(te.user_id, te.item_id)])
            res[f"{name}_rmse"] = float(np.sqrt(np.mean((est - te.rating) ** 2)))
        print(res, flush=True)
        rows.append(res)
    df = pd.DataFrame(rows)
    summary = {"bench": "ml100k_rmse", "folds": list(folds), **df.mean().drop("fold").round(4).to_dict(),
               "mf_fit_s_median": float(df.mf_fit_s.median()),
               "svd_fit_s_median": float(df.svd_fit_s.median()),
               "fit_ratio_mf_over_svd": float((df.mf_fit_s / df.svd_fit_s).median())}
    record(summary)


def _holdout(df, fraction, seed):
    from sklearn_recs.neural._data import per_user_split

    codes = pd.factorize(df.user_id)[0]
    test = per_user_split(codes, fraction, np.random.RandomState(seed))
    return df[~test], df[test]


def ndcg_hr(model, train, test, k=10):
    users = np.unique(test.user_id)
    recs = model.recommend(users, top_n=k)
    relevant = test.groupby("user_id").item_id.apply(set)
    disc = 1 / np.log2(np.arange(2, k + 2))
    ndcg, hr = [], []
    for u, row in zip(users, recs):
        rel = relevant[u]
        hits = np.array([i in rel for i in row], dtype=float)
        ideal = disc[:min(len(rel), k)].sum()
        ndcg.append((hits * disc).sum() / ideal)
        hr.append(float(hits.any()))
    return float(np.mean(ndcg)), float(np.mean(hr))


def bench_implicit(configs=IMPLICIT_GRID):
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking

    from sklearn_recs.neural import ImplicitMatrixFactorization

    df = pd.read_csv(DATA / "ml-100k" / "u.data", sep="\t", names=NAMES)
    train, test = _holdout(df, 0.2, 0)
    fit_tr, val = _holdout(train, 0.125, 1)  # validation inside the training part
    best, best_val = None, -1
    for cfg in configs:
        t = time.perf_counter()
        m = ImplicitMatrixFactorization(random_state=0, **cfg).fit(fit_tr[["user_id", "item_id"]])
        v = ndcg_hr(m, fit_tr, val)[0]
        print("val", cfg, round(v, 4), round(time.perf_counter() - t, 1), flush=True)
        if v > best_val:
            best, best_val = cfg, v
    res = {"bench": "ml100k_implicit", "chosen": best, "val_ndcg": best_val}
    t = time.perf_counter()
    m = ImplicitMatrixFactorization(random_state=0, **best).fit(train[["user_id", "item_id"]])
    res["mf_fit_s"] = time.perf_counter() - t
    res["mf_ndcg10"], res["mf_hr10"] = ndcg_hr(m, train, test)
    for name, algo in [("implicit_bpr", BayesianPersonalizedRanking(factors=64, random_state=0)),
                       ("implicit_als", AlternatingLeastSquares(factors=64, regularization=0.05,
                                                                random_state=0))]:
        t = time.perf_counter()
        w = ImplicitPeer(algo).fit(train[["user_id", "item_id"]])
        res[f"{name}_fit_s"] = time.perf_counter() - t
        res[f"{name}_ndcg10"] = ndcg_hr(w, train, test)[0]
    # per-user temporal leave-last-one-out
    order = df.sort_values(["user_id", "timestamp", "item_id"])
    last = order.groupby("user_id").tail(1)
    loo_train = order.drop(last.index)
    m = ImplicitMatrixFactorization(random_state=0, **best).fit(loo_train[["user_id", "item_id"]])
    res["loo_ndcg10"], res["loo_hr10"] = ndcg_hr(m, loo_train, last)
    w = ImplicitPeer(BayesianPersonalizedRanking(factors=64, random_state=0)).fit(
        loo_train[["user_id", "item_id"]])
    res["loo_implicit_bpr_ndcg10"], res["loo_implicit_bpr_hr10"] = ndcg_hr(w, loo_train, last)
    record(res)


def bench_scale(n, epochs=1, peers=True):
    from sklearn_recs.datasets import make_interactions
    from sklearn_recs.neural import ImplicitMatrixFactorization, MatrixFactorization

    n_users, n_items = max(n // 20, 100), max(n // 200, 50)
    X, y = make_interactions(n_users, n_items, n, random_state=0, return_X_y=True,
                             with_timestamps=False)
    X = np.asarray(X)[:, :2].astype(np.int64)
    y = np.asarray(y, dtype=np.float64)
    res = {"bench": "scale", "n": n, "n_users": n_users, "n_items": n_items}
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    m = MatrixFactorization(max_epochs=epochs, random_state=0).fit(X, y)
    res["mf_fit_s"] = time.perf_counter() - t
    res["mf_epoch_s"] = float(np.mean(m.history_[:, "dur"]))
    res["mf_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res["rss_before_fit_mb"] = rss0
    del m
    t = time.perf_counter()
    m = ImplicitMatrixFactorization(max_epochs=epochs, n_negatives=1, batch_size=4096,
                                    random_state=0).fit(X)
    res["bpr_fit_s"] = time.perf_counter() - t
    res["bpr_epoch_s"] = float(np.mean(m.history_[:, "dur"]))
    t = time.perf_counter()
    users = m.users_[:min(100_000, m.n_users_)]
    m.recommend(users, top_n=10)
    res["recommend_s_users"] = [time.perf_counter() - t, len(users)]
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del m
    if peers:
        from surprise import SVD, Dataset, Reader

        frame = pd.DataFrame({"u": X[:, 0], "i": X[:, 1], "r": y})
        train = Dataset.load_from_df(frame, Reader(rating_scale=(1, 5))).build_full_trainset()
        algo = SVD(n_epochs=epochs, random_state=0)
        t = time.perf_counter()
        algo.fit(train)
        res["surprise_svd_epoch_s"] = (time.perf_counter() - t) / epochs
        res["ratio_mf_over_svd_epoch"] = res["mf_epoch_s"] / res["surprise_svd_epoch_s"]
        res["ratio_bpr_over_svd_epoch"] = res["bpr_epoch_s"] / res["surprise_svd_epoch_s"]
    record(res)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "rmse"
    if what == "rmse":
        bench_rmse()
    elif what == "implicit":
        bench_implicit(json.loads(sys.argv[2]) if len(sys.argv) > 2 else IMPLICIT_GRID)
    elif what == "scale":
        bench_scale(int(sys.argv[2]), epochs=int(sys.argv[3]) if len(sys.argv) > 3 else 1)

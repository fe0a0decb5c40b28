"""Benchmark of the NCF models (GMF, MLP, NeuMF) and two-tower retrieval, beside peers.

Usage::

    python benchmarks/bench_ncf.py [--device cuda] [--only ranking,loo,rmse]

- ``ranking``: ml-100k, per-user random 80/20 holdout, full-catalogue
  NDCG@10 / HR@10 and fit time, beside this package's implicit MF and
  ItemKNN and implicit's BPR and ALS; training throughput (samples/s).
- ``loo``: per-user temporal leave-last-one-out, full-catalogue HR@10 /
  NDCG@10 and the NCF paper's sampled 1 + 99 protocol (for scale only: the
  paper's ML-1M NeuMF reaches HR@10 0.726 / NDCG@10 0.445 on it).
- ``rmse``: rating regression on the canonical folds u1..u5, MLP beside
  MatrixFactorization and ItemKNN.

Every model runs in the same process, so ratios are comparable on a shared
machine; run it under ``flock /tmp/bench.lock``. Results go to
``benchmarks/results/ncf.json`` and ``ncf.md``. Data through
``fetch_movielens("100k")`` (``SKLEARN_RECS_DATA``).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from _peers import ImplicitPeer
from _report import add_peer_ratios

warnings.simplefilter("ignore")
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# The estimators' defaults were chosen on a validation split inside the 80%
# training part (seed 1, 12.5%); the pre-trained NeuMF fine-tunes with SGD,
# as in the paper.


def implicit_models(device):
    from sklearn_recs.neighbors import ItemKNN
    from sklearn_recs.neural import GMF, MLP, ImplicitMatrixFactorization, NeuMF, TwoTower

    torch_kw = dict(device=device, random_state=0)
    models = {
        "GMF": GMF(**torch_kw),
        "MLP": MLP(**torch_kw),
        "NeuMF": NeuMF(**torch_kw),
        "NeuMF (pre-trained)": NeuMF(gmf=GMF(), mlp=MLP(), optimizer="sgd", lr=0.002,
                                     max_epochs=4, **torch_kw),
        "TwoTower": TwoTower(**torch_kw),
        "ImplicitMF (BPR)": ImplicitMatrixFactorization(**torch_kw),
        "ItemKNN (bm25)": ItemKNN(feedback="implicit", weighting="bm25", n_neighbors=200),
    }
    try:
        from implicit.als import AlternatingLeastSquares
        from implicit.bpr import BayesianPersonalizedRanking
    except ImportError:
        print("implicit is not installed: its BPR and ALS are left out", flush=True)
        return models
    models["implicit BPR"] = ImplicitPeer(BayesianPersonalizedRanking(factors=64,
                                                                      random_state=0))
    models["implicit ALS"] = ImplicitPeer(AlternatingLeastSquares(
        factors=64, regularization=0.05, random_state=0))
    return models


def fit_timed(model, X, y=None):
    start = time.perf_counter()
    model.fit(X) if y is None else model.fit(X, y)
    return model, time.perf_counter() - start


def throughput(model, n_rows):
    """Training (user, item) scores per second, from skorch's epoch durations."""
    if not hasattr(model, "history_"):
        return None
    per_row = 1 + getattr(model, "n_negatives", 0)
    return n_rows * per_row / float(np.median(model.history_[:, "dur"]))


def bench_ranking(X, device):
    from sklearn_recs.metrics import get_scorer
    from sklearn_recs.neural._data import per_user_split

    test = per_user_split(pd.factorize(X.user_id)[0], 0.2, np.random.RandomState(0))
    train, held_out = X[~test], X[test]
    ndcg, hr = get_scorer("ndcg@10"), get_scorer("hit_rate@10")
    rows = []
    for name, model in implicit_models(device).items():
        model, seconds = fit_timed(model, train)
        rows.append({"model": name, "ndcg@10": ndcg(model, held_out),
                     "hr@10": hr(model, held_out), "fit_s": seconds,
                     "samples_per_s": throughput(model, len(train))})
        print(rows[-1], flush=True)
    return rows


def bench_loo(X, device):
    from sklearn_recs.metrics import get_scorer, sampled_ranking_score

    order = X.sort_values(["user_id", "timestamp", "item_id"])
    last = order.groupby("user_id").tail(1)
    train = order.drop(last.index)
    ndcg, hr = get_scorer("ndcg@10"), get_scorer("hit_rate@10")
    rows = []
    for name, model in implicit_models(device).items():
        model, seconds = fit_timed(model, train)
        sampled = {m: sampled_ranking_score(model, last, metric=m, k=10, random_state=0)
                   if hasattr(model, "predict") else None for m in ("hit_rate", "ndcg")}
        rows.append({"model": name, "loo_hr@10": hr(model, last),
                     "loo_ndcg@10": ndcg(model, last), "sampled_hr@10": sampled["hit_rate"],
                     "sampled_ndcg@10": sampled["ndcg"], "fit_s": seconds})
        print(rows[-1], flush=True)
    return rows


def bench_rmse(data, device):
    from sklearn_recs.neighbors import ItemKNN
    from sklearn_recs.neural import MLP, MatrixFactorization

    X, y = data.data[["user_id", "item_id"]], data.target.to_numpy()
    models = {
        "MLP (ratings)": lambda: MLP(feedback="explicit", mlp_factors=32,
                                     hidden_layers=(64, 32), dropout=0.2, max_epochs=6,
                                     batch_size=1024, lr=0.002, y_range=(0.5, 5.5),
                                     device=device, random_state=0),
        "MatrixFactorization": lambda: MatrixFactorization(device=device, random_state=0),
        "ItemKNN (pearson_baseline)": lambda: ItemKNN(
            similarity="pearson_baseline", shrinkage=400, n_neighbors=60, n_stored_neighbors=400),
    }
    rows = []
    for name, make in models.items():
        rmses, times = [], []
        for train, test in data.folds:
            model, seconds = fit_timed(make(), X.iloc[train], y[train])
            rmses.append(float(np.sqrt(np.mean((model.predict(X.iloc[test]) - y[test]) ** 2))))
            times.append(seconds)
        rows.append({"model": name, "rmse_u1_u5": float(np.mean(rmses)),
                     "rmse_per_fold": [round(r, 4) for r in rmses],
                     "fit_s_median": float(np.median(times))})
        print(rows[-1], flush=True)
    return rows


def markdown(results):
    lines = [f"# NCF and two-tower benchmark ({results['device']}, {results['when']})", ""]
    for part, rows in results["parts"].items():
        metric = next(key for key in rows[0] if "ndcg" in key or "rmse" in key)
        rows = [dict(row) for row in rows]
        best = add_peer_ratios(rows, metric=metric, times=[k for k in rows[0] if "fit_s" in k],
                               is_peer=lambda row: row["model"].startswith("implicit"))
        frame = pd.DataFrame(rows).round(4)
        lines += [f"## {part}", ""]
        if best:
            lines += [f"Ratios divide by the best peer ({metric}): {best}.", ""]
        lines += [frame.to_markdown(index=False), ""]
    return "\n".join(lines)


def main():
    import torch

    from sklearn_recs.datasets import fetch_movielens

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", default="ranking,loo,rmse")
    args = parser.parse_args()
    data = fetch_movielens("100k", folds=True)
    X = data.data
    # warm-up, not timed: the first optimizer imports torch._dynamo (seconds)
    from sklearn_recs.neural import GMF

    GMF(max_epochs=1, device=args.device).fit(X.iloc[:1000])
    parts = {}
    benches = {"ranking": lambda: bench_ranking(X, args.device),
               "loo": lambda: bench_loo(X, args.device),
               "rmse": lambda: bench_rmse(data, args.device)}
    for part in args.only.split(","):
        parts[part] = benches[part]()
    results = {"device": args.device if args.device == "cpu" else torch.cuda.get_device_name(),
               "torch_threads": torch.get_num_threads(),
               "when": time.strftime("%Y-%m-%d %H:%M:%S"), "parts": parts}
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if args.device == "cpu" else "_" + args.device.replace(":", "")
    (RESULTS / f"ncf{suffix}.json").write_text(json.dumps(results, indent=1))
    (RESULTS / f"ncf{suffix}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()

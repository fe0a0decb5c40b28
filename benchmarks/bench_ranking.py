"""Full-catalogue ranking under two protocols, this package's implicit models beside peers.

Usage::

    flock /tmp/bench.lock python benchmarks/bench_ranking.py [--datasets ml-100k ml-latest-small]
        [--protocols holdout leave-last-out] [--only NAME ...]

For ml-100k and ml-latest-small, and for each protocol of the
``python -m sklearn_recs evaluate`` leaderboard:

- ``holdout``: per-user random 80/20 (``PerUserShuffleSplit``, seed 0);
- ``leave-last-out``: each user's latest interaction is the test set
  (``LeaveLastOut``; users with one interaction stay in training).

every model is fitted on the same training part with its default settings
(neural models ``random_state=0``) and ranks the whole catalogue, less the
user's training items, for each test user: NDCG@10 and recall@10 from
``sklearn_recs.metrics``, fit and recommend seconds, all through the
leaderboard's ``evaluate_split``. The peers (the ``implicit`` library's
ALS, BPR, cosine and BM25 item-item; LensKit's item-item and user-user,
implicit feedback; skrecsys' EASE, item-KNN and popularity), every one at
its defaults like ours (no row is tuned; implicit's ALS and BPR take
``factors=64``, the ``n_factors`` of ours, which each row's ``setting``
says), run in the same process behind the same ``fit`` /
``recommend`` calls (``benchmarks/_peers.py``), so their numbers are
measured exactly as ours. Each table divides NDCG@10 and the times by
those of the best peer (highest NDCG@10) of the same run.

Results go to ``benchmarks/results/ranking.json`` and ``ranking.md``.
Timings are wall-clock on a shared machine: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from _peers import ImplicitPeer, LensKitPeer, SkrecsysPeer
from _report import add_peer_ratios, machine, markdown_table, write_results

from sklearn_recs._leaderboard import evaluate_split, make_splits
from sklearn_recs.datasets import fetch_movielens

DATASETS = {"ml-100k": "100k", "ml-latest-small": "latest-small"}
PROTOCOLS = ("holdout", "leave-last-out")
PEER_SUFFIX = " (peer)"
# Each row's setting: every model at its defaults, except these stated changes.
SETTINGS = {"implicit ALS": "default, factors=64 (as ours)",
            "implicit BPR": "default, factors=64 (as ours)"}


def models() -> dict:
    """This package's main implicit models with their defaults, then the peers."""
    from sklearn_recs.baselines import Popularity
    from sklearn_recs.linear_model import EASE
    from sklearn_recs.neighbors import ItemKNN, UserKNN
    from sklearn_recs.neural import ImplicitMatrixFactorization, NeuMF, TwoTower

    ours = {
        "Popularity": Popularity(),
        "ItemKNN": ItemKNN(feedback="implicit"),
        "UserKNN": UserKNN(feedback="implicit"),
        "EASE": EASE(),
        "ImplicitMatrixFactorization": ImplicitMatrixFactorization(random_state=0),
        "NeuMF": NeuMF(random_state=0),
        "TwoTower": TwoTower(random_state=0),
    }
    return {**ours, **{name + PEER_SUFFIX: model for name, model in peers().items()}}


def peers() -> dict:
    """The peers that are installed: implicit's ALS, BPR and item-item, LensKit's KNN."""
    found = {}
    try:
        from implicit.als import AlternatingLeastSquares
        from implicit.bpr import BayesianPersonalizedRanking
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender
    except ImportError as exc:
        print(f"implicit is not installed ({exc}): its models are left out", flush=True)
    else:
        found.update({
            "implicit ALS": ImplicitPeer(AlternatingLeastSquares(factors=64, random_state=0)),
            "implicit BPR": ImplicitPeer(BayesianPersonalizedRanking(factors=64,
                                                                     random_state=0)),
            "implicit cosine": ImplicitPeer(CosineRecommender()),
            "implicit BM25": ImplicitPeer(BM25Recommender()),
        })
    try:
        from lenskit.knn import ItemKNNScorer, UserKNNScorer
    except ImportError as exc:
        print(f"LensKit is not installed ({exc}): its models are left out", flush=True)
    else:
        found.update({
            "LensKit item-item": LensKitPeer(ItemKNNScorer(feedback="implicit")),
            "LensKit user-user": LensKitPeer(UserKNNScorer(feedback="implicit")),
        })
    try:
        from skrecsys.recommendation import EASE, ItemKNNRecommender, MostPopularRecommender
    except ImportError as exc:
        print(f"skrecsys is not installed ({exc}): its models are left out", flush=True)
    else:
        found.update({
            "skrecsys EASE": SkrecsysPeer(EASE()),
            "skrecsys item-KNN": SkrecsysPeer(ItemKNNRecommender()),
            "skrecsys popularity": SkrecsysPeer(MostPopularRecommender()),
        })
    return found


def run(dataset: str, protocol: str, only) -> dict:
    """One table: every model on the same split of ``dataset`` under ``protocol``."""
    X = fetch_movielens(DATASETS[dataset]).data[["user_id", "item_id", "timestamp"]]
    (train, test), = make_splits(X, protocol, random_state=0)
    rows = []
    for name, model in models().items():
        if only and name not in only:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = evaluate_split(model, X.iloc[train], None, X.iloc[test], None, k=10)
        setting = SETTINGS.get(name.removesuffix(PEER_SUFFIX), "default")
        rows.append({"model": name, "setting": setting, "ndcg@10": scores["ndcg@10"],
                     "recall@10": scores["recall@10"], "fit_s": scores["fit_s"],
                     "recommend_s": scores["recommend_s"]})
        print(f"  {name}: {rows[-1]}", flush=True)
    best = add_peer_ratios(rows, metric="ndcg@10", times=("fit_s", "recommend_s"),
                           is_peer=lambda row: row["model"].endswith(PEER_SUFFIX))
    return {"n_train": len(train), "n_test_users": int(X.iloc[test]["user_id"].nunique()),
            "best_peer": best, "rows": rows}


def to_markdown(report: dict) -> str:
    lines = ["# Ranking protocols", "", f"Machine: {report['machine']} ({report['when']})", "",
             "Full-catalogue top-10 (each user's training items left out). Every row, "
             "ours and peers, runs at its library's defaults (the setting column names "
             "any change); none is tuned. "
             "Ratios divide by the best peer of the same table (highest NDCG@10): NDCG "
             "above 1 beats it, times below 1 are faster.", ""]
    header = ["model", "setting", "NDCG@10", "recall@10", "fit (s)", "recommend (s)",
              "NDCG / best peer", "fit / best peer", "recommend / best peer"]
    keys = ["model", "setting", "ndcg@10", "recall@10", "fit_s", "recommend_s", "ndcg@10 / best peer",
            "fit_s / best peer", "recommend_s / best peer"]
    for title, table in report["tables"].items():
        lines += [f"## {title}", "",
                  f"{table['n_train']:,} training rows, {table['n_test_users']:,} test users; "
                  f"best peer: {table['best_peer']}.", "",
                  markdown_table(header, [[row.get(key) for key in keys]
                                          for row in table["rows"]])]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--protocols", nargs="*", choices=PROTOCOLS, default=list(PROTOCOLS))
    parser.add_argument("--only", nargs="*", default=None, help="model names to run")
    args = parser.parse_args(argv)
    # Warm-up, not timed: the first torch optimizer imports torch._dynamo (seconds).
    from sklearn_recs.neural import GMF

    GMF(max_epochs=1).fit(np.array([[0, 0], [0, 1], [1, 1]]))
    report = {"machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M"), "tables": {}}
    start = time.perf_counter()
    for dataset in args.datasets:
        for protocol in args.protocols:
            print(f"{dataset}, {protocol}", flush=True)
            report["tables"][f"{dataset}, {protocol}"] = run(dataset, protocol, args.only)
    report["seconds"] = time.perf_counter() - start
    write_results("ranking", report, to_markdown(report))


if __name__ == "__main__":
    main()

"""Test figures of the constructor defaults chosen by ``select_defaults.py``.

Usage::

    python benchmarks/bench_defaults.py [--datasets ml-100k ml-latest-small]
        [--only NAME ...]

Every model runs with its defaults (``random_state=0`` where it has one;
the "chosen on" column names the select_defaults.py entry behind them),
never tuned here: ``select_defaults.py`` chose those defaults on validation
data carved from training data, and this script only reports test figures.

- ratings: mean RMSE over ml-100k's canonical folds u1-u5 (over a per-user
  5-fold split of ml-latest-small), each model fitted on the ratings;
- rankings: NDCG@10 over the full catalogue less the training items, on the
  per-user random 80/20 split (seed 0), each model fitted on the
  interactions (``y=None``).

The content model is fitted with the data set's genres and year (genres,
tags and title on ml-latest-small). Each row is compared with the
reference of its task (``BiasBaseline`` for ratings, ``Popularity`` for
rankings): ``ratio`` is the model's figure over the reference's. Results go
to ``benchmarks/results/defaults_test.json`` and ``defaults_test.md``.
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np

from _report import RESULTS, machine, markdown_table, write_results

from sklearn_recs._leaderboard import evaluate_split, make_splits
from sklearn_recs.datasets import fetch_movielens

DEFAULTS = json.loads((RESULTS / "defaults.json").read_text())
DATASETS = {"ml-100k": "100k", "ml-latest-small": "latest-small"}
FEATURES = {"ml-100k": ["genres", "year"], "ml-latest-small": ["genres", "tags", "title"]}


def models() -> dict:
    """``name: (task, estimator)``: every estimator at its defaults."""
    from sklearn_recs.baselines import BiasBaseline, Popularity
    from sklearn_recs.content import ContentRecommender
    from sklearn_recs.decomposition import ImplicitALS
    from sklearn_recs.linear_model import EASE, SLIM
    from sklearn_recs.neighbors import ItemKNN, RP3Beta, UserKNN
    from sklearn_recs.neural import ImplicitMatrixFactorization, MatrixFactorization, TwoTower

    return {
        "BiasBaseline": ("rating", BiasBaseline()),
        "ItemKNN": ("rating", ItemKNN()),
        "UserKNN": ("rating", UserKNN()),
        "ContentRecommender": ("rating", ContentRecommender()),
        "MatrixFactorization": ("rating", MatrixFactorization(random_state=0)),
        "Popularity": ("ranking", Popularity()),
        "EASE": ("ranking", EASE()),
        "ItemKNN (implicit)": ("ranking", ItemKNN(feedback="implicit")),
        "UserKNN (implicit)": ("ranking", UserKNN(feedback="implicit")),
        "ImplicitALS": ("ranking", ImplicitALS(random_state=0)),
        "SLIM": ("ranking", SLIM()),
        "RP3Beta": ("ranking", RP3Beta()),
        "ImplicitMatrixFactorization": ("ranking", ImplicitMatrixFactorization(random_state=0)),
        "TwoTower": ("ranking", TwoTower(random_state=0)),
        "ContentRecommender (implicit)": ("ranking", ContentRecommender(feedback="implicit")),
    }


def _chosen_on(name: str) -> str:
    """Where the row's defaults come from: a select_defaults.py entry, or none."""
    entry = DEFAULTS.get(name)
    if entry is None:
        return "no search (fixed defaults)"
    return f"ml-100k validation, {entry['metric']} (select_defaults.py)"


def _take(data, rows):
    return data.iloc[rows] if hasattr(data, "iloc") else data[rows]


def run(dataset: str, only: list | None) -> list[dict]:
    bunch = fetch_movielens(DATASETS[dataset], folds=dataset == "ml-100k")
    X, y = bunch.data, bunch.target
    fit_params = {"item_features": bunch.item_info[FEATURES[dataset]]}
    splits = {"rating": make_splits(X, "folds", folds=bunch.get("folds")),
              "ranking": make_splits(X, "holdout")}
    rows = []
    for name, (task, model) in models().items():
        if only and name not in only and name not in ("BiasBaseline", "Popularity"):
            continue
        params = fit_params if name.startswith("Content") else None
        scores = []
        for train, test in splits[task]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = evaluate_split(model, _take(X, train), _take(y, train),
                                        _take(X, test), _take(y, test), fit_params=params)
            scores.append(result["rmse" if task == "rating" else "ndcg@10"])
        metric = "rmse" if task == "rating" else "ndcg@10"
        rows.append({"dataset": dataset, "task": task, "model": name,
                     "setting": "default", "chosen on": _chosen_on(name),
                     metric: float(np.mean(scores))})
        print(rows[-1], flush=True)
    for row in rows:
        metric = "rmse" if row["task"] == "rating" else "ndcg@10"
        reference = "BiasBaseline" if row["task"] == "rating" else "Popularity"
        ref = next(r[metric] for r in rows if r["model"] == reference)
        row["ratio"] = row[metric] / ref
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--only", nargs="+", default=None,
                        help="re-run these rows (and the references), keep the others")
    args = parser.parse_args(argv)
    rows = [row for dataset in args.datasets for row in run(dataset, args.only)]
    previous = RESULTS / "defaults_test.json"
    if args.only and previous.exists():  # keep the other rows of the last run
        fresh = {(row["dataset"], row["model"]) for row in rows}
        kept = [row for row in json.loads(previous.read_text())["rows"]
                if (row["dataset"], row["model"]) not in fresh]
        rows = kept + rows
    columns = ["dataset", "task", "model", "setting", "chosen on", "rmse", "ndcg@10", "ratio"]
    table = markdown_table(columns, [[row.get(c) for c in columns] for row in rows])
    write_results("defaults_test", {"machine": machine(), "rows": rows}, table)


if __name__ == "__main__":
    main()

"""Benchmark the two-stage recommender against its generator, in one run.

Usage::

    flock /tmp/bench.lock python benchmarks/bench_hybrid.py --data-home ../shared/datasets

ml-100k, per-user random 80/20 holdout (``train_test_split``,
``random_state=0``), full-catalogue ranking of unseen items, NDCG@10 and
precision@10 (the package's scorers). Rows, all with default parameters
(``TwoStageRecommender``'s ``n_splits``, ``generator_weight`` and
``time_features`` as chosen by ``select_defaults.py`` on validation data
carved from the training part): ``EASE()``;
``TwoStageRecommender(EASE(), HistGradientBoostingClassifier())`` (the
target row: the reranker's labels come from holdouts of the training part
only; its time features come from the timestamp column of ``X``); the same
with the previous defaults (no time features, no blend with the
generator's order); the same with ItemKNN (BM25) scores as a feature
recommender; that with item (genres, year) and user (age, gender,
occupation) side information; and ``RankingBlend`` of EASE and ItemKNN by
reciprocal-rank fusion. Fit and
recommend seconds are wall-clock on a shared machine: compare ratios
within one run. Results go to ``benchmarks/results/hybrid.json`` and
``hybrid.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.hybrid import RankingBlend, TwoStageRecommender
from sklearn_recs.linear_model import EASE
from sklearn_recs.metrics import make_ranking_scorer
from sklearn_recs.model_selection import train_test_split
from sklearn_recs.neighbors import ItemKNN

from _report import machine, markdown_table, write_results


def _two_stage(**params):
    return TwoStageRecommender(EASE(), HistGradientBoostingClassifier(random_state=0),
                               random_state=0, **params)


def _models():
    """``{name: (model, fit parameters)}``."""
    knn = ItemKNN(feedback="implicit", weighting="bm25")
    return {
        "EASE()": (EASE(), False),
        "TwoStage(EASE, HGB)": (_two_stage(), False),
        "TwoStage(EASE, HGB), previous defaults (no time features, generator_weight=0)": (
            _two_stage(time_features=None, generator_weight=0.0), False),
        "TwoStage(EASE, HGB) + ItemKNN scores": (
            _two_stage(feature_recommenders=[("knn", knn)]), False),
        "TwoStage(EASE, HGB) + ItemKNN scores + item/user side information": (
            _two_stage(feature_recommenders=[("knn", knn)]), True),
        "RankingBlend(EASE, ItemKNN, rrf)": (
            RankingBlend(estimators=[("ease", EASE()), ("knn", knn)], normalization="rrf"),
            False),
    }


def _side_information(movies):
    """Numeric item (genres, year) and user (age, gender, occupation) frames."""
    items = movies.item_genres.assign(year=movies.item_info["year"].astype(float))
    users = movies.user_info[["age", "gender", "occupation"]]
    users = pd.get_dummies(users, columns=["gender", "occupation"], dtype=float)
    return {"item_features": items.astype(float), "user_features": users.astype(float)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    movies = fetch_movielens("100k", data_home=args.data_home)
    X_train, X_test = train_test_split(movies.data, random_state=0)
    scorers = {"ndcg@10": make_ranking_scorer("ndcg", k=10),
               "precision@10": make_ranking_scorer("precision", k=10)}
    side = _side_information(movies)
    rows = []
    for name, (model, with_side) in _models().items():
        start = time.perf_counter()
        model.fit(X_train, **(side if with_side else {}))
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        row = {"model": name, **{key: float(scorer(model, X_test, None))
                                 for key, scorer in scorers.items()}}
        row["fit_s"], row["score_s"] = fit_s, time.perf_counter() - start
        rows.append(row)
        print(row, flush=True)
    base = rows[0]["ndcg@10"]
    for row in rows:
        row["ndcg@10 / EASE"] = row["ndcg@10"] / base
    header = ["model", "ndcg@10", "precision@10", "ndcg@10 / EASE", "fit_s", "score_s"]
    markdown = ("## Two-stage recommending (ml-100k, per-user random 80/20, defaults)\n\n"
                f"Machine: {machine()}.\n\n"
                + markdown_table(header, [[row[key] for key in header] for row in rows]))
    write_results("hybrid", {"machine": machine(), "rows": rows}, markdown)


if __name__ == "__main__":
    main()

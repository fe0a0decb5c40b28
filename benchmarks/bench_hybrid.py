"""Benchmark the two-stage recommender against its generator, in one run.

Usage::

    flock /tmp/bench.lock python benchmarks/bench_hybrid.py --data-home ../shared/datasets

ml-100k, per-user random 80/20 holdout (``train_test_split``,
``random_state=0``), full-catalogue ranking of unseen items, NDCG@10 and
precision@10 (the package's scorers). Rows, all with default parameters
(``TwoStageRecommender``'s ``n_splits`` as chosen by ``select_defaults.py``
on validation data carved from the training part): ``EASE()``;
``TwoStageRecommender(EASE(), HistGradientBoostingClassifier())`` (the
reranker's labels come from holdouts of the training part only); the same
with ``n_splits=1`` (the previous default, one holdout); the same with
``feature_recommenders`` (ItemKNN with BM25, Popularity); and
``RankingBlend`` of EASE and ItemKNN by reciprocal-rank fusion. Fit and
recommend seconds are wall-clock on a shared machine: compare ratios
within one run. Results go to ``benchmarks/results/hybrid.json`` and
``hybrid.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings

from sklearn.ensemble import HistGradientBoostingClassifier

from sklearn_recs.baselines import Popularity
from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.hybrid import RankingBlend, TwoStageRecommender
from sklearn_recs.linear_model import EASE
from sklearn_recs.metrics import make_ranking_scorer
from sklearn_recs.model_selection import train_test_split
from sklearn_recs.neighbors import ItemKNN

from _report import machine, markdown_table, write_results


def _models():
    knn = ItemKNN(feedback="implicit", weighting="bm25")
    return {
        "EASE()": EASE(),
        "TwoStage(EASE, HGB)": TwoStageRecommender(
            EASE(), HistGradientBoostingClassifier(random_state=0), random_state=0),
        "TwoStage(EASE, HGB), n_splits=1 (previous default)": TwoStageRecommender(
            EASE(), HistGradientBoostingClassifier(random_state=0), n_splits=1,
            random_state=0),
        "TwoStage(EASE, HGB) + ItemKNN, Popularity scores": TwoStageRecommender(
            EASE(), HistGradientBoostingClassifier(random_state=0), random_state=0,
            feature_recommenders=[("knn", knn), ("pop", Popularity())]),
        "RankingBlend(EASE, ItemKNN, rrf)": RankingBlend(
            estimators=[("ease", EASE()), ("knn", knn)], normalization="rrf"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    movies = fetch_movielens("100k", data_home=args.data_home)
    X_train, X_test = train_test_split(movies.data, random_state=0)
    scorers = {"ndcg@10": make_ranking_scorer("ndcg", k=10),
               "precision@10": make_ranking_scorer("precision", k=10)}
    rows = []
    for name, model in _models().items():
        start = time.perf_counter()
        model.fit(X_train)
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

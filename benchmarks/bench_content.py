"""Benchmark of ContentRecommender: warm start, cold-start items, time and memory.

Run ``python benchmarks/bench_content.py [--data-home DIR] [--quick]``; the
results are written to ``benchmarks/results/content.json`` and ``.md``.

- Warm start: per-user random 80/20 holdout of the ratings; each user's
  ranking over every item unseen in training; relevant = test rating >= 4.
  NDCG@10, recall@10 and catalogue coverage@10, against Popularity and a
  random ranking.
- Cold-start items: 20% of the rated items are held out entirely (all their
  ratings go to test); every test user ranks the held-out items only.
- Cold-start users (ml-100k, which has demographics): 20% of the users are
  held out entirely; each ranks the whole catalogue. Global popularity
  against demographic popularity (``Popularity`` with ``user_features``:
  age, gender, occupation), ``n_neighbors`` chosen on held-out training
  users only.
- The blend's weights are chosen by ``GridSearchCV`` on a per-user
  validation split of the training data, scored by NDCG@10.
- Time: fit, and recommend 10 items to every user. Memory: tracemalloc peak
  of fit + recommend.
"""

import argparse
import json
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn_recs.baselines import Popularity
from sklearn_recs.content import ContentRecommender
from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.hybrid import RankingBlend
from sklearn.model_selection import GridSearchCV

from sklearn_recs.metrics import (
    coverage_score,
    make_ranking_scorer,
    ndcg_at_k_score,
    recall_at_k_score,
)
from sklearn_recs.model_selection import PerUserShuffleSplit, train_test_split

RESULTS = Path(__file__).parent / "results"
THRESHOLD = 4.0
BLEND_WEIGHTS = [[w, 1.0 - w] for w in (0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0)]


def relevant_lists(users, test, y_test):
    liked = test[y_test >= THRESHOLD]
    groups = liked.groupby("user_id")["item_id"].apply(list)
    return [groups.get(u, []) for u in users]


def random_ranking(model, users, k, candidates=None, seed=0):
    """A uniformly random ranking of each user's unseen candidates."""
    rng = np.random.default_rng(seed)
    codes = (np.arange(model.n_items_) if candidates is None
             else pd.Index(model.items_).get_indexer(candidates))
    user_codes = pd.Index(model.users_).get_indexer(users)
    scores = rng.random((len(users), len(codes)))
    seen = model.interactions_[user_codes][:, codes].tocoo()
    scores[seen.row, seen.col] = -1.0
    return model.items_[codes][np.argsort(-scores, axis=1)[:, :k]]


def evaluate(lists, truth, catalogue):
    has = np.array([len(t) > 0 for t in truth])
    lists = lists[has]
    truth = [t for t, h in zip(truth, has) if h]
    return {"ndcg@10": ndcg_at_k_score(truth, lists, k=10),
            "recall@10": recall_at_k_score(truth, lists, k=10),
            "coverage@10": coverage_score(lists, catalogue, k=10)}


def timed(model, X, y, fit_params):
    tracemalloc.start()
    start = time.perf_counter()
    model.fit(X, y, **fit_params)
    fit_s = time.perf_counter() - start
    users = model.users_
    start = time.perf_counter()
    lists = model.recommend(users, top_n=10)
    rec_s = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return lists, {"fit_s": fit_s, "recommend_all_s": rec_s, "peak_mib": peak / 2**20}


def tuned_blend(X, y, features):
    """The content + popularity blend, weights chosen on a validation split of X."""
    search = GridSearchCV(
        RankingBlend(estimators=[("content", ContentRecommender()), ("pop", Popularity())]),
        {"weights": BLEND_WEIGHTS},
        scoring=make_ranking_scorer("ndcg", k=10, relevance_threshold=THRESHOLD),
        cv=PerUserShuffleSplit(n_splits=1, test_size=0.2, random_state=1),
        refit=False,
    )
    search.fit(X, y, item_features=features)
    return search.best_params_["weights"]


def models(features, blend_weights=(0.5, 0.5)):
    content = ContentRecommender()
    return {
        "content-centroid": (content, {"item_features": features}),
        "content-ridge": (ContentRecommender(profile="ridge", alpha=5.0),
                          {"item_features": features}),
        "popularity": (Popularity(), {}),
        "blend(content,popularity)": (
            RankingBlend(estimators=[("content", content), ("pop", Popularity())],
                         weights=list(blend_weights)),
            {"item_features": features}),
    }


def warm(X, y, features, catalogue_size):
    train, test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    weights = tuned_blend(train, y_train, features)
    out = {}
    for name, (model, params) in models(features, weights).items():
        lists, cost = timed(model, train, y_train, params)
        truth = relevant_lists(model.users_, test, y_test)
        out[name] = {**evaluate(lists, truth, catalogue_size), **cost}
        if name.startswith("blend"):
            out[name]["content_weight"] = weights[0]
        if name == "popularity":
            out["random"] = evaluate(random_ranking(model, model.users_, 10), truth,
                                     catalogue_size)
    return out


def cold(X, y, features, seed=0):
    rng = np.random.default_rng(seed)
    rated = np.unique(X["item_id"])
    held = rng.choice(rated, size=len(rated) // 5, replace=False)
    is_test = np.isin(X["item_id"], held)
    train, test = X[~is_test], X[is_test]
    y_train, y_test = y[~is_test], y[is_test]
    out = {}
    for name in ("content-centroid", "content-ridge"):
        model, params = models(features)[name]
        model.fit(train, y_train, **params)
        users = np.intersect1d(test["user_id"].unique(), model.users_)
        truth = relevant_lists(users, test, y_test)
        lists = model.recommend(users, top_n=10, items=held)
        out[name] = evaluate(lists, truth, held)
    out["random"] = evaluate(random_ranking(model, users, 10, candidates=held),
                             truth, held)
    return out


def hold_out_users(X, y, seed):
    rng = np.random.default_rng(seed)
    users = np.unique(X["user_id"])
    held = rng.choice(users, size=len(users) // 5, replace=False)
    is_test = np.isin(X["user_id"], held).astype(bool)
    return X[~is_test], X[is_test], y[~is_test], y[is_test]


def cold_user_ndcg(model, test, y_test):
    users = np.unique(test["user_id"])
    return evaluate(model.recommend(users, top_n=10), relevant_lists(users, test, y_test),
                    model.n_items_)


def cold_users(X, y, user_features, seed=0):
    """New users with known demographics: global vs demographic popularity."""
    train, test, y_train, y_test = hold_out_users(X, y, seed)
    fit_part, val, y_fit, y_val = hold_out_users(train, y_train, seed + 1)
    val_scores = {k: cold_user_ndcg(Popularity(n_neighbors=k).fit(
        fit_part, user_features=user_features), val, y_val)["ndcg@10"]
        for k in (25, 50, 100, 200, 400)}
    best = max(val_scores, key=val_scores.get)
    out = {"popularity (global)": cold_user_ndcg(Popularity().fit(train), test, y_test),
           "popularity (demographic)": {
               **cold_user_ndcg(Popularity(n_neighbors=best).fit(
                   train, user_features=user_features), test, y_test),
               "n_neighbors": best}}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--quick", action="store_true",
                        help="ml-latest-small only")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    results = {}
    small = fetch_movielens()
    X, y = small.data, small.target.to_numpy()
    features = small.item_info[["genres", "tags", "title"]]
    results["ml-latest-small"] = {
        "warm": warm(X, y, features, features.shape[0]),
        "cold_items": cold(X, y, features)}
    if not args.quick:
        ml100k = fetch_movielens("100k", data_home=args.data_home)
        X, y = ml100k.data, ml100k.target.to_numpy()
        features = ml100k.item_info[["genres", "year"]]
        demographics = ml100k.user_info[["age", "gender", "occupation"]]
        results["ml-100k"] = {
            "warm": warm(X, y, features, features.shape[0]),
            "cold_items": cold(X, y, features),
            **{f"cold_users (seed {seed})": cold_users(X, y, demographics, seed)
               for seed in range(3)}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "content.json").write_text(json.dumps(results, indent=2))
    lines = ["# ContentRecommender benchmark", ""]
    for data, parts in results.items():
        for part, rows in parts.items():
            keys = list(dict.fromkeys(key for row in rows.values() for key in row))
            lines += [f"## {data}: {part}", "", "| model | " + " | ".join(keys) + " |",
                      "|---" * (1 + len(keys)) + "|"]
            for name, row in rows.items():
                lines.append(f"| {name} | " + " | ".join(
                    f"{row.get(key, float('nan')):.4f}" for key in keys) + " |")
            lines.append("")
    (RESULTS / "content.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

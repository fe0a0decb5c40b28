"""
===========================================
A tour of every estimator on MovieLens 100k
===========================================

Every recommender of the package, fitted on the same per-user 80/20 split
of MovieLens 100k and evaluated the same way: NDCG@10 over the full
catalogue (each test user ranks every item they did not rate in training;
relevant items are their test ratings >= 4), RMSE for the models that
predict ratings, and the fit time.

Rating models learn from the stars; implicit-feedback models see only
*which* movies each user rated (``y=None``). The neural models train for a
few epochs only, to keep this page fast: see the benchmarks for tuned
settings.

.. note:: This example needs MovieLens 100k, which is not embedded:
   ``fetch_movielens("100k")`` reads it from ``$SKLEARN_RECS_DATA`` (or
   downloads it). The documentation build runs the example only when
   the data set is there; otherwise this page shows the code alone.

"""

# %%
# Load the data and split each user's ratings 80/20.
import sys
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sklearn_recs.baselines import BiasBaseline, GlobalMean, Popularity
from sklearn_recs.content import ContentRecommender
from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.hybrid import RankingBlend
from sklearn_recs.linear_model import EASE, SparseEASE
from sklearn_recs.metrics import make_ranking_scorer, root_mean_squared_error
from sklearn_recs.model_selection import train_test_split
from sklearn_recs.neighbors import ItemKNN, UserKNN
from sklearn_recs.neural import (
    GMF,
    MLP,
    ImplicitMatrixFactorization,
    MatrixFactorization,
    NeuMF,
    TwoTower,
)

warnings.simplefilter("ignore")  # cold-start and duplicate-row notices
movies = fetch_movielens("100k")  # from $SKLEARN_RECS_DATA
X, y = movies.data, movies.target.to_numpy()
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
item_features = movies.item_info[["title", "genres", "year"]]
ndcg = make_ranking_scorer("ndcg", k=10, relevance_threshold=4)
# NDCG@10 over 400 random test users: ranking the whole catalogue with the
# rating KNN models is slow, and 400 users are enough to compare models.
rng = np.random.default_rng(0)
ranked = X_test["user_id"].isin(rng.choice(X_test["user_id"].unique(), 400, replace=False))

# %%
# The models: ``(estimator, learns from ratings?)``. The content model and
# the blend get the item metadata as a fit parameter.
knn_implicit = ItemKNN(feedback="implicit", weighting="bm25", n_neighbors=200)
content = ContentRecommender(profile="centroid")
models = {
    "GlobalMean": (GlobalMean(), True),
    "BiasBaseline": (BiasBaseline(), True),
    "Popularity": (Popularity(), False),
    "ItemKNN (ratings)": (ItemKNN(similarity="pearson_baseline", shrinkage=100), True),
    "UserKNN (ratings)": (UserKNN(similarity="pearson_baseline", shrinkage=100), True),
    "ItemKNN (implicit, BM25)": (knn_implicit, False),
    "UserKNN (implicit, BM25)": (UserKNN(feedback="implicit", weighting="bm25", n_neighbors=100), False),
    "ContentRecommender": (content, True),
    "RankingBlend (content + ItemKNN)": (RankingBlend(
        estimators=[("content", content), ("knn", knn_implicit)], weights=[0.2, 0.8]), True),
    "EASE": (EASE(), False),
    "SparseEASE": (SparseEASE(), False),
    "MatrixFactorization": (MatrixFactorization(max_epochs=20, random_state=0), True),
    "ImplicitMatrixFactorization (BPR)": (ImplicitMatrixFactorization(
        optimizer="sparse_adam", lr=0.005, max_epochs=8, random_state=0), False),
    "GMF": (GMF(max_epochs=2, batch_size=1024, random_state=0), False),
    "MLP": (MLP(max_epochs=2, batch_size=1024, random_state=0), False),
    "NeuMF": (NeuMF(max_epochs=2, batch_size=1024, random_state=0), False),
    "TwoTower": (TwoTower(max_epochs=3, random_state=0), False),
}

# %%
# Fit and evaluate each model.
rows = []
for name, (model, uses_ratings) in models.items():
    params = {"item_features": item_features} if "Content" in name or "Blend" in name else {}
    start = time.perf_counter()
    model.fit(X_train, y_train if uses_ratings else None, **params)
    fit_seconds = time.perf_counter() - start
    rmse = (root_mean_squared_error(y_test, model.predict(X_test))
            if uses_ratings and "Blend" not in name else float("nan"))
    rows.append({"model": name, "NDCG@10": ndcg(model, X_test[ranked], y_test[ranked]),
                 "RMSE": rmse, "fit (s)": fit_seconds})
results = pd.DataFrame(rows).set_index("model").sort_values("NDCG@10")
print(results.round(4).to_string())

# %%
# Plot: ranking quality, rating error and training time side by side.
fig, axes = plt.subplots(1, 3, figsize=(13, 5.5), sharey=True)
for ax, column in zip(axes, ["NDCG@10", "RMSE", "fit (s)"]):
    ax.barh(results.index, results[column], color="tab:blue" if column != "RMSE" else "tab:orange")
    ax.set_xlabel(column)
axes[1].set_xlim(0.85, 1.2)
axes[2].set_xscale("log")
fig.suptitle("MovieLens 100k, per-user 80/20 split (relevant: rating >= 4)")
fig.tight_layout()
fig.savefig(Path(sys.argv[0]).with_suffix(".png"), dpi=100)  # next to this script

# %%
# Ranking by predicted rating is a poor top-N strategy: the rating models
# with the best RMSE (KNN, matrix factorisation) are far behind the models
# trained on *what* users watch (EASE, KNN on implicit feedback, the
# two-tower and NCF models) on NDCG@10. Which quantity to optimise is a
# choice of the task; the grid-search example tunes a model on both.

"""
=======================================================================
Hybrids: ``VotingRegressor``, ``StackingRegressor`` and a ranking blend
=======================================================================

The rating models of the package are scikit-learn regressors, so
scikit-learn's ensembles combine them unchanged:
:class:`~sklearn.ensemble.VotingRegressor` averages their predicted
ratings, :class:`~sklearn.ensemble.StackingRegressor` learns the weights by
a ridge regression on out-of-fold predictions. For top-N lists,
:class:`~sklearn_recs.hybrid.RankingBlend` adds the per-user normalised
scores of its members: here a content model (genres and titles) and item
KNN on implicit feedback, on MovieLens 100k.

.. note:: This example needs MovieLens 100k, which is not embedded:
   ``fetch_movielens("100k")`` reads it from ``$SKLEARN_RECS_DATA`` (or
   downloads it). The documentation build runs the example only when
   the data set is there; otherwise this page shows the code alone.

"""

# %%
import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import StackingRegressor, VotingRegressor
from sklearn.linear_model import RidgeCV

from sklearn_recs.baselines import BiasBaseline
from sklearn_recs.content import ContentRecommender
from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.hybrid import RankingBlend
from sklearn_recs.metrics import make_ranking_scorer, root_mean_squared_error
from sklearn_recs.model_selection import train_test_split
from sklearn_recs.neighbors import ItemKNN, UserKNN

warnings.simplefilter("ignore")
movies = fetch_movielens("100k")
X_train, X_test, y_train, y_test = train_test_split(
    movies.data, movies.target.to_numpy(), random_state=0)

# %%
# Rating prediction: three members and their two ensembles.
members = [("bias", BiasBaseline()),
           ("item_knn", ItemKNN(similarity="pearson_baseline", shrinkage=100)),
           ("user_knn", UserKNN(similarity="pearson_baseline", shrinkage=100))]
regressors = dict(members)
regressors["VotingRegressor"] = VotingRegressor(members)
regressors["StackingRegressor"] = StackingRegressor(members, final_estimator=RidgeCV(), cv=3)
rmse = {}
for name, model in regressors.items():
    model.fit(X_train, y_train)
    rmse[name] = root_mean_squared_error(y_test, model.predict(X_test))
    print(f"{name:18s} RMSE {rmse[name]:.4f}")
weights = regressors["StackingRegressor"].final_estimator_.coef_
print("stacking weights:", ", ".join(f"{name} {w:.3f}" for (name, _), w in zip(members, weights)))

# %%
# Top-N ranking: the blend of content and collaborative scores, for a range
# of content weights (0 is ItemKNN alone, 1 the content model alone).
ndcg = make_ranking_scorer("ndcg", k=10, relevance_threshold=4)
blend = RankingBlend(estimators=[
    ("content", ContentRecommender()),
    ("knn", ItemKNN(feedback="implicit", weighting="bm25", n_neighbors=200))])
content_weights = np.array([0.0, 0.1, 0.2, 0.4, 0.7, 1.0])
blend_ndcg = []
for weight in content_weights:
    blend.set_params(weights=[weight, 1 - weight])
    blend.fit(X_train, y_train, item_features=movies.item_info[["genres", "title"]])
    blend_ndcg.append(ndcg(blend, X_test, y_test))
for weight, score in zip(content_weights, blend_ndcg):
    print(f"content weight {weight:.1f}: NDCG@10 {score:.4f}")

# %%
# Why the blend recommends an item: each member's part of the score
# (``kind="member"``). ItemKNN's part is split into the user's history items,
# scaled by the blend's weight and normalisation (those rows are exact, the
# member row their sum); the rating content model's part is one exact row,
# as its ``predict`` adds the user's mean rating, which its ranking leaves out.
blend.set_params(weights=[0.2, 0.8])
blend.fit(X_train, y_train, item_features=movies.item_info[["genres", "title"]])
user = X_train["user_id"].iloc[0]
item = blend.recommend([user], top_n=1)[0, 0]
print(blend.explain(user, item, n_contributions=5).round(3).to_string(index=False))

# %%
# Neither rating ensemble beats its best member, ItemKNN, here: the three
# members make strongly correlated errors (all three are built on the same
# biases), so averaging mostly adds the weaker members' error, and the
# stacker's out-of-fold estimates are too close to tell them apart. Ensembles
# pay off with members that err differently (a factor model, a content
# model). For ranking, a little content weight (0.1 to 0.2) adds a little
# NDCG@10 on users with a history, and more costs it, as genres and titles
# alone are a weak signal (a weight to choose on validation data, not on
# this test split); the blend earns its keep on items nobody has rated yet,
# which only the content model can score (see the content benchmark).
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
left.barh(list(rmse), list(rmse.values()), color="tab:orange")
left.set_xlim(min(rmse.values()) - 0.02, max(rmse.values()) + 0.01)
left.set_xlabel("test RMSE (lower is better)")
right.plot(content_weights, blend_ndcg, marker="o")
right.set_xlabel("weight of the content model in RankingBlend")
right.set_ylabel("test NDCG@10")
fig.suptitle("Hybrids on MovieLens 100k")
fig.tight_layout()
fig.savefig(Path(sys.argv[0]).with_suffix(".png"), dpi=100)  # next to this script

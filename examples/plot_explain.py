"""
===============================================
Why was this recommended? ``explain`` per model
===============================================

Every model whose score is a sum of terms explains it with
``explain(users, items)``: a DataFrame with one row per term. For item
KNN the terms are the user's history items, each with its similarity to
the recommended item; for the content model, the item features the user's
profile weighs; for a factor model, the biases and the dot product of the
factors, plus the history items nearest the item in factor space (an
approximation, marked ``exact=False``). The rows marked exact sum to
``predict``. Here on ml-latest-small, which ships with the package.
"""

# %%
import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sklearn_recs.content import ContentRecommender
from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.decomposition import ImplicitALS
from sklearn_recs.neighbors import ItemKNN

warnings.simplefilter("ignore")
movies = fetch_movielens()  # ml-latest-small, embedded
liked = movies.target.to_numpy() >= 4
X = movies.data[liked]  # implicit feedback: the ratings of 4 and more
titles = movies.item_info["title"]
user = X["user_id"].iloc[0]

# %%
# Item KNN: the first recommendation of a user, and the five history items
# that contribute most to its score.
knn = ItemKNN(feedback="implicit", weighting="bm25", similarity="dot").fit(X)
item = knn.recommend([user], top_n=1)[0, 0]
why = knn.explain(user, item, n_contributions=5)
print(f"user {user} -> {titles[item]}")
print(why.assign(source=titles[why["source"]].to_numpy()).to_string())

# %%
# The exact rows of the full explanation sum to the score.
full = knn.explain(user, item)
print("sum of contributions", round(full["contribution"].sum(), 6),
      "| predict", round(knn.predict([[user, item]])[0], 6))

# %%
# The content model (genres and tags) explains the same kind of recommendation by
# the features: the user's mean rating, the item's bias, the genres and tags.
content = ContentRecommender().fit(movies.data, movies.target.to_numpy(),
                                   item_features=movies.item_info[["genres", "tags"]])
content_item = content.recommend([user], top_n=1)[0, 0]
content_why = content.explain(user, content_item, n_contributions=5)
print(f"user {user} -> {titles[content_item]}")
print(content_why.to_string())

# %%
# A factor model: the dot product is one exact term; the history items
# nearest the item in factor space (``kind="similar_item"``) only suggest
# which tastes it reflects.
als = ImplicitALS(n_factors=32, max_iter=5, random_state=0).fit(X)
als_item = als.recommend([user], top_n=1)[0, 0]
als_why = als.explain(user, als_item, n_contributions=5)
print(f"user {user} -> {titles[als_item]}")
print(als_why.assign(source=[titles.get(s, s) for s in als_why["source"]]).to_string())

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for ax, frame, title in ((axes[0], why, f"ItemKNN: {titles[item]}"),
                         (axes[1], content_why[content_why["kind"] == "feature"],
                          f"ContentRecommender: {titles[content_item]}")):
    labels = [titles.get(s, s) if np.issubdtype(type(s), np.integer) else str(s)
              for s in frame["source"]]
    ax.barh(labels[::-1], frame["contribution"].to_numpy()[::-1])
    ax.set_title(title[:45], fontsize=9)
    ax.set_xlabel("contribution to the score")
    ax.tick_params(axis="y", labelsize=7)
fig.tight_layout()
fig.savefig(Path(sys.argv[0]).with_suffix(".png"), dpi=100)  # next to this script

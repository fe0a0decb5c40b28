"""
=================================
Popularity bias and the long tail
=================================

A few movies collect most of the ratings (the *head*), most movies few (the
*long tail*). Recommenders trained on such data tend to amplify it: their
lists concentrate on the head, reach a small part of the catalogue, and
rarely surface the niche items a user would not find alone. This example
measures it on MovieLens 100k for four models: the share of recommendations
that fall in the head, middle and tail of the popularity curve, catalogue
coverage (:func:`~sklearn_recs.metrics.coverage_score`), the mean
popularity of the recommended items
(:func:`~sklearn_recs.metrics.average_popularity_score`) and their novelty
(:func:`~sklearn_recs.metrics.novelty_score`), next to NDCG@10.

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
import pandas as pd

from sklearn_recs.baselines import Popularity
from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.linear_model import EASE
from sklearn_recs.metrics import (
    average_popularity_score,
    coverage_score,
    make_ranking_scorer,
    novelty_score,
)
from sklearn_recs.model_selection import train_test_split
from sklearn_recs.neighbors import ItemKNN
from sklearn_recs.neural import ImplicitMatrixFactorization

warnings.simplefilter("ignore")
movies = fetch_movielens("100k")
X_train, X_test, y_train, y_test = train_test_split(
    movies.data, movies.target.to_numpy(), random_state=0)

# %%
# The popularity curve of the training data, and three groups of items:
# the most popular ones that make up a third of all interactions (head),
# the next third (middle), and the rest (tail).
popularity = X_train["item_id"].value_counts()  # sorted, most popular first
share = popularity.cumsum() / popularity.sum()
group = pd.Series(np.select([share <= 1 / 3, share <= 2 / 3], ["head", "middle"], "tail"),
                  index=popularity.index)
print(group.value_counts().reindex(["head", "middle", "tail"]).rename("items").to_string())

# %%
# Each model's top-10 list for every user, and its reach.
models = {
    "Popularity": Popularity(),
    "ItemKNN (BM25)": ItemKNN(feedback="implicit", weighting="bm25", n_neighbors=200),
    "BPR matrix factorisation": ImplicitMatrixFactorization(
        optimizer="sparse_adam", lr=0.005, max_epochs=8, random_state=0),
    "EASE": EASE(),
}
ndcg = make_ranking_scorer("ndcg", k=10, relevance_threshold=4)
rows, mix = [], {}
for name, model in models.items():
    model.fit(X_train)
    lists = model.recommend(model.users_, top_n=10)
    mix[name] = group.reindex(lists.ravel()).value_counts(normalize=True)
    rows.append({"model": name, "NDCG@10": ndcg(model, X_test, y_test),
                 "coverage@10": coverage_score(lists, model.n_items_),
                 "mean popularity": average_popularity_score(lists, popularity),
                 "novelty": novelty_score(lists, popularity / len(model.users_))})
print(pd.DataFrame(rows).set_index("model").round(3).to_string())
mix = pd.DataFrame(mix).T.reindex(columns=["head", "middle", "tail"]).fillna(0)

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
left.plot(np.arange(1, len(popularity) + 1), popularity.to_numpy())
for name, color in [("head", "tab:red"), ("middle", "tab:orange")]:
    left.axvline((group == name).to_numpy().nonzero()[0].max() + 1, color=color, linestyle=":",
                 label=f"end of the {name}")
left.set_xlabel("item rank by popularity")
left.set_ylabel("training interactions")
left.set_title("The long tail of ml-100k")
left.legend()
mix.plot.barh(stacked=True, ax=right, color=["tab:red", "tab:orange", "tab:green"])
right.legend(title="items", loc="upper left", bbox_to_anchor=(1.0, 1.0))
right.set_xlabel("share of the top-10 recommendations")
right.set_title("Where the recommendations fall")
fig.tight_layout()
fig.savefig(Path(sys.argv[0]).with_suffix(".png"), dpi=100)  # next to this script

# %%
# The head is about a hundred movies (7% of the catalogue), yet it takes
# most of the personalised models' recommendations, and the tail, nearly
# 80% of the items, about 1% or less. The personalised models reach
# several times more of the catalogue than popularity does. Accuracy on a
# random holdout rewards the bias, since popular items are also the
# likeliest test items: coverage and novelty are worth tracking beside NDCG
# when choosing a model.

"""
==================================================
Precision, recall and NDCG at k for several models
==================================================

:class:`~sklearn_recs.metrics.RankingMetricDisplay` draws a ranking metric
against the length ``k`` of the recommendation lists, in scikit-learn's
display style: ``from_estimator`` takes a fitted recommender and test
interactions, asks it once for every test user's top ``max(ks)`` and
computes the metric at each ``k``; passing the same ``ax`` puts several
models on one plot. Here five models on a per-user 80/20 split of
MovieLens 100k, relevant items being the test ratings >= 4.

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

from sklearn_recs.baselines import BiasBaseline, Popularity
from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.linear_model import EASE
from sklearn_recs.metrics import RankingMetricDisplay
from sklearn_recs.model_selection import train_test_split
from sklearn_recs.neighbors import ItemKNN
from sklearn_recs.neural import ImplicitMatrixFactorization

warnings.simplefilter("ignore")
movies = fetch_movielens("100k")
X_train, X_test, y_train, y_test = train_test_split(
    movies.data, movies.target.to_numpy(), random_state=0)

# %%
# The rating model learns from the stars; the others from which movies
# each user rated.
models = {
    "BiasBaseline (ratings)": BiasBaseline().fit(X_train, y_train),
    "Popularity": Popularity().fit(X_train),
    "ItemKNN (BM25)": ItemKNN(feedback="implicit", weighting="bm25", n_neighbors=200).fit(X_train),
    "BPR matrix factorisation": ImplicitMatrixFactorization(
        optimizer="sparse_adam", lr=0.005, max_epochs=8, random_state=0).fit(X_train),
    "EASE": EASE().fit(X_train),
}

# %%
# One axes per metric, one curve per model.
fig, axes = plt.subplots(1, 3, figsize=(14, 4.5))
for ax, metric in zip(axes, ["precision", "recall", "ndcg"]):
    for name, model in models.items():
        display = RankingMetricDisplay.from_estimator(
            model, X_test, y_test, metric=metric, ks=range(1, 21),
            relevance_threshold=4, name=name, ax=ax)
    ax.set_title(f"{display.ax_.get_ylabel()} on ml-100k")
    ax.get_legend().remove()
axes[0].legend(loc="upper right", fontsize=8)
fig.tight_layout()
fig.savefig(Path(sys.argv[0]).with_suffix(".png"), dpi=100)  # next to this script

# %%
# Precision falls and recall rises with ``k``, as a longer list holds more
# of the relevant items but a smaller share of relevant ones; NDCG weighs
# each hit by its rank. The order of the models is the same at every ``k``
# here: EASE, then ItemKNN and BPR, then popularity; ranking by mean rating
# (BiasBaseline) recommends little-known, well-rated movies that few users
# have seen.

"""
==================================================
iALS and RP3beta, and adding data with partial_fit
==================================================

Two classic models of top-N comparisons, with their defaults, on the
embedded MovieLens ``latest-small`` (per-user 80/20 holdout, NDCG@10 over
the whole catalogue): :class:`~sklearn_recs.decomposition.ImplicitALS` and
:class:`~sklearn_recs.neighbors.RP3Beta`, with
:class:`~sklearn_recs.baselines.Popularity` for scale.
:class:`~sklearn_recs.linear_model.SLIM` is left out to keep the example
fast: its ~9,000 elastic-net regressions take minutes on this catalogue
(``benchmarks/bench_models.py`` measures it on MovieLens 100k).

Then RP3Beta is fit on half of the training rows and updated with the
other half by ``partial_fit``: the result is the model fit on all of them
(new users and items included), without recomputing the walk of the users
whose rows did not change.

Run ``python examples/plot_classic_models.py``; the figure is saved as
``classic_models.png``.
"""

import argparse
import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sklearn_recs.baselines import Popularity  # noqa: E402
from sklearn_recs.datasets import fetch_movielens  # noqa: E402
from sklearn_recs.decomposition import ImplicitALS  # noqa: E402
from sklearn_recs.metrics import make_ranking_scorer  # noqa: E402
from sklearn_recs.model_selection import train_test_split  # noqa: E402
from sklearn_recs.neighbors import RP3Beta  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--output", default="classic_models.png")
args = parser.parse_args()
warnings.simplefilter("ignore")

X = fetch_movielens("latest-small").data[["user_id", "item_id"]]
X_train, X_test = train_test_split(X, test_size=0.2, random_state=42)
ndcg = make_ranking_scorer("ndcg", k=10)

models = {"Popularity": Popularity(), "ImplicitALS": ImplicitALS(random_state=0),
          "RP3Beta": RP3Beta()}
scores, seconds = {}, {}
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train)
    seconds[name] = time.perf_counter() - start
    scores[name] = ndcg(model, X_test)
    print(f"{name:12s} NDCG@10 = {scores[name]:.4f}, fit {seconds[name]:.1f} s")

half = len(X_train) // 2
updated = RP3Beta().fit(X_train[:half]).partial_fit(X_train[half:])
same = np.array_equal(updated.recommend(models["RP3Beta"].users_, 10),
                      models["RP3Beta"].recommend(models["RP3Beta"].users_, 10))
print(f"RP3Beta fit on half, then partial_fit on the rest: same top-10 as one fit: {same}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.barh(list(scores), list(scores.values()))
ax.set_xlabel("test NDCG@10 (ml-latest-small, defaults)")
fig.tight_layout()
fig.savefig(args.output)

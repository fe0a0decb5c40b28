"""
=====================================================
Grid search on NDCG@10 and RMSE with ``GridSearchCV``
=====================================================

A recommender is tuned like any scikit-learn model: ``GridSearchCV`` with
a per-user cross-validation splitter and several scorers at once. Here the
regularisation of :class:`~sklearn_recs.baselines.BiasBaseline`
(``r_ui = mu + b_u + b_i``) on MovieLens 100k ratings is scored by NDCG@10
(full-catalogue ranking, relevant items rated >= 4) and by RMSE;
``refit="ndcg"`` refits the candidate with the best NDCG on the whole
training set. The two metrics do not pick the same model.

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
import pandas as pd
from sklearn.model_selection import GridSearchCV

from sklearn_recs.baselines import BiasBaseline
from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.metrics import make_ranking_scorer
from sklearn_recs.model_selection import PerUserKFold, train_test_split

warnings.simplefilter("ignore")
movies = fetch_movielens("100k")
X_train, X_test, y_train, y_test = train_test_split(
    movies.data, movies.target.to_numpy(), random_state=0)

# %%
# Two scorers: the ranking scorer of this package and scikit-learn's RMSE.
# ``PerUserKFold`` splits each user's ratings into folds, so every
# validation user is known at training time.
scoring = {"ndcg": make_ranking_scorer("ndcg", k=10, relevance_threshold=4),
           "rmse": "neg_root_mean_squared_error"}
search = GridSearchCV(
    BiasBaseline(),
    {"alpha_item": [0, 2, 10, 50, 250, 1000, 5000], "alpha_user": [5, 25]},
    scoring=scoring, refit="ndcg", cv=PerUserKFold(3, random_state=0))
search.fit(X_train, y_train)

results = pd.DataFrame(search.cv_results_)
table = pd.DataFrame({
    "alpha_item": results["param_alpha_item"], "alpha_user": results["param_alpha_user"],
    "NDCG@10": results["mean_test_ndcg"], "RMSE": -results["mean_test_rmse"]})
print(table.round(4).to_string(index=False))
print("refit on NDCG:", search.best_params_)
print("best RMSE:    ", search.cv_results_["params"][results["rank_test_rmse"].argmin()])

# %%
# The refitted model is ready to use; its test scores:
print("test NDCG@10:", round(scoring["ndcg"](search.best_estimator_, X_test, y_test), 4))
print("recommendations for users 1 and 2:", search.best_estimator_.recommend([1, 2], top_n=5))

# %%
# Validation NDCG@10 and RMSE against the item regularisation. A small
# ``alpha_item`` fits the item means best (lowest RMSE), but it lets a movie
# with two five-star ratings top every list; a large one shrinks such items
# towards the mean and ranks well-liked, well-known movies first (best
# NDCG@10), at a clear cost in RMSE. With a very large ``alpha_item`` the
# ranking tends to one by rating counts, close to popularity: for top-N
# lists on MovieLens that is hard to beat without personalisation (see the
# tour of the estimators).
fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 6), sharex=True)
for alpha_user, group in table.groupby("alpha_user"):
    top.plot(group["alpha_item"], group["NDCG@10"], marker="o", label=f"alpha_user={alpha_user}")
    bottom.plot(group["alpha_item"], group["RMSE"], marker="o", label=f"alpha_user={alpha_user}")
best = search.best_params_
top.axvline(best["alpha_item"], color="red", linestyle=":", label="refit (best NDCG@10)")
bottom.axvline(best["alpha_item"], color="red", linestyle=":")
top.set_ylabel("NDCG@10 (higher is better)")
bottom.set_ylabel("RMSE (lower is better)")
bottom.set_xlabel("alpha_item")
bottom.set_xscale("symlog", linthresh=1)
bottom.set_xlim(-0.3, 7000)
top.set_title("BiasBaseline on ml-100k: 3-fold per-user CV")
top.legend()
fig.tight_layout()
fig.savefig(Path(sys.argv[0]).with_suffix(".png"), dpi=100)  # next to this script

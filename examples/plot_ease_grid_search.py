"""
=============================================
Choosing EASE's alpha with a ranking scorer
=============================================

:class:`~sklearn_recs.linear_model.EASE` has one parameter that matters,
the ridge penalty ``alpha``. ``GridSearchCV`` picks it with the package's
NDCG@10 scorer on per-user validation splits of the training part of
MovieLens 100k, exactly as for any scikit-learn model; the sparse
approximation :class:`~sklearn_recs.linear_model.SparseEASE` is searched
the same way. The figure shows the validation NDCG@10 against ``alpha``
and the chosen models are scored once on the held-out test part.

Run ``python examples/plot_ease_grid_search.py``; the figure is saved as
``ease_grid_search.png``. MovieLens 100k is read from
``$SKLEARN_RECS_DATA``.

.. note:: This example needs MovieLens 100k, which is not embedded:
   ``fetch_movielens("100k")`` reads it from ``$SKLEARN_RECS_DATA`` (or
   downloads it). The documentation build runs the example only when
   the data set is there; otherwise this page shows the code alone.

"""

import argparse
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from sklearn_recs.datasets import fetch_movielens  # noqa: E402
from sklearn_recs.linear_model import EASE, SparseEASE  # noqa: E402
from sklearn_recs.metrics import make_ranking_scorer  # noqa: E402
from sklearn_recs.model_selection import PerUserShuffleSplit, train_test_split  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--output", default="ease_grid_search.png")
args = parser.parse_args()
warnings.simplefilter("ignore")

X = fetch_movielens("100k").data[["user_id", "item_id"]]
X_train, X_test = train_test_split(X, test_size=0.2, random_state=42)

scoring = {"ndcg": make_ranking_scorer("ndcg", k=10),
           "precision": make_ranking_scorer("precision", k=10)}
cv = PerUserShuffleSplit(n_splits=2, test_size=0.2, random_state=0)
grid = {"alpha": np.geomspace(25, 4000, 8).round()}
models = {"EASE": EASE(), "SparseEASE (n_neighbors=100)": SparseEASE(n_neighbors=100)}

fig, ax = plt.subplots(figsize=(7, 4.5))
for name, model in models.items():
    search = GridSearchCV(model, grid, scoring=scoring, refit="ndcg", cv=cv)
    search.fit(X_train)
    mean = search.cv_results_["mean_test_ndcg"]
    std = search.cv_results_["std_test_ndcg"]
    ax.errorbar(grid["alpha"], mean, yerr=std, marker="o", capsize=3, label=name)
    test_ndcg = scoring["ndcg"](search.best_estimator_, X_test)
    test_precision = scoring["precision"](search.best_estimator_, X_test)
    print(f"{name:30s} best alpha = {search.best_params_['alpha']:g}: "
          f"test NDCG@10 = {test_ndcg:.4f}, precision@10 = {test_precision:.4f}")
ax.set_xscale("log")
ax.set_xlabel("alpha")
ax.set_ylabel("validation NDCG@10")
ax.set_title("ml-100k, per-user 80/20 validation splits of the training part")
ax.legend()
fig.tight_layout()
fig.savefig(args.output, dpi=120)
print(f"saved {args.output}")

r"""
================================================
Matrix factorisation trained by gradient descent
================================================

The classic recommender tutorial, done with this library: factor the
ratings matrix of MovieLens 100k into user and item vectors by stochastic
gradient descent, watch the validation error fall, and use the factors to
predict ratings, recommend, and find similar movies.

The model (Funk's SVD with biases, Koren et al. 2009) predicts

.. math::

   \hat r_{ui} = \mu + b_u + b_i + p_u^\top q_i

and minimises the squared error with L2 regularisation,

.. math::

   \sum_{(u,i)} (r_{ui} - \hat r_{ui})^2
   + \lambda (\|p_u\|^2 + \|q_i\|^2) + \lambda_b (b_u^2 + b_i^2).

Its gradient for one rating, with error :math:`e_{ui} = r_{ui} - \hat r_{ui}`,
gives the updates every tutorial writes by hand (step :math:`\eta`):

.. math::

   b_u \leftarrow b_u + \eta (e_{ui} - \lambda_b b_u), \quad
   p_u \leftarrow p_u + \eta (e_{ui} q_i - \lambda p_u), \quad
   q_i \leftarrow q_i + \eta (e_{ui} p_u - \lambda q_i).

:class:`~sklearn_recs.neural.MatrixFactorization` runs exactly this, on
mini-batches of ratings, with PyTorch computing the gradients and skorch
running the loop; only the rows of the batch are updated (sparse
gradients), so an epoch costs one pass over the ratings.

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

from sklearn_recs.baselines import BiasBaseline
from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.metrics import root_mean_squared_error
from sklearn_recs.model_selection import train_test_split
from sklearn_recs.neural import MatrixFactorization

warnings.simplefilter("ignore")
movies = fetch_movielens("100k")
titles = movies.item_info["title"]
X_train, X_test, y_train, y_test = train_test_split(
    movies.data, movies.target.to_numpy(), random_state=0)

# %%
# Train with three step sizes, and with Adam for comparison.
# ``early_stopping=True`` holds out 10% of each user's training ratings and
# records the validation error of every epoch in ``history_``; a large
# patience lets every run go the full 30 epochs (the best epoch is kept).
# ``lr`` is the step on the mean loss of a batch of ``batch_size=4096``
# ratings: ``lr=20`` is a step of about 0.005 per rating in the updates above.
runs = {"SGD, lr=5": {"lr": 5.0}, "SGD, lr=20": {"lr": 20.0},
        "SGD, lr=60": {"lr": 60.0}, "sparse Adam, lr=0.005": {"optimizer": "sparse_adam",
                                                              "lr": 0.005}}
fig, ax = plt.subplots(figsize=(7, 4.5))
models = {}
for name, params in runs.items():
    model = MatrixFactorization(n_factors=64, batch_size=4096, max_epochs=30,
                                early_stopping=True, callbacks__early_stopping__patience=30,
                                random_state=0, **params)
    models[name] = model.fit(X_train, y_train)
    ax.plot(model.history_[:, "epoch"], np.sqrt(model.history_[:, "valid_loss"]), label=name)
    print(f"{name:24s} test RMSE {root_mean_squared_error(y_test, model.predict(X_test)):.4f}")
baseline = BiasBaseline().fit(X_train, y_train)
baseline_rmse = root_mean_squared_error(y_test, baseline.predict(X_test))
print(f"{'BiasBaseline':24s} test RMSE {baseline_rmse:.4f}")
ax.axhline(baseline_rmse, color="gray", linestyle=":", label="BiasBaseline (test)")
ax.set_xlabel("epoch")
ax.set_ylabel("validation RMSE")
ax.set_ylim(0.9, 1.05)
ax.set_title("Matrix factorisation on ml-100k")
ax.legend()
fig.tight_layout()
fig.savefig(Path(sys.argv[0]).with_suffix(".png"), dpi=100)  # next to this script

# %%
# Too small a step learns slowly; too large a step is noisy and stops
# improving early. The factors beat the biases alone by a few hundredths of
# RMSE, the usual gain on MovieLens.
#
# The fitted model predicts, recommends and compares movies through its
# factors (``item_factors_``):
mf = models["SGD, lr=20"]
print("for user 1:", titles[mf.recommend([1], top_n=5)[0]].tolist())
similar = mf.similar_items([1], top_n=5)[0]  # item 1 is Toy Story
print(f"like {titles[1]}:", titles[similar].tolist())

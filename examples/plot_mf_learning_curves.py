"""
================================================
Learning curves from the skorch training history
================================================

The neural models train through skorch, and keep its per-epoch
``history_`` after ``fit``. With ``early_stopping=True`` a share of each
user's interactions is held out, scored after every epoch, and training
stops when the score has not improved for 5 epochs (the best epoch's
weights are kept). Here: :class:`~sklearn_recs.neural.MatrixFactorization`
on MovieLens 100k ratings for three regularisation strengths (validation
RMSE per epoch), and :class:`~sklearn_recs.neural.ImplicitMatrixFactorization`
trained with BPR (validation NDCG@10 over the full catalogue per epoch).

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

from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.neural import ImplicitMatrixFactorization, MatrixFactorization

warnings.simplefilter("ignore")
movies = fetch_movielens("100k")
X, y = movies.data, movies.target.to_numpy()

# %%
# ``history_[:, "valid_loss"]`` reads one column of the history: the
# validation mean squared error of every epoch. Each curve trains 30
# epochs at the default rate (``lr=135``, falling linearly over
# ``max_epochs``): a weak penalty fits the training ratings within a few
# epochs and then overfits, a strong one keeps improving.
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
for alpha in [0.01, 0.05, 0.2]:
    model = MatrixFactorization(alpha=alpha, max_epochs=30, early_stopping=True,
                                random_state=0).fit(X, y)
    valid_rmse = np.sqrt(model.history_[:, "valid_loss"])
    epochs = model.history_[:, "epoch"]
    line, = left.plot(epochs, valid_rmse, label=f"alpha={alpha}")
    best = int(np.argmin(valid_rmse))
    left.plot(epochs[best], valid_rmse[best], "o", color=line.get_color())
    print(f"alpha={alpha}: {model.n_epochs_} epochs, best validation RMSE "
          f"{valid_rmse[best]:.4f} at epoch {epochs[best]}")
left.set_xlabel("epoch")
left.set_ylabel("validation RMSE")
left.set_title("MatrixFactorization (explicit, SGD)")
left.legend()

# %%
# For the implicit model the validation score is NDCG@10: each held-out
# positive is ranked against the whole catalogue after every epoch.
bpr = ImplicitMatrixFactorization(loss="bpr", max_epochs=20, early_stopping=True,
                                  random_state=0).fit(X)
right.plot(bpr.history_[:, "epoch"], bpr.history_[:, "valid_ndcg"], marker="o")
right.set_xlabel("epoch")
right.set_ylabel("validation NDCG@10")
right.set_title("ImplicitMatrixFactorization (BPR)")
fig.tight_layout()
fig.savefig(Path(sys.argv[0]).with_suffix(".png"), dpi=100)  # next to this script

# %%
# Too little regularisation overfits within a few epochs (the validation
# error turns up: early stopping keeps the best epoch, and stops 5 epochs
# later); the strongest penalty here learns slowest but reaches the lowest
# validation error, late in the 30 epochs. BPR is still improving after the 20 epochs of
# this page: a longer training (``max_epochs``) ranks better.
# The train loss is also in the history (``"train_loss"``, the squared
# error plus the penalty), as are the epoch durations (``"dur"``).

"""
=====================================================
A rating model from embeddings and dense layers (MLP)
=====================================================

The model of the Keras and PyTorch MovieLens tutorials (user and item
embeddings, concatenated, through dense layers with dropout, a sigmoid output
scaled to the rating range) as one estimator: :class:`~sklearn_recs.neural.MLP`
with ``feedback="explicit"``. Early stopping holds out 10% of each user's
ratings; the learning curves come from skorch's history.

Run ``python examples/plot_rating_mlp.py``; the figure is saved as
``rating_mlp.png``.
"""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_recs.datasets import fetch_movielens  # noqa: E402
from sklearn_recs.metrics import root_mean_squared_error  # noqa: E402
from sklearn_recs.model_selection import train_test_split  # noqa: E402
from sklearn_recs.neural import MLP  # noqa: E402

warnings.simplefilter("ignore")
X, y = fetch_movielens(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)

model = MLP(feedback="explicit", mlp_factors=32, hidden_layers=(64, 32), dropout=0.2,
            y_range=(0.0, 5.5), lr=0.002, batch_size=1024, max_epochs=30,
            early_stopping=True, random_state=0)
model.fit(X_train, y_train)
print(f"test RMSE {root_mean_squared_error(y_test, model.predict(X_test)):.3f} "
      f"after {model.n_epochs_} epochs")

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(model.history_[:, "train_loss"], label="train MSE")
ax.plot(model.history_[:, "valid_loss"], label="validation MSE")
ax.set(xlabel="epoch", ylabel="MSE", title="Embeddings + dense layers on ml-latest-small")
ax.legend()
fig.tight_layout()
fig.savefig("rating_mlp.png")

"""
===========================================
Neural collaborative filtering on MovieLens
===========================================

The NCF tutorial (He et al., 2017) with this library: NeuMF pre-trained from
GMF and MLP (both fitted inside NeuMF's ``fit``) on ml-latest-small (embedded: no download), evaluated on each
user's last interaction. Full-catalogue ranking (NDCG@10 over every unseen
movie) is the number to trust; the paper's sampled "1 + 99" protocol is
printed beside it for comparison only (it can rank models differently:
Krichene and Rendle, 2020). The learning curve comes from skorch's history.

Run ``python examples/plot_ncf_movielens.py``; the figure is saved as
``ncf_movielens.png``.
"""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_recs.datasets import fetch_movielens  # noqa: E402
from sklearn_recs.metrics import get_scorer, sampled_ranking_score  # noqa: E402
from sklearn_recs.model_selection import train_test_split  # noqa: E402
from sklearn_recs.neural import GMF, MLP, NeuMF  # noqa: E402

warnings.simplefilter("ignore")
X = fetch_movielens().data
X_train, X_test = train_test_split(X, test_size=1, strategy="leave_last")

model = NeuMF(gmf=GMF(), mlp=MLP(), optimizer="sgd", lr=0.002, max_epochs=4,
              random_state=0).fit(X_train)
ndcg = get_scorer("ndcg@10")
fig, ax = plt.subplots(figsize=(6, 4))
for name, fitted in [("GMF", model.gmf_), ("MLP", model.mlp_), ("NeuMF (pre-trained)", model)]:
    sampled = sampled_ranking_score(fitted, X_test, metric="hit_rate", random_state=0)
    print(f"{name:20s} full NDCG@10 {ndcg(fitted, X_test):.3f}   sampled HR@10 {sampled:.3f}")
    ax.plot(fitted.history_[:, "train_loss"], marker="o", label=name)
ax.set(xlabel="epoch", ylabel="training loss (BCE, 4 negatives)", title="NCF on ml-latest-small")
ax.legend()
fig.tight_layout()
fig.savefig("ncf_movielens.png")

"""
=====================================================
Content-based vs collaborative vs hybrid on MovieLens
=====================================================

A content model (:class:`~sklearn_recs.content.ContentRecommender`, ridge
profiles over genres, tags and title words), a collaborative one
(:class:`~sklearn_recs.neighbors.ItemKNN`, implicit BM25), popularity, and a
:class:`~sklearn_recs.hybrid.RankingBlend` of content and collaborative
scores, compared by NDCG@k for k = 1..20 on a per-user holdout of
ml-latest-small (embedded in the package: no download). Relevant items are
the test ratings >= 4.

Run ``python examples/plot_content_vs_collaborative.py [--quick]``; the
figure is saved as ``content_vs_collaborative.png``.
"""

import argparse
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sklearn_recs.baselines import Popularity  # noqa: E402
from sklearn_recs.content import ContentRecommender  # noqa: E402
from sklearn_recs.datasets import fetch_movielens  # noqa: E402
from sklearn_recs.hybrid import RankingBlend  # noqa: E402
from sklearn_recs.metrics import ndcg_at_k_score  # noqa: E402
from sklearn_recs.model_selection import train_test_split  # noqa: E402
from sklearn_recs.neighbors import ItemKNN  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--quick", action="store_true", help="150 users only")
parser.add_argument("--output", default="content_vs_collaborative.png")
args = parser.parse_args()
warnings.simplefilter("ignore")

bunch = fetch_movielens()
X, y = bunch.data, bunch.target.to_numpy()
if args.quick:
    keep = X["user_id"].isin(np.unique(X["user_id"])[:150]).to_numpy()
    X, y = X[keep], y[keep]
features = bunch.item_info[["genres", "tags", "title"]]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)

content = ContentRecommender(profile="ridge", alpha=5.0)
collaborative = ItemKNN(feedback="implicit", weighting="bm25", n_neighbors=200)
models = {
    "content (ridge)": content,
    "collaborative (ItemKNN)": collaborative,
    "popularity": Popularity(),
    "hybrid 0.3 content + 0.7 ItemKNN": RankingBlend(
        estimators=[("content", content), ("knn", collaborative)], weights=[0.3, 0.7]),
}
liked = X_test[y_test >= 4].groupby("user_id")["item_id"].apply(list)
ks = np.arange(1, 21)
fig, ax = plt.subplots(figsize=(7, 4.5))
for name, model in models.items():
    params = {} if name in ("popularity", "collaborative (ItemKNN)") else {
        "item_features": features}
    model.fit(X_train, y_train, **params)
    users = liked.index[np.isin(liked.index, model.users_)]
    lists = model.recommend(users, top_n=ks.max())
    ndcg = [ndcg_at_k_score(liked[users].tolist(), lists, k=k) for k in ks]
    ax.plot(ks, ndcg, marker="o", markersize=3, label=name)
    print(f"{name:35s} NDCG@10 = {ndcg[9]:.4f}")
ax.set_xlabel("k")
ax.set_ylabel("NDCG@k")
ax.set_title("ml-latest-small, per-user 80/20 holdout (relevant: rating >= 4)")
ax.legend()
fig.tight_layout()
fig.savefig(args.output, dpi=120)
print(f"saved {args.output}")

"""
==========================================================
Two-stage recommending: ItemKNN retrieves, a tree reranks
==========================================================

:class:`~sklearn_recs.hybrid.TwoStageRecommender` lets item KNN propose each
user's best unseen items and a scikit-learn classifier rerank them from
features of each (user, candidate) pair: the KNN score and rank, the scores
of further recommenders, item popularity and user activity (the ratings'
``timestamp`` column is dropped here; kept, it would add time features).
The final score blends the reranker's z-scored output with the KNN's own
order (``generator_weight``). The reranker's
training labels come from a holdout of the training data only, and
``GridSearchCV`` tunes the reranker's depth and the number of candidates
with the package's NDCG@10 scorer, like any scikit-learn model. The data
is ml-latest-small, embedded in the package; the search uses one
per-user validation split of the training part, and the chosen model is
scored once on the held-out test part.
"""

# %%
import warnings

import matplotlib.pyplot as plt
from sklearn.model_selection import GridSearchCV
from sklearn.tree import DecisionTreeClassifier

from sklearn_recs.baselines import Popularity
from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.hybrid import TwoStageRecommender
from sklearn_recs.neighbors import ItemKNN
from sklearn_recs.metrics import make_ranking_scorer
from sklearn_recs.model_selection import PerUserShuffleSplit, train_test_split

warnings.simplefilter("ignore")
X = fetch_movielens("latest-small").data[["user_id", "item_id"]]
X_train, X_test = train_test_split(X, test_size=0.2, random_state=0)
ndcg = make_ranking_scorer("ndcg", k=10)

# %%
# The two-stage model and its grid.
knn = ItemKNN(feedback="implicit", weighting="bm25")
model = TwoStageRecommender(knn, DecisionTreeClassifier(min_samples_leaf=50, random_state=0),
                            feature_recommenders=[("popularity", Popularity())],
                            n_splits=1, random_state=0)  # one holdout: a fast example
search = GridSearchCV(model, {"reranker__max_depth": [2, 6], "n_candidates": [20, 50]},
                      scoring=ndcg, cv=PerUserShuffleSplit(random_state=0))
search.fit(X_train)
print("best parameters:", search.best_params_)

# %%
# The chosen model against item KNN alone, on the test part.
scores = {"ItemKNN": ndcg(knn.fit(X_train), X_test, None),
          "two-stage (tuned)": ndcg(search.best_estimator_, X_test, None)}
for name, value in scores.items():
    print(f"{name}: NDCG@10 = {value:.4f}")
fig, ax = plt.subplots(figsize=(5, 2.5))
ax.barh(list(scores), list(scores.values()))
ax.set_xlabel("test NDCG@10")
fig.tight_layout()

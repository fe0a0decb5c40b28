"""
===================================================
Two-tower retrieval: top-3 movies for a user
===================================================

The TensorFlow Recommenders retrieval tutorial with this library: a user
tower and a movie tower (id embeddings; the movie tower also reads the
genres), trained with an in-batch softmax, served by an exact brute-force
index. A movie added after training gets its vector from its genres alone.

Run ``python examples/two_tower_top3.py``.
"""

import warnings

import pandas as pd

from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.neural import TwoTower

warnings.simplefilter("ignore")
movies = fetch_movielens()
genres = movies.item_genres.astype(float)
titles = movies.item_info["title"]

model = TwoTower(n_factors=32, id_dropout=0.2, random_state=0)
model.fit(movies.data, item_features=genres)

user = movies.data["user_id"].iloc[0]
top3 = model.recommend([user], top_n=3)[0]
print(f"top 3 for user {user}:", list(titles[top3]))

# the index answers any query vector, here the same user's, without seen movies
ids, scores = model.index_.search(model.user_vectors_[[0]], k=3,
                                  exclude=model.interactions_[[0]])
print("brute-force index:", list(titles[ids[0]]))

# a new animated children's comedy, never rated: embedded without retraining
new = pd.DataFrame(0.0, index=[10**6], columns=genres.columns)
new[["Animation", "Children", "Comedy"]] = 1.0
model.add_items(new)
print("movies closest to the new one:",
      list(titles.reindex(model.similar_items([10**6], top_n=3)[0])))

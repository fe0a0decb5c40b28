"""A complete recommender in a few lines: the damped mean rating of each item.

``tests/test_custom_estimator.py`` runs this file and passes the class to
the package's estimator checks; ``custom_estimator.rst`` shows it.
"""

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from sklearn_recs.base import RecommenderMixin


class DampedItemMean(RecommenderMixin, RegressorMixin, BaseEstimator):
    """Predicts each item's mean rating, shrunk towards the global mean.

    ``score(u, i) = (sum of i's ratings + damping * mu) / (n_i + damping)``,
    the same for every user: a "top rated" list that does not trust items
    with few ratings.

    Parameters
    ----------
    damping : float, default=5.0
        Weight of the global mean, in pseudo-ratings.
    """

    def __init__(self, damping=5.0):
        self.damping = damping

    def fit(self, X, y):
        """Learn the damped item means from ratings ``y`` of the pairs ``X``."""
        if not self.damping >= 0:
            raise ValueError(f"DampedItemMean: damping={self.damping!r}; pass a number >= 0.")
        # validates X and y, learns users_, items_ and interactions_ (CSR)
        self._fit_interactions(X, y, implicit=False)
        ratings = self.interactions_
        mu = ratings.data.mean()
        totals = np.asarray(ratings.sum(axis=0)).ravel()
        counts = np.diff(ratings.tocsc().indptr)
        self.item_means_ = (totals + self.damping * mu) / (counts + self.damping)
        return self

    # The one hook every recommender provides: scores of candidate items.
    def _score_users(self, user_codes, item_codes):
        means = self.item_means_ if item_codes is None else self.item_means_[item_codes]
        return np.tile(means, (len(user_codes), 1))

    # Optional: predict() would read _score_users; one lookup is cheaper.
    def _predict_pairs(self, user_codes, item_codes):
        return self.item_means_[item_codes]

"""Metrics for recommenders: rating errors, ranking quality, catalogue reach.

Rating metrics are scikit-learn's own (``root_mean_squared_error``,
``mean_absolute_error``), re-exported here. Ranking metrics compare ranked
top-k lists with each user's relevant items; beyond-accuracy metrics describe
the lists themselves (coverage, diversity, novelty, popularity). Scorers wrap
the ranking metrics for ``GridSearchCV`` and ``cross_validate``.
:func:`sampled_ranking_score` is the opt-in sampled "1 + 99" protocol of the
NCF paper (for comparison with published numbers only; see its warning).
"""

from sklearn.metrics import mean_absolute_error, root_mean_squared_error

from ._beyond import (
    average_popularity_score,
    coverage_score,
    intra_list_diversity_score,
    novelty_score,
)
from ._plot import RankingMetricDisplay
from ._ranking import (
    average_precision_at_k_score,
    hit_rate_at_k_score,
    ndcg_at_k_score,
    precision_at_k_score,
    recall_at_k_score,
    reciprocal_rank_at_k_score,
)
from ._sampled import sampled_ranking_score
from ._scorer import RankingScorer, get_scorer, get_scorer_names, make_ranking_scorer

__all__ = [
    "RankingMetricDisplay",
    "RankingScorer",
    "average_popularity_score",
    "average_precision_at_k_score",
    "coverage_score",
    "get_scorer",
    "get_scorer_names",
    "hit_rate_at_k_score",
    "intra_list_diversity_score",
    "make_ranking_scorer",
    "mean_absolute_error",
    "ndcg_at_k_score",
    "novelty_score",
    "precision_at_k_score",
    "recall_at_k_score",
    "reciprocal_rank_at_k_score",
    "root_mean_squared_error",
    "sampled_ranking_score",
]

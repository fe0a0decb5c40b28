"""The one list of estimators that the package-wide suites run over.

A new estimator is covered by the common checks, the bad-input suite, the
persistence and concurrency tests by adding an instance here: small settings,
so that each fit takes well under a second.
"""

from importlib.util import find_spec

from sklearn.linear_model import LogisticRegression

from sklearn_recs.baselines import BiasBaseline, GlobalMean, Popularity
from sklearn_recs.content import ContentRecommender
from sklearn_recs.decomposition import ImplicitALS
from sklearn_recs.hybrid import RankingBlend, SwitchRecommender, TwoStageRecommender
from sklearn_recs.linear_model import EASE, SLIM, SparseEASE
from sklearn_recs.neighbors import ItemKNN, RP3Beta, UserKNN
from sklearn_recs.neural import (
    GMF,
    MLP,
    ImplicitMatrixFactorization,
    MatrixFactorization,
    NeuMF,
    TwoTower,
)

ESTIMATORS = [
    MatrixFactorization(n_factors=4, max_epochs=3, random_state=0),
    MatrixFactorization(n_factors=4, max_epochs=3, implicit_term=False, lr=1.0, random_state=0),
    ImplicitMatrixFactorization(n_factors=4, max_epochs=3, random_state=0),
    GMF(n_factors=4, max_epochs=2, random_state=0),
    MLP(feedback="explicit", hidden_layers=(8,), max_epochs=2, random_state=0),
    NeuMF(n_factors=4, mlp_factors=4, hidden_layers=(8,), max_epochs=2, random_state=0),
    TwoTower(n_factors=4, max_epochs=2, random_state=0),
    GlobalMean(),
    BiasBaseline(),
    Popularity(),
    ContentRecommender(),
    ContentRecommender(profile="ridge", feedback="implicit"),
    RankingBlend(estimators=[("bias", BiasBaseline()), ("popularity", Popularity())]),
    RankingBlend(estimators=[("bias", BiasBaseline()), ("popularity", Popularity())],
                 normalization="rrf"),
    SwitchRecommender(estimators=[("cold", Popularity()), ("warm", EASE(alpha=10.0))],
                      thresholds=[9]),
    # time_features="auto" reads a DataFrame's "timestamp" column, which an
    # array of the same values lacks (tests/test_two_stage_time.py covers it).
    TwoStageRecommender(EASE(alpha=10.0), LogisticRegression(), n_candidates=10,
                        time_features=None, random_state=0),
    ItemKNN(),
    ItemKNN(feedback="implicit", weighting="bm25", similarity="dot"),
    UserKNN(similarity="msd", centering="mean"),
    UserKNN(feedback="implicit"),
    EASE(alpha=10.0),
    SparseEASE(alpha=10.0, n_neighbors=5),
    ImplicitALS(n_factors=4, max_iter=3, random_state=0),
    # approximate retrieval, where the ann extra (hnswlib) is installed
    *([ImplicitALS(n_factors=4, max_iter=3, random_state=0, retrieval="hnsw")]
      if find_spec("hnswlib") else []),
    SLIM(alpha=0.01),
    SLIM(alpha=0.01, n_neighbors=3, warm_start=True),
    RP3Beta(n_neighbors=5),
]

NEURAL = (MatrixFactorization, ImplicitMatrixFactorization, GMF, MLP, NeuMF, TwoTower)


def is_neural(estimator):
    """Whether ``estimator`` trains a PyTorch module through skorch."""
    return isinstance(estimator, NEURAL)

"""scikit-learn's common checks and the package's recommender checks, for every estimator.

A new estimator is covered by adding an instance to ESTIMATORS.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_recs.baselines import BiasBaseline, GlobalMean, Popularity
from sklearn_recs.content import ContentRecommender
from sklearn_recs.hybrid import RankingBlend
from sklearn_recs.linear_model import EASE, SparseEASE
from sklearn_recs.neighbors import ItemKNN, UserKNN
from sklearn_recs.neural import (
    GMF,
    MLP,
    ImplicitMatrixFactorization,
    MatrixFactorization,
    NeuMF,
    TwoTower,
)
from sklearn_recs.utils.estimator_checks import parametrize_with_recommender_checks

ESTIMATORS = [
    MatrixFactorization(n_factors=4, max_epochs=3, random_state=0),
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
    ItemKNN(),
    ItemKNN(feedback="implicit", weighting="bm25", similarity="dot"),
    UserKNN(similarity="msd", centering="mean"),
    UserKNN(feedback="implicit"),
    EASE(l2_reg=10.0),
    SparseEASE(l2_reg=10.0, n_neighbors=5),
]

# Where the recommender contract truly differs from a feature-based model.
_COLUMNS = (
    "X holds (user id, item id) rows and further columns are ignored by "
    "contract, so X at predict may have other columns than at fit"
)
EXPECTED_FAILED_CHECKS = {
    "check_n_features_in_after_fitting": _COLUMNS,
    "check_dataframe_column_names_consistency": _COLUMNS,
}


_KWARGS = (
    "the check passes the **kwargs catch-all of skorch's prefixed parameters "
    "(optimizer__*, module__*, callbacks__*) to set_params as a parameter "
    "named 'kwargs', which set_params rejects like any unknown name"
)
_TORCH_EXPECTED_FAILED_CHECKS = {
    **EXPECTED_FAILED_CHECKS,
    "check_do_not_raise_errors_in_init_or_set_params": _KWARGS,
}


def _expected_failed_checks(estimator):
    if isinstance(estimator, (MatrixFactorization, ImplicitMatrixFactorization, GMF, MLP,
                              NeuMF, TwoTower)):
        return _TORCH_EXPECTED_FAILED_CHECKS
    return EXPECTED_FAILED_CHECKS


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@parametrize_with_recommender_checks(ESTIMATORS)
def test_recommender_contract(estimator, check):
    check(estimator)

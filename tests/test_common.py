"""scikit-learn's common checks and the package's recommender checks, for every estimator.

A new estimator is covered by adding an instance to ESTIMATORS.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_recs.baselines import BiasBaseline, GlobalMean, Popularity
from sklearn_recs.utils.estimator_checks import parametrize_with_recommender_checks

ESTIMATORS = [
    GlobalMean(),
    BiasBaseline(),
    Popularity(),
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


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@parametrize_with_recommender_checks(ESTIMATORS)
def test_recommender_contract(estimator, check):
    check(estimator)

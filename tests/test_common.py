"""scikit-learn's common checks and the package's recommender checks, for every estimator.

A new estimator is covered by adding an instance to ESTIMATORS in
``tests/_estimators.py``.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from _estimators import ESTIMATORS, is_neural

from sklearn_recs.utils.estimator_checks import parametrize_with_recommender_checks

# scikit-learn's checks draw random small ints as (user, item) ids, so their X
# repeats pairs: every model aggregates them and says so, as documented. They
# fit ContentRecommender on ids alone: it says it falls back to one-hot items.
pytestmark = [
    pytest.mark.filterwarnings(
        r"ignore:.*X has \d+ duplicate \(user, item\) row:sklearn_recs.exceptions.DataWarning"),
    pytest.mark.filterwarnings(
        "ignore:ContentRecommender. fit without item_features:sklearn_recs.exceptions.DataWarning"),
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
    if is_neural(estimator):
        return _TORCH_EXPECTED_FAILED_CHECKS
    return EXPECTED_FAILED_CHECKS


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@parametrize_with_recommender_checks(ESTIMATORS)
def test_recommender_contract(estimator, check):
    check(estimator)

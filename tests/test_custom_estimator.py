"""The "write your own recommender" page: its example runs and passes the
package's estimator checks, and computes what it says."""

import importlib.util
import sys
from pathlib import Path

import numpy as np

from sklearn_recs.utils._testing import tiny_ratings
from sklearn_recs.utils.estimator_checks import check_recommender

EXAMPLE = Path(__file__).parents[1] / "docs" / "user_guide" / "custom_estimator.py"


def _example_class():
    """The example's class, from its module loaded as ``custom_estimator`` (picklable)."""
    if "custom_estimator" not in sys.modules:
        spec = importlib.util.spec_from_file_location("custom_estimator", EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        sys.modules["custom_estimator"] = module
        spec.loader.exec_module(module)
    return sys.modules["custom_estimator"].DampedItemMean


def test_example_passes_the_estimator_checks():
    check_recommender(_example_class()(damping=2.0))


def test_example_computes_the_damped_mean():
    X, y = tiny_ratings()
    model = _example_class()(damping=2.0).fit(X, y)
    frame = X.assign(rating=np.asarray(y))
    mu = frame.groupby(["user_id", "item_id"])["rating"].mean().mean()
    item = model.items_[0]
    ratings = frame[frame["item_id"] == item].groupby("user_id")["rating"].mean()
    expected = (ratings.sum() + 2.0 * mu) / (len(ratings) + 2.0)
    np.testing.assert_allclose(model.predict(X[X["item_id"] == item].iloc[:1]), [expected])

"""Implicit models warn when ``y`` looks like explicit ratings (read as weights)."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone

from _estimators import ESTIMATORS
from sklearn_recs.exceptions import DataWarning
from sklearn_recs.neighbors import ItemKNN
from sklearn_recs.utils.validation import warn_if_ratings

MESSAGE = r"looks like explicit ratings \(values from 1 to 5\).*y=None.*ratings >= 4"


def _data():
    X = np.array([[u, i] for u in range(6) for i in range(5) if (u + 2 * i) % 3])
    return X, (np.arange(len(X)) % 5 + 1).astype(float)


IMPLICIT = [e for e in ESTIMATORS
            if not e.__sklearn_tags__().target_tags.required
            and type(e).__name__ not in ("GMF", "MLP", "NeuMF", "TwoTower")
            and getattr(e, "weighting", None) is None]


@pytest.mark.parametrize("estimator", IMPLICIT, ids=lambda e: type(e).__name__)
@pytest.mark.filterwarnings(  # ContentRecommender fitted without item features
    "ignore:.*fit without item_features:sklearn_recs.exceptions.DataWarning")
def test_ratings_as_weights_warn(estimator):
    X, ratings = _data()
    with pytest.warns(DataWarning, match=MESSAGE):
        clone(estimator).fit(X, ratings)


@pytest.mark.parametrize("estimator", IMPLICIT, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("weights", ["none", "counts", "binary", "scores"])
def test_weights_do_not_warn(estimator, weights):
    X, ratings = _data()
    y = {"none": None, "counts": ratings * 3, "binary": (ratings >= 4).astype(float),
         "scores": ratings / 7}[weights]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clone(estimator).fit(X, y)
    assert not [w for w in caught if "looks like explicit ratings" in str(w.message)]


def test_a_weighting_choice_does_not_warn():
    X, ratings = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        ItemKNN(feedback="implicit", weighting="bm25", similarity="dot").fit(X, ratings)


@pytest.mark.parametrize("values, warns", [
    ([0.5, 5.0], True),       # the half-star scale
    ([1.0, 2.0, 5.0], True),  # integer stars
    ([4.0, 4.0], False),      # one value: a constant weight
    ([1.0, 6.0], False),      # beyond 5: counts
    ([0.4, 1.0], False),      # below 0.5
    ([1.25, 2.0], False),     # off the half-star grid
    ([], False),
])
def test_warn_if_ratings_boundaries(values, warns):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_ratings(np.array(values))
    assert len(caught) == warns

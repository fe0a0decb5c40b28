"""Request-time filters: ``recommend(..., exclude=...)``, in every model and
in the served export (the estimator checks run the brute-force reference
over every estimator; these cover the remaining paths)."""

import io
import warnings

import numpy as np
import pytest

from sklearn_recs.baselines import Popularity
from sklearn_recs.exceptions import DataWarning
from sklearn_recs.linear_model import EASE
from sklearn_recs.serving import load_npz, save_npz
from sklearn_recs.utils._testing import tiny_ratings


@pytest.fixture(scope="module")
def ease():
    X, _ = tiny_ratings()
    return EASE(alpha=10.0).fit(X)


def test_exported_model_filters_the_same(ease):
    buffer = io.BytesIO()
    save_npz(ease, buffer)
    buffer.seek(0)
    served = load_npz(buffer)
    users = ease.users_[:5]
    exclude = [[0, 1], [2], [], [3, 4, 5], [0]]
    np.testing.assert_array_equal(served.recommend(users, 4, exclude=exclude),
                                  ease.recommend(users, 4, exclude=exclude))
    ids, scores = served.recommend(users, 10, exclude=[0, 1, 2], return_scores=True)
    # Slots past a user's remaining items are -inf, not recommendations.
    assert not np.isin(ids[np.isfinite(scores)], [0, 1, 2]).any()


def test_exclude_with_candidates_never_leaks(ease):
    candidates = np.arange(8)
    banned = [1, 3, 5]
    ids, scores = ease.recommend(ease.users_, 8, items=candidates, exclude=banned,
                                 exclude_seen=False, return_scores=True)
    # Five candidates are left for each user; the last three slots are -inf.
    assert np.isfinite(scores[:, :5]).all() and np.isneginf(scores[:, 5:]).all()
    assert not np.isin(ids[:, :5], banned).any()
    assert np.isin(ids, candidates).all()


def test_exclude_everything_leaves_minus_inf_slots():
    X = np.array([[0, 10], [0, 11], [1, 10], [1, 12], [2, 13]])
    model = Popularity().fit(X)
    ids, scores = model.recommend([0, 1], 3, exclude=[[12, 13], [11]],
                                  return_scores=True)
    # user 0 saw 10, 11 and excludes 12, 13: nothing left.
    assert np.isneginf(scores[0]).all()
    # user 1 saw 10, 12 and excludes 11: only 13 left, then -inf slots.
    assert ids[1, 0] == 13 and np.isneginf(scores[1, 1:]).all()


def test_per_user_lists_must_match_users(ease):
    with pytest.raises(ValueError, match="exclude has 2 lists but 3 users"):
        ease.recommend(ease.users_[:3], 5, exclude=[[1], [2]])


def test_unknown_ids_only_warn(ease):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids = ease.recommend(ease.users_[:2], 5, exclude=[[999, 1], [-1]])
    assert [str(w.message) for w in caught if w.category is DataWarning] == [
        "EASE: 2 item id(s) in exclude were not seen at fit; they were ignored."]
    assert 1 not in ids[0]

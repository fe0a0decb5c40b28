"""Recommender checks that every estimator of sklearn_recs must pass.

They complement scikit-learn's ``parametrize_with_checks`` with the parts of
the contract that scikit-learn does not know: ``recommend``,
``similar_items`` and ``explain``, seen-item exclusion, cold-start fallbacks, string ids,
and model selection with ranking scorers. A new estimator is covered by
adding an instance to the list given to
:func:`parametrize_with_recommender_checks`.
"""

from __future__ import annotations

import pickle
import warnings
from functools import partial
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from ..exceptions import ColdStartWarning, DataWarning
from ._testing import tiny_ratings

__all__ = ["check_recommender", "parametrize_with_recommender_checks"]


def _is_explicit(estimator) -> bool:
    return estimator.__sklearn_tags__().target_tags.required


def _data(estimator, *, string_ids: bool = True):
    """Ratings for explicit estimators, interactions (y=None) for implicit ones."""
    X, y = tiny_ratings()
    if not string_ids:
        X = X.assign(user_id=X["user_id"].str[1:].astype(int))
    return (X, y) if _is_explicit(estimator) else (X, None)


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return clone(estimator).fit(X, y)


def _all_users(model) -> np.ndarray:
    return model.users_


def check_recommend_shape_and_order(name: str, estimator: Any) -> None:
    """Lists have the right shape, known item ids, no repeats, best first."""
    X, y = _data(estimator)
    model = _fit(estimator, X, y)
    ids, scores = model.recommend(_all_users(model), top_n=5, return_scores=True)
    assert ids.shape == scores.shape == (model.n_users_, 5), name
    assert np.isin(ids, model.items_).all(), name
    assert all(len(set(row)) == len(row) for row in ids.tolist()), name
    assert not np.isnan(scores).any(), name
    assert (np.diff(scores, axis=1) <= 1e-12).all(), f"{name}: scores not sorted"


def check_recommend_exclude_seen(name: str, estimator: Any) -> None:
    """Items seen at fit never appear with exclude_seen=True."""
    X, y = _data(estimator)
    model = _fit(estimator, X, y)
    ids, scores = model.recommend(_all_users(model), top_n=model.n_items_,
                                  return_scores=True)
    seen = set(zip(X["user_id"], X["item_id"]))
    for user, row, row_scores in zip(model.users_, ids, scores):
        valid = row[np.isfinite(row_scores)]
        assert not any((user, item) in seen for item in valid), name
        n_unseen = model.n_items_ - sum((user, item) in seen for item in model.items_)
        assert len(valid) == n_unseen, f"{name}: {user} lost unseen candidates"
    full = model.recommend(_all_users(model), top_n=model.n_items_, exclude_seen=False)
    assert all(sorted(row) == sorted(model.items_) for row in full.tolist()), name


def check_recommend_batch_equals_single(name: str, estimator: Any) -> None:
    """Recommending for all users at once equals recommending one by one."""
    X, y = _data(estimator)
    model = _fit(estimator, X, y)
    users = _all_users(model)
    batch, batch_scores = model.recommend(users, top_n=4, return_scores=True)
    for i, user in enumerate(users[:8]):
        single, single_scores = model.recommend([user], top_n=4, return_scores=True)
        np.testing.assert_array_equal(single[0], batch[i], err_msg=name)
        np.testing.assert_allclose(single_scores[0], batch_scores[i], rtol=1e-6,
                                   err_msg=name)


def check_recommend_candidates(name: str, estimator: Any) -> None:
    """``items=`` restricts the candidates; n_items is capped at their number."""
    X, y = _data(estimator)
    model = _fit(estimator, X, y)
    candidates = model.items_[::3]
    ids = model.recommend(_all_users(model), top_n=1000, items=candidates,
                          exclude_seen=False)
    assert ids.shape == (model.n_users_, len(candidates)), name
    assert np.isin(ids, candidates).all(), name
    full, full_scores = model.recommend(_all_users(model), top_n=model.n_items_,
                                        exclude_seen=False, return_scores=True)
    # The restricted ranking is the full ranking filtered to the candidates.
    for row, sub in zip(full, ids):
        np.testing.assert_array_equal(row[np.isin(row, candidates)], sub, err_msg=name)


def check_recommend_exclude(name: str, estimator: Any) -> None:
    """``exclude=`` (one list for all users, or one per user) leaves those
    items out of the full ranking, refills the lists, and ignores unknown
    ids with a warning; unknown users' lists are filtered too."""
    X, y = _data(estimator)
    model = _fit(estimator, X, y)
    users = np.append(_all_users(model)[:6], "nobody")
    n = 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        full = model.recommend(users, top_n=model.n_items_)
        everyone = list(full[:, :2].ravel()[:3])  # items near the top of some lists
        per_user = [list(row[[0, 2]]) for row in full]
        for exclude, lists in ((everyone, [everyone] * len(users)),
                               (per_user, per_user)):
            ids = model.recommend(users, top_n=n, exclude=exclude)
            for row, full_row, banned in zip(ids, full, lists):
                expected = [item for item in full_row if item not in set(banned)][:n]
                assert row.tolist() == expected, f"{name}: exclude={exclude!r}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ids = model.recommend(users, top_n=n, exclude=[everyone[0], -999, -998])
    assert not np.isin(ids, everyone[:1]).any(), name
    assert any(issubclass(w.category, DataWarning) and "2 item id(s)" in str(w.message)
               for w in caught), name


def check_cold_start(name: str, estimator: Any) -> None:
    """Unknown users get the popularity ranking, unknown pairs finite scores, with warnings."""
    X, y = _data(estimator)
    model = _fit(estimator, X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids = model.recommend(["nobody", "nobody either"], top_n=3)
    assert any(issubclass(w.category, ColdStartWarning) and "2 of 2" in str(w.message)
               for w in caught), name
    counts = X["item_id"].value_counts()
    expected = sorted(counts.index, key=lambda item: (-counts[item], item))[:3]
    np.testing.assert_array_equal(ids[0], expected, err_msg=name)
    np.testing.assert_array_equal(ids[1], expected, err_msg=name)
    pairs = pd.DataFrame({"user_id": ["nobody", X["user_id"].iloc[0], "nobody"],
                          "item_id": [X["item_id"].iloc[0], -1, -1]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = model.predict(pairs)
    assert np.isfinite(scores).all(), name
    assert any(issubclass(w.category, ColdStartWarning) and "3 of 3" in str(w.message)
               for w in caught), name


def check_pickle_round_trip(name: str, estimator: Any) -> None:
    """A pickled model predicts and recommends exactly as the original."""
    X, y = _data(estimator)
    model = _fit(estimator, X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(model.predict(X), restored.predict(X), err_msg=name)
    np.testing.assert_array_equal(model.recommend(model.users_, top_n=5),
                                  restored.recommend(model.users_, top_n=5),
                                  err_msg=name)


def check_string_and_int_ids(name: str, estimator: Any) -> None:
    """String ids and int ids in the same order give the same model."""
    X_str, y = _data(estimator)
    X_int, _ = _data(estimator, string_ids=False)
    model_str = _fit(estimator, X_str, y)
    model_int = _fit(estimator, X_int, y)
    np.testing.assert_allclose(model_str.predict(X_str), model_int.predict(X_int),
                               rtol=1e-6, atol=1e-9, err_msg=name)
    np.testing.assert_array_equal(
        model_str.recommend(model_str.users_, top_n=5),
        model_int.recommend(model_int.users_, top_n=5), err_msg=name)


def check_dataframe_equals_ndarray(name: str, estimator: Any) -> None:
    """A DataFrame and the same values as an ndarray give the same model."""
    X, y = _data(estimator, string_ids=False)
    model_df = _fit(estimator, X, y)
    model_np = _fit(estimator, X.to_numpy(), None if y is None else list(y))
    np.testing.assert_allclose(model_df.predict(X), model_np.predict(X.to_numpy()),
                               rtol=1e-6, atol=1e-9, err_msg=name)
    np.testing.assert_array_equal(model_df.recommend(model_df.users_, top_n=5),
                                  model_np.recommend(model_np.users_, top_n=5),
                                  err_msg=name)


def check_deterministic(name: str, estimator: Any) -> None:
    """Two fits (with the same random_state, where there is one) agree."""
    X, y = _data(estimator)
    if "random_state" in estimator.get_params():
        estimator = clone(estimator).set_params(random_state=0)
    first, second = _fit(estimator, X, y), _fit(estimator, X, y)
    np.testing.assert_array_equal(first.predict(X), second.predict(X), err_msg=name)


def check_grid_search_with_ranking_scorer(name: str, estimator: Any) -> None:
    """The estimator clones, fits and scores inside GridSearchCV on NDCG@5."""
    from ..metrics import make_ranking_scorer

    X, y = _data(estimator)
    rows = np.arange(len(X))
    test = rows % 4 == 0
    cv = [(rows[~test], rows[test])]
    search = GridSearchCV(estimator, {}, cv=cv,
                          scoring=make_ranking_scorer("ndcg", k=5), error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        search.fit(X, y)
    assert 0.0 <= search.best_score_ <= 1.0, name
    assert search.best_estimator_.n_users_ == X["user_id"].nunique(), name


def check_similar_items(name: str, estimator: Any) -> None:
    """similar_items excludes the query item and sorts by similarity."""
    X, y = _data(estimator)
    model = _fit(estimator, X, y)
    if not hasattr(model, "similar_items"):
        return
    ids, scores = model.similar_items(model.items_, top_n=4, return_scores=True)
    assert ids.shape == (model.n_items_, 4), name
    assert not (ids == model.items_[:, None]).any(), name
    assert (np.diff(scores, axis=1) <= 1e-12).all(), name


def check_explain(name: str, estimator: Any) -> None:
    """explain (where offered): its exact rows sum to predict for every pair,
    sources are known ids, ``n_contributions`` cuts the sources, unseen
    users are an error naming them."""
    X, y = _data(estimator)
    model = _fit(estimator, X, y)
    if not hasattr(model, "explain"):
        return
    users = np.repeat(model.users_[::4], 3)
    items = np.resize(model.items_[::3], len(users))
    why = model.explain(users, items)
    assert list(why.columns) == ["user", "item", "source", "kind", "contribution",
                                 "exact"], name
    exact = why[why["exact"].astype(bool)]
    sums = exact.groupby(["user", "item"])["contribution"].sum()
    totals = np.array([sums.get((u, i), 0.0) for u, i in zip(users, items)])
    pairs = pd.DataFrame({"user_id": users, "item_id": items})
    np.testing.assert_allclose(totals, model.predict(pairs), rtol=1e-5, atol=1e-5,
                               err_msg=f"{name}: the exact terms do not sum to predict")
    for kind, ids in (("item", model.items_), ("similar_item", model.items_),
                      ("user", model.users_)):
        assert np.isin(why.loc[why["kind"] == kind, "source"], ids).all(), name
    cut = model.explain(users, items, n_contributions=1)
    named = cut["kind"].isin(["item", "user", "feature", "similar_item"])
    assert (named.groupby([cut["user"], cut["item"]]).sum() <= 1).all(), name
    assert (~named).sum() == (~why["kind"].isin(
        ["item", "user", "feature", "similar_item"])).sum(), name
    try:
        model.explain(["nobody"], items[:1])
    except ValueError as error:
        assert "nobody" in str(error), name
    else:
        raise AssertionError(f"{name}: explain accepted an unseen user")


def check_partial_fit_new_ids(name: str, estimator: Any) -> None:
    """partial_fit grows the vocabularies with new users and items (where offered).

    After ``fit(A)`` then ``partial_fit(B)``, ``users_``, ``items_`` and
    ``interactions_`` cover both, encoded as ``fit`` on both would encode
    them, and the new users are known (no cold-start fallback); the first
    ``partial_fit`` of an unfitted model fits it.
    """
    if not hasattr(estimator, "partial_fit"):
        return
    X, y = _data(estimator)
    new = X["user_id"].isin(X["user_id"].unique()[-3:]) | X["item_id"].isin(
        X["item_id"].unique()[-2:])
    y_a, y_b = (None, None) if y is None else (y[~new], y[new])
    model = _fit(estimator, X[~new], y_a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.partial_fit(X[new], y_b)
        first = clone(estimator).partial_fit(X[~new], y_a)
    assert_array_equal(model.users_, np.sort(X["user_id"].unique()), name)
    assert_array_equal(model.items_, np.sort(X["item_id"].unique()), name)
    assert model.interactions_.shape == (model.n_users_, model.n_items_) == (
        len(model.users_), len(model.items_)), name
    assert model.interactions_.nnz == len(X), name
    with warnings.catch_warnings():
        warnings.simplefilter("error", ColdStartWarning)
        ids = model.recommend(X.loc[new, "user_id"].unique(), top_n=3)
    assert np.isin(ids, model.items_).all(), name
    assert_array_equal(first.users_, np.sort(X.loc[~new, "user_id"].unique()), name)


_CHECKS = (
    check_recommend_shape_and_order,
    check_recommend_exclude_seen,
    check_recommend_batch_equals_single,
    check_recommend_candidates,
    check_recommend_exclude,
    check_cold_start,
    check_pickle_round_trip,
    check_string_and_int_ids,
    check_dataframe_equals_ndarray,
    check_deterministic,
    check_grid_search_with_ranking_scorer,
    check_similar_items,
    check_explain,
    check_partial_fit_new_ids,
)


def _yield_checks(estimator) -> Iterator[Callable[[Any], None]]:
    name = type(estimator).__name__
    for check in _CHECKS:
        yield partial(check, name)


def check_recommender(estimator: Any) -> None:
    """Run every recommender check on one estimator.

    Parameters
    ----------
    estimator : estimator instance
        An unfitted recommender of this package.

    Examples
    --------
    >>> from sklearn_recs.baselines import Popularity
    >>> from sklearn_recs.utils.estimator_checks import check_recommender
    >>> check_recommender(Popularity())
    """
    for check in _yield_checks(estimator):
        check(estimator)


def parametrize_with_recommender_checks(estimators: list) -> Any:
    """Pytest parametrisation over (estimator, check) pairs.

    Parameters
    ----------
    estimators : list of estimator instances
        The recommenders to check.

    Returns
    -------
    decorator : pytest.mark.parametrize
        Gives a test the arguments ``estimator`` and ``check``.

    Examples
    --------
    >>> from sklearn_recs.baselines import Popularity
    >>> from sklearn_recs.utils.estimator_checks import (
    ...     parametrize_with_recommender_checks)
    >>> @parametrize_with_recommender_checks([Popularity()])
    ... def test_recommender(estimator, check):
    ...     check(estimator)
    """
    import pytest

    def ids(value):
        if hasattr(value, "func"):
            return value.func.__name__
        return type(value).__name__

    cases = [(est, check) for est in estimators for check in _yield_checks(est)]
    return pytest.mark.parametrize("estimator, check", cases, ids=ids)

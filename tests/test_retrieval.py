"""Approximate retrieval, ``retrieval="hnsw"``: lists against a brute-force
ranking of the fitted factors, exclusions, determinism, the export.

The tests that build a graph need hnswlib (the ``ann`` extra) and are
skipped without it; the error raised without it is tested either way.
"""

import io
import os
import pickle
import sys
from importlib.util import find_spec

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_recs import _retrieval
from sklearn_recs.datasets import make_interactions
from sklearn_recs.decomposition import ImplicitALS
from sklearn_recs.exceptions import ColdStartWarning, InvalidFileError
from sklearn_recs.neural import ImplicitMatrixFactorization, MatrixFactorization, TwoTower
from sklearn_recs.serving import load_npz, save_npz

needs_hnswlib = pytest.mark.skipif(find_spec("hnswlib") is None,
                                   reason="hnswlib (the ann extra) is not installed")

TOP_N = 10
FACTOR_MODELS = [
    ImplicitALS(n_factors=16, max_iter=4, random_state=0),
    ImplicitMatrixFactorization(n_factors=16, max_epochs=2, random_state=0),
    MatrixFactorization(n_factors=16, max_epochs=2, random_state=0),
    TwoTower(n_factors=16, max_epochs=1, random_state=0),
]


@pytest.fixture(scope="module")
def data():
    """2,000 items, 300 users; ratings for MatrixFactorization."""
    bunch = make_interactions(n_users=300, n_items=2000, n_interactions=6000,
                              implicit=True, random_state=0, as_frame=False)
    X = bunch.data[:, :2]
    y = 1.0 + (bunch.target % 5)
    return X, y


@pytest.fixture
def fetched(monkeypatch):
    """The (number of queries, items fetched) of each search of the graph."""
    calls = []
    search = _retrieval.HNSWIndex._search
    monkeypatch.setattr(_retrieval.HNSWIndex, "_search",
                        lambda self, q, k, *args: (calls.append((len(q), k))
                                                   or search(self, q, k, *args)))
    return calls


def _fit(estimator, data, **params):
    X, y = data
    model = clone(estimator).set_params(**params)
    return model.fit(X, y) if isinstance(model, MatrixFactorization) else model.fit(X)


def _brute_force(model):
    """Every known user's scores of every item, from the fitted arrays by hand."""
    if isinstance(model, TwoTower):
        return model.user_vectors_.astype(float) @ model.item_vectors_.T / model.temperature
    scores = model.user_factors_.astype(float) @ model.item_factors_.T.astype(float)
    if hasattr(model, "item_bias_"):
        scores += model.item_bias_
    if hasattr(model, "user_bias_"):
        scores += (model.global_mean_ + model.user_bias_)[:, None]
    return scores


def _ranked(scores, banned):
    """Item codes by decreasing score, the ``banned`` (a boolean mask) left out."""
    scores = np.where(banned, -np.inf, scores)
    return np.argsort(-scores, axis=1, kind="stable")[:, :TOP_N]


def _recall(found, truth):
    return np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, truth)])


@needs_hnswlib
@pytest.mark.parametrize("estimator", FACTOR_MODELS, ids=lambda e: type(e).__name__)
def test_lists_match_brute_force_and_scores_are_exact(estimator, data, monkeypatch):
    searched = []
    search = _retrieval.HNSWIndex._search
    monkeypatch.setattr(_retrieval.HNSWIndex, "_search",
                        lambda self, q, *args, **kwargs: (searched.append(len(q))
                                                          or search(self, q, *args, **kwargs)))
    model = _fit(estimator, data, retrieval="hnsw", retrieval_params={"ef_search": 50})
    users = model.users_
    codes, scores = model.recommend(users, TOP_N, return_scores=True)
    # the graph ranked every user but those who could need over a quarter of
    # the catalogue fetched (the first search), the others exactly
    need = TOP_N + np.diff(model.interactions_.indptr)
    assert searched[0] == (need <= model.n_items_ // 4).sum() >= 0.95 * len(users)
    item_codes = model._item_index.get_indexer(codes.ravel()).reshape(codes.shape)
    brute = _brute_force(model)
    seen = model.interactions_.toarray() > 0
    truth = _ranked(brute, seen)
    assert _recall(item_codes, truth) >= 0.95
    assert not np.take_along_axis(seen, item_codes, axis=1).any()
    # the returned scores are the model's, best first
    np.testing.assert_allclose(scores, np.take_along_axis(brute, item_codes, axis=1),
                               rtol=1e-5, atol=1e-5)
    assert (np.diff(scores, axis=1) <= 0).all()


@needs_hnswlib
def test_excluded_items_are_never_returned_and_lists_stay_full(data, fetched):
    model = _fit(FACTOR_MODELS[0], data, retrieval="hnsw",
                 retrieval_params={"ef_search": 20, "M": 48})
    users = model.users_[:60]
    brute = _brute_force(model)[:60]
    seen = model.interactions_[:60].toarray() > 0
    best = _ranked(brute, seen)
    # per user: the exact top 10 and 290 random items, so that most lists are
    # short after the first fetch and are fetched again, deeper, in one batch
    rng = np.random.default_rng(0)
    per_user = [np.r_[top, rng.choice(model.n_items_, 290, replace=False)] for top in best]
    exclude = [model.items_[codes].tolist() for codes in per_user]
    found, scores = model.recommend(users, TOP_N, exclude=exclude, return_scores=True)
    banned = seen.copy()
    for row, codes in enumerate(per_user):
        banned[row, codes] = True
    found_codes = model._item_index.get_indexer(found.ravel()).reshape(found.shape)
    # the first fetch (ef_search = 20 items), then the short lists in
    # batches twice as deep each time, until they fill (at the latest at a
    # quarter of the catalogue, which 10 + about 300 excluded items fill)
    graph = (TOP_N + banned.sum(axis=1) <= model.n_items_ // 4).sum()  # the others: exact
    assert fetched[0] == (graph, 20) and graph >= 50
    assert fetched[1] == (graph, 40)  # the top 10 excluded: no list fills from 20
    depths = [k for _, k in fetched[1:]]
    assert depths == sorted(depths) and set(depths) <= {40, 80, 160, 320, model.n_items_ // 4}
    assert np.isfinite(scores).all()
    assert not np.take_along_axis(banned, found_codes, axis=1).any()
    assert _recall(found_codes, _ranked(brute, banned)) >= 0.9
    # a flat list, for every user
    flat = model.items_[best[:, 0]].tolist()
    found = model.recommend(users, TOP_N, exclude=flat)
    assert not np.isin(found, flat).any()


@needs_hnswlib
def test_refetched_lists_equal_the_exact_ones_where_the_graph_is_exact(data, fetched):
    # a catalogue small enough, and a graph dense enough, for the graph to
    # find the exact top items: the lists of users whose first fetch is all
    # excluded, fetched again deeper, equal the exact model's
    X, _ = data
    X = X[X[:, 1] < 400]
    exact = ImplicitALS(n_factors=8, max_iter=3, random_state=0).fit(X)
    hnsw = clone(exact).set_params(retrieval="hnsw",
                                   retrieval_params={"ef_search": 10, "M": 64,
                                                     "ef_construction": 400}).fit(X)
    users = exact.users_[:50]
    rng = np.random.default_rng(1)
    top = exact.recommend(users, 20, exclude_seen=False)  # more than any first fetch
    exclude = [np.r_[first, exact.items_[rng.choice(exact.n_items_, 40, replace=False)]]
               for first in top]
    for k in (3, 10):
        fetched.clear()
        got = hnsw.recommend(users, k, exclude=exclude, return_scores=True)
        want = exact.recommend(users, k, exclude=exclude, return_scores=True)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_allclose(got[1], want[1], rtol=1e-5)
        # every user the graph ranks (all but those with many seen items)
        # fetched again, twice as deep
        assert fetched[0][0] >= 40 and fetched[0][1] == max(2 * k, 10)
        assert fetched[1] == (fetched[0][0], 2 * fetched[0][1])


@needs_hnswlib
def test_exclude_seen_is_honoured_and_can_be_turned_off(data):
    model = _fit(FACTOR_MODELS[0], data, retrieval="hnsw")
    brute = _brute_force(model)
    seen = model.interactions_.toarray() > 0
    unfiltered = model._item_index.get_indexer(
        model.recommend(model.users_, TOP_N, exclude_seen=False).ravel()).reshape(-1, TOP_N)
    assert _recall(unfiltered, _ranked(brute, np.zeros_like(seen))) >= 0.95
    assert np.take_along_axis(seen, unfiltered, axis=1).any()  # the fit items rank high
    filtered = model._item_index.get_indexer(
        model.recommend(model.users_, TOP_N).ravel()).reshape(-1, TOP_N)
    assert not np.take_along_axis(seen, filtered, axis=1).any()


@needs_hnswlib
def test_same_random_state_same_lists(data):
    first = _fit(FACTOR_MODELS[1], data, retrieval="hnsw", retrieval_params={"ef_search": 10})
    second = _fit(FACTOR_MODELS[1], data, retrieval="hnsw", retrieval_params={"ef_search": 10})
    np.testing.assert_array_equal(first.recommend(first.users_, TOP_N),
                                  second.recommend(second.users_, TOP_N))


@needs_hnswlib
def test_candidate_subsets_and_unknown_users_are_ranked_as_exact(data):
    exact = _fit(FACTOR_MODELS[0], data)
    hnsw = _fit(FACTOR_MODELS[0], data, retrieval="hnsw")
    items = exact.items_[::3]
    users = exact.users_[:20]
    np.testing.assert_array_equal(hnsw.recommend(users, TOP_N, items=items),
                                  exact.recommend(users, TOP_N, items=items))
    with pytest.warns(ColdStartWarning, match="unseen at fit"):
        cold = hnsw.recommend([-1], TOP_N)
    with pytest.warns(ColdStartWarning, match="unseen at fit"):
        np.testing.assert_array_equal(cold, exact.recommend([-1], TOP_N))


@needs_hnswlib
@pytest.mark.parametrize("estimator", [FACTOR_MODELS[1], FACTOR_MODELS[3]],
                         ids=lambda e: type(e).__name__)
def test_served_and_unpickled_models_rebuild_the_same_graph(estimator, data):
    model = _fit(estimator, data, retrieval="hnsw", retrieval_params={"ef_search": 10, "M": 8})
    users = model.users_[:100]
    exclude = [model.items_[:k].tolist() for k in range(100)]
    expected = model.recommend(users, TOP_N, exclude=exclude, return_scores=True)
    buffer = io.BytesIO()
    save_npz(model, buffer)
    served = load_npz(io.BytesIO(buffer.getvalue()))
    for copy in (served, pickle.loads(pickle.dumps(model))):
        got = copy.recommend(users, TOP_N, exclude=exclude, return_scores=True)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_allclose(got[1], expected[1])


@needs_hnswlib
@pytest.mark.parametrize("member, value, message", [
    ("hnsw_M", np.int64(100_000), "hnsw_M.*must be in"),
    ("retrieval", np.array("annoy"), "must be 'hnsw'"),
    ("hnsw_seed", None, "hnsw_seed.*missing"),
])
def test_load_refuses_bad_retrieval_members(data, member, value, message):
    model = _fit(FACTOR_MODELS[0], data, retrieval="hnsw")
    with pytest.raises(InvalidFileError, match=message):
        load_npz(_with_members(model, **{member: value}))


def _with_members(model, **members):
    """``model``'s export with ``members`` set (None: removed), as a file to load."""
    buffer = io.BytesIO()
    save_npz(model, buffer)
    flat = dict(np.load(io.BytesIO(buffer.getvalue())))
    for name, value in members.items():
        if value is None:
            del flat[name]
        else:
            flat[name] = value
    forged = io.BytesIO()
    np.savez(forged, **flat)
    return io.BytesIO(forged.getvalue())


def test_clear_error_without_hnswlib(data, monkeypatch):
    # an export asking for a graph, written without hnswlib
    exact = _fit(FACTOR_MODELS[0], data)
    file = _with_members(exact, retrieval=np.array("hnsw"), hnsw_M=np.int64(16),
                         hnsw_ef_construction=np.int64(200), hnsw_ef_search=np.int64(100),
                         hnsw_seed=np.int64(0))
    monkeypatch.setitem(sys.modules, "hnswlib", None)  # import hnswlib now fails
    with pytest.raises(ImportError, match=r"pip install sklearn_recs\[ann\]"):
        _fit(FACTOR_MODELS[0], data, retrieval="hnsw")
    with pytest.raises(ImportError, match=r"pip install sklearn_recs\[ann\]"):
        load_npz(file)


@pytest.mark.parametrize("params, message", [
    ({"ef": 10}, r"unknown key\(s\) \['ef'\]"),
    ({"n_jobs": 0}, r"retrieval_params\['n_jobs'\] must be None \(one thread\)"),
    ({"n_jobs": 2.0}, r"retrieval_params\['n_jobs'\] must be None"),
    ({"M": 1}, r"retrieval_params\['M'\] must be an int in \[2, 256\], got 1"),
    ({"ef_search": 2.5}, r"retrieval_params\['ef_search'\] must be an int"),
])
def test_bad_retrieval_params(data, params, message):
    with pytest.raises(ValueError, match=message):
        _fit(FACTOR_MODELS[0], data, retrieval="hnsw", retrieval_params=params)


def test_unknown_retrieval_is_refused(data):
    with pytest.raises(InvalidParameterError, match="retrieval"):
        _fit(FACTOR_MODELS[0], data, retrieval="annoy")


@needs_hnswlib
@pytest.mark.parametrize("estimator", FACTOR_MODELS[:3], ids=lambda e: type(e).__name__)
def test_fold_in_users_search_the_graph(estimator, data, monkeypatch):
    queries = []
    top = _retrieval.HNSWIndex.top
    monkeypatch.setattr(_retrieval.HNSWIndex, "top",
                        lambda self, q, *args: (queries.append(q(args[1]))
                                                or top(self, q, *args)))
    X, y = data
    X, y = X[X[:, 1] < 600], y[X[:, 1] < 600]
    params = {"ef_search": 200, "M": 48, "ef_construction": 200}
    exact = _fit(estimator, (X, y))
    hnsw = _fit(estimator, (X, y), retrieval="hnsw", retrieval_params=params)
    # two new users and a known one, folded in from a few rows each
    rng = np.random.default_rng(0)
    users = np.array([-1, -2, exact.users_[0]])
    rows = np.array([[user, item] for user in users
                     for item in rng.choice(exact.items_, 8, replace=False)])
    ratings = 1.0 + rng.integers(0, 5, len(rows))
    fold = {"interactions": rows}
    if isinstance(estimator, MatrixFactorization):
        fold["interactions_y"] = ratings
    exclude = [exact.items_[:5].tolist()] * 3
    got = hnsw.recommend(users, TOP_N, exclude=exclude, return_scores=True, **fold)
    want = exact.recommend(users, TOP_N, exclude=exclude, return_scores=True, **fold)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)
    for found, own in zip(got[0], rows[:, 1].reshape(3, 8)):  # their items are seen
        assert not np.isin(found, own).any()
    assert not np.isin(got[0], exclude[0]).any()
    # the graph was searched with the folded-in vectors, not the fitted ones
    assert len(queries) == 1 and len(queries[0]) == 3
    assert not np.allclose(queries[0][2, :-1], hnsw.user_factors_[0])


@needs_hnswlib
def test_multi_threaded_build_is_opt_in_and_kept_by_the_export(data, monkeypatch):
    import hnswlib

    threads = []
    add_items = hnswlib.Index.add_items
    monkeypatch.setattr(hnswlib.Index, "add_items",
                        lambda self, items, *args, num_threads=-1, **kwargs: (
                            threads.append(num_threads)
                            or add_items(self, items, *args, num_threads=num_threads,
                                         **kwargs)), raising=True)
    one = _fit(FACTOR_MODELS[0], data, retrieval="hnsw")
    two = _fit(FACTOR_MODELS[0], data, retrieval="hnsw", retrieval_params={"n_jobs": 2})
    assert threads == [1, 2]
    # the same factors; the graphs may differ, the lists hardly
    np.testing.assert_array_equal(one.user_factors_, two.user_factors_)
    brute = _brute_force(two)
    truth = _ranked(brute, two.interactions_.toarray() > 0)
    found = two._item_index.get_indexer(two.recommend(two.users_, TOP_N).ravel())
    assert _recall(found.reshape(-1, TOP_N), truth) >= 0.95
    # pickles and exports build again on as many threads; the default's
    # export has no such member (the same file as before)
    buffer = io.BytesIO()
    save_npz(two, buffer)
    assert int(np.load(io.BytesIO(buffer.getvalue()))["hnsw_n_jobs"]) == 2
    load_npz(io.BytesIO(buffer.getvalue()))
    pickle.loads(pickle.dumps(two))
    assert threads[2:] == [2, 2]
    save_npz(one, buffer := io.BytesIO())
    assert "hnsw_n_jobs" not in np.load(io.BytesIO(buffer.getvalue()))
    # a file cannot ask for more threads than the machine has
    file = _with_members(two, hnsw_n_jobs=np.int64(1000))
    load_npz(file)
    assert threads[-1] <= (os.cpu_count() or 1)


@needs_hnswlib
def test_load_refuses_a_zero_thread_build(data):
    model = _fit(FACTOR_MODELS[0], data, retrieval="hnsw")
    with pytest.raises(InvalidFileError, match="hnsw_n_jobs.*non-zero"):
        load_npz(_with_members(model, hnsw_n_jobs=np.int64(0)))

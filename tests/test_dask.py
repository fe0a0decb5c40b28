"""Scale-out on a Dask cluster: model selection through joblib's Dask backend,
and batch recommendation with recommend_in_parallel.

One LocalCluster of two worker processes (one thread each) serves the module.
Every cluster result is compared with the same computation in this process.
The tests that need a cluster are skipped without the ``dask`` extra; those
of recommend_in_parallel on threads and local processes always run.
"""

import os
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV

from sklearn_recs.content import ContentRecommender
from sklearn_recs.datasets import make_interactions
from sklearn_recs.exceptions import ColdStartWarning
from sklearn_recs.metrics import get_scorer
from sklearn_recs.model_selection import PerUserKFold
from sklearn_recs.neighbors import ItemKNN
from sklearn_recs.neural import MatrixFactorization
from sklearn_recs.utils import recommend_in_parallel


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, memory_limit="2GiB") as cluster, \
            distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def ratings():
    data = make_interactions(n_users=60, n_items=40, n_interactions=900, random_state=0)
    item_features = pd.DataFrame(data.item_factors, columns=["f0", "f1", "f2", "f3",
                                                             "f4", "f5", "f6", "f7"])
    return data.data, data.target, item_features


def process_id(estimator, X, y=None):
    """A "scorer" that reports the process that scored the fold."""
    return os.getpid()


SEARCHES = {
    "knn": (ItemKNN(), {"n_neighbors": [5, 20], "similarity": ["cosine", "pearson"]}, False),
    "content": (ContentRecommender(), {"similarity": ["cosine", "dot"],
                                       "profile": ["centroid", "ridge"]}, True),
    "neural": (MatrixFactorization(n_factors=4, max_epochs=3, batch_size=256,
                                   random_state=0),
               {"n_factors": [2, 4], "alpha": [0.01, 0.1]}, False),
}


def _search(name, ratings, n_jobs):
    X, y, item_features = ratings
    estimator, grid, needs_features = SEARCHES[name]
    search = GridSearchCV(estimator, grid, cv=PerUserKFold(n_splits=2, random_state=0),
                          scoring={"ndcg": get_scorer("ndcg@10"), "pid": process_id},
                          refit="ndcg", error_score="raise", n_jobs=n_jobs)
    params = {"item_features": item_features} if needs_features else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return search.fit(X, y, **params)


@pytest.mark.parametrize("name", list(SEARCHES))
def test_grid_search_on_cluster_equals_local(client, ratings, name):
    local = _search(name, ratings, n_jobs=1)
    with joblib.parallel_backend("dask"):
        remote = _search(name, ratings, n_jobs=-1)
    assert remote.best_params_ == local.best_params_
    for key in ["mean_test_ndcg", "split0_test_ndcg", "split1_test_ndcg"]:
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    assert len(local.cv_results_["params"]) == 4
    # Every fold was scored in a worker process, none in this one.
    worker_pids = set(client.run(os.getpid).values())
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids
    assert _pids(local) == {os.getpid()}
    assert _pids(remote) <= worker_pids


def _pids(search):
    """The processes that scored the folds of ``search``."""
    return set(np.concatenate([search.cv_results_[f"split{i}_test_pid"]
                               for i in range(2)]).astype(int).tolist())


class CountingItemKNN(ItemKNN):
    """An ItemKNN that counts, per process, how often it is unpickled."""

    def __setstate__(self, state):
        global UNPICKLED
        UNPICKLED += 1
        super().__setstate__(state)


UNPICKLED = 0


def _unpickled():
    return UNPICKLED


@pytest.fixture(scope="module")
def fitted(ratings):
    X, y, _ = ratings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mf = MatrixFactorization(n_factors=4, max_epochs=3, random_state=0).fit(X, y)
    return {"knn": CountingItemKNN(n_neighbors=10).fit(X, y), "neural": mf}


@pytest.mark.parametrize("name", ["knn", "neural"])
def test_recommend_in_parallel_on_cluster_equals_recommend(client, fitted, name):
    model = fitted[name]
    users = np.concatenate([model.users_[::-1], model.users_[:7]])  # any order, repeats
    candidates = model.items_[::3]
    expected = model.recommend(users, top_n=5, return_scores=True)
    restricted = model.recommend(users, top_n=4, items=candidates, exclude_seen=False)
    with joblib.parallel_backend("dask"):
        ranked, scores = recommend_in_parallel(model, users, top_n=5, block_size=7,
                                               return_scores=True)
        only = recommend_in_parallel(model, users, top_n=4, block_size=20,
                                     items=candidates, exclude_seen=False)
    np.testing.assert_array_equal(ranked, expected[0])
    np.testing.assert_array_equal(scores, expected[1])
    np.testing.assert_array_equal(only, restricted)


def test_model_is_shipped_to_each_worker_once(client, fitted):
    model = fitted["knn"]
    before = sum(client.run(_unpickled).values())
    with joblib.parallel_backend("dask"):
        lists = recommend_in_parallel(model, model.users_, top_n=3, block_size=4)
    n_blocks = -(-len(model.users_) // 4)
    assert n_blocks == 15
    assert sum(client.run(_unpickled).values()) - before == 2  # one copy per worker
    np.testing.assert_array_equal(lists, model.recommend(model.users_, top_n=3))


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_recommend_in_parallel_on_local_backends(ratings, backend):
    X, y, _ = ratings
    model = ItemKNN(n_neighbors=10).fit(X, y)
    with joblib.parallel_backend(backend, n_jobs=2):
        lists = recommend_in_parallel(model, model.users_, top_n=6, block_size=9)
    np.testing.assert_array_equal(lists, model.recommend(model.users_, top_n=6))


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_recommend_in_parallel_exclude_equals_recommend(ratings, backend):
    """Flat and per-user ``exclude`` give ``recommend``'s lists, and no list
    holds an excluded item (blocks of 7 users cut the per-user lists)."""
    X, y, _ = ratings
    model = ItemKNN(n_neighbors=10).fit(X, y)
    users = model.users_[::-1]  # not the fit order
    rng = np.random.default_rng(0)
    per_user = [list(rng.choice(model.items_, size=rng.integers(0, 6), replace=False))
                for _ in users]
    flat = list(model.items_[:5])
    for exclude in (per_user, flat):
        expected = model.recommend(users, top_n=6, exclude=exclude, return_scores=True)
        with joblib.parallel_backend(backend, n_jobs=2):
            got = recommend_in_parallel(model, users, top_n=6, block_size=7,
                                        exclude=exclude, return_scores=True)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
    lists, scores = recommend_in_parallel(model, users, top_n=6, block_size=7,
                                          exclude=per_user, return_scores=True)
    for row, row_scores, excluded in zip(lists, scores, per_user):  # -inf: no item
        assert not set(row[np.isfinite(row_scores)]) & set(excluded)
    with pytest.raises(ValueError, match="exclude has 2 lists but 60 users"):
        recommend_in_parallel(model, users, exclude=[[1], [2]])


def test_recommend_in_parallel_string_ids_and_unknown_users():
    X = pd.DataFrame({"user": ["ann", "ann", "bob", "bob", "cy", "cy"],
                      "item": ["a", "b", "b", "c", "a", "c"]})
    model = ItemKNN(feedback="implicit").fit(X)
    users = ["cy", "nobody", "ann", "bob"]
    with pytest.warns(ColdStartWarning, match="1 of 4 users"):
        expected = model.recommend(users, top_n=2, exclude_seen=False)
    with pytest.warns(ColdStartWarning, match="1 of 1 users"):  # the block of "nobody"
        lists = recommend_in_parallel(model, users, top_n=2, block_size=1,
                                      exclude_seen=False)
    np.testing.assert_array_equal(lists, expected)
    assert lists.dtype == expected.dtype == object
    empty = recommend_in_parallel(model, [], top_n=2, return_scores=True)
    assert empty[0].shape == empty[1].shape == (0, 2)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"block_size": 0}, ValueError, "block_size=0 is invalid; block_size must be an int >= 1"),
    ({"block_size": 2.5}, TypeError, "block_size=2.5 is invalid"),
    ({"top_n": 0}, ValueError, "top_n=0 is invalid"),
])
def test_recommend_in_parallel_bad_arguments(fitted, kwargs, error, match):
    with pytest.raises(error, match=match):
        recommend_in_parallel(fitted["knn"], [0, 1], **kwargs)


def test_recommend_in_parallel_bad_users_and_estimators(fitted):
    with pytest.raises(ValueError, match="recommend_in_parallel: user ids must be 1-D"):
        recommend_in_parallel(fitted["knn"], [[0, 1]])
    with pytest.raises(ValueError, match="missing"):
        recommend_in_parallel(fitted["knn"], [0, np.nan])
    with pytest.raises(NotFittedError):
        recommend_in_parallel(ItemKNN(), [0])
    with pytest.raises(TypeError, match="has no recommend"):
        recommend_in_parallel(LinearRegression().fit([[0], [1]], [0, 1]), [0])


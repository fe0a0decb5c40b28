"""Thread safety of serving, and ``n_jobs`` where work runs in parallel.

``predict`` and ``recommend`` may be called from several threads at once on
one fitted model (a web server's worker threads): each call must return
exactly what it returns alone. A new estimator is covered by adding it to
``ESTIMATORS`` (``tests/_estimators.py``).
"""

import os
import pickle
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from sklearn import config_context
from sklearn.base import clone
from skorch.callbacks import Callback

from _estimators import ESTIMATORS, is_neural

from sklearn_recs.datasets import make_interactions
from sklearn_recs.neighbors import ItemKNN, UserKNN
from sklearn_recs.serving import load_npz, save_npz
from sklearn_recs.utils._testing import tiny_ratings

# (warnings.catch_warnings is not thread-safe: filter the unknown user's warning here.)
pytestmark = pytest.mark.filterwarnings("ignore::sklearn_recs.exceptions.ColdStartWarning")

N_THREADS = 8
CALLS_PER_THREAD = 6


def _fit(estimator):
    X, y = tiny_ratings()
    if not estimator.__sklearn_tags__().target_tags.required:
        y = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = clone(estimator).fit(X, y)
    # A fresh copy: lazily built caches (pandas' index engines) start empty,
    # so the threads race to fill them, as in a just-loaded served model.
    return pickle.loads(pickle.dumps(model)), X


def _calls(model, X):
    """Distinct calls (different user subsets, candidates, lengths), as closures.

    ``recommend`` and ``predict`` calls, and ``similar_items`` where the model
    has it.
    """
    users = np.concatenate([model.users_, ["nobody"]])  # (one unknown user)
    calls = []
    for i in range(N_THREADS * CALLS_PER_THREAD // 2):
        rng = np.random.default_rng(i)
        subset = rng.choice(users, size=int(rng.integers(1, len(users))), replace=False)
        rows = np.sort(rng.choice(len(X), size=40, replace=False))
        candidates = None if i % 3 else model.items_[rng.random(model.n_items_) < 0.5]
        calls.append(lambda s=subset, c=candidates, n=1 + i % 7: model.recommend(
            s, top_n=n, items=c, return_scores=True))
        calls.append(lambda r=rows: model.predict(X.iloc[r]))
        if hasattr(model, "similar_items") and i % 4 == 0:
            calls.append(lambda q=model.items_[rng.random(model.n_items_) < 0.3]:
                         model.similar_items(q, top_n=3, return_scores=True))
    return calls


def _run(call):
    result = call()
    return result if isinstance(result, tuple) else (result,)


def _exported(model, path):
    try:
        save_npz(model, path)
    except TypeError as exc:  # (the persistence tests check which models refuse)
        pytest.skip(str(exc))
    return load_npz(path)


@pytest.mark.parametrize("served", [False, True], ids=["estimator", "exported"])
@pytest.mark.parametrize("estimator", ESTIMATORS,
                         ids=[f"{i}-{type(e).__name__}" for i, e in enumerate(ESTIMATORS)])
def test_predict_and_recommend_from_threads_equal_sequential(estimator, served, tmp_path):
    """The estimator, and the model served from its .npz export, are thread-safe."""
    model, X = _fit(estimator)
    if served:
        model = _exported(model, tmp_path / "model.npz")
    calls = _calls(model, X)
    # Each thread runs CALLS_PER_THREAD calls, starting at different ones.
    order = [calls[(t * CALLS_PER_THREAD + j) % len(calls)]
             for t in range(N_THREADS) for j in range(CALLS_PER_THREAD)]
    with ThreadPoolExecutor(N_THREADS) as pool:
        concurrent = list(pool.map(_run, order))
    sequential = [_run(call) for call in order]
    for got, expected in zip(concurrent, sequential):
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)


def _knn_data():
    data = make_interactions(n_users=300, n_items=120, n_interactions=4000, random_state=0)
    return data.data, data.target


@pytest.mark.parametrize("estimator,explicit", [
    (ItemKNN(), True), (UserKNN(), True),
    (ItemKNN(feedback="implicit", n_neighbors=10), False), (UserKNN(feedback="implicit", n_neighbors=10), False),
], ids=["ItemKNN-explicit", "UserKNN-explicit", "ItemKNN-implicit", "UserKNN-implicit"])
def test_knn_n_jobs_gives_the_same_model(estimator, explicit):
    """Threads split the similarity (fit) and the ranking (recommend), never the result."""
    X, ratings = _knn_data()
    y = ratings if explicit else None
    # Small blocks, so that the work is split into many blocks for the threads.
    with config_context(working_memory=0.05):
        one = clone(estimator).set_params(n_jobs=1).fit(X, y)
        two = clone(estimator).set_params(n_jobs=2).fit(X, y)
        users = one.users_[:50]
        expected = one.recommend(users, top_n=10, return_scores=True)
        got = two.recommend(users, top_n=10, return_scores=True)
    assert (one.similarity_ != two.similarity_).nnz == 0
    assert one.similarity_.nnz == two.similarity_.nnz > 0
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(one.predict(X), two.predict(X))


def test_parallel_similarity_leaves_the_warning_filters_alone(monkeypatch):
    """Threads computing similarity blocks must not touch the global warning filters.

    ``warnings.catch_warnings`` is not thread-safe: two threads entering and
    leaving it at once can leave one's filter installed for the whole
    process (silencing every UserWarning after the fit). Slowing torch's
    sparse tensor construction down makes such overlaps certain.
    """
    sparse_csr_tensor = torch.sparse_csr_tensor

    def slow(*args, **kwargs):
        time.sleep(0.005)
        return sparse_csr_tensor(*args, **kwargs)

    monkeypatch.setattr(torch, "sparse_csr_tensor", slow)
    rng = np.random.default_rng(0)
    # Over 2**24 user-item cells: the similarity takes its sparse (torch) path.
    X = np.unique(np.column_stack([rng.integers(4200, size=20000),
                                   rng.integers(4100, size=20000)]), axis=0)
    before = list(warnings.filters)
    with config_context(working_memory=16):
        ItemKNN(feedback="implicit", n_neighbors=5, n_jobs=2).fit(X)
    assert warnings.filters == before


class _RecordThreads(Callback):
    """Records torch's intra-op thread count at each epoch."""

    def initialize(self):
        self.seen_ = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.seen_.append(torch.get_num_threads())


@pytest.mark.parametrize("estimator", [e for e in ESTIMATORS if is_neural(e)],
                         ids=lambda e: type(e).__name__)
def test_neural_n_jobs_sets_torch_threads_during_fit_only(estimator):
    X, y = tiny_ratings()
    if not estimator.__sklearn_tags__().target_tags.required:
        y = None
    before = torch.get_num_threads()
    recorder = _RecordThreads()
    model = clone(estimator).set_params(n_jobs=2, callbacks=[recorder]).fit(X, y)
    assert recorder.seen_
    assert set(recorder.seen_) == {min(2, len(os.sched_getaffinity(0)))}
    assert torch.get_num_threads() == before
    model.recommend(model.users_, top_n=5)
    model.predict(X)
    assert torch.get_num_threads() == before

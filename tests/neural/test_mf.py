"""Tests of the matrix factorisation estimators (CPU, tiny epochs)."""

import pickle
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback, LRScheduler

from sklearn_recs.exceptions import ColdStartWarning
from sklearn_recs.neural import ImplicitMatrixFactorization, MatrixFactorization
from sklearn_recs.neural._data import IndexBatchIterator, InteractionData, per_user_split
from sklearn_recs.utils._testing import checkerboard, tiny_ratings


# Implicit models get small integer weights on purpose here (counts, or
# ratings read as weights against a reference), which the ratings check flags.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*y looks like explicit ratings:sklearn_recs.exceptions.DataWarning")


def low_rank(n_users=200, n_items=150, rank=3, density=0.3, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.normal(size=(n_users, rank)) / np.sqrt(rank)
    Q = rng.normal(size=(n_items, rank))
    mask = rng.random((n_users, n_items)) < density
    u, i = np.nonzero(mask)
    clean = 3.0 + (P[u] * Q[i]).sum(1)
    y = clean + noise * rng.normal(size=len(u))
    return np.column_stack([u, i]), y, clean


@pytest.fixture(scope="module")
def low_rank_fit():
    X, y, clean = low_rank()
    rng = np.random.default_rng(1)
    test = rng.random(len(y)) < 0.1
    model = MatrixFactorization(n_factors=8, alpha=0.001, alpha_bias=0.001, lr=0.01,
                                optimizer="sparse_adam", max_epochs=60,
                                batch_size=256, clip=False, random_state=0)
    model.fit(X[~test], y[~test])
    return model, X, y, clean, test


def test_training_lowers_loss_and_recovers_low_rank(low_rank_fit):
    model, X, y, clean, test = low_rank_fit
    loss = model.history_[:, "train_loss"]
    assert loss[-1] < 0.1 * loss[0]
    pred = model.predict(X[test])
    rmse_clean = np.sqrt(np.mean((pred - clean[test]) ** 2))
    rmse_noisy = np.sqrt(np.mean((pred - y[test]) ** 2))
    # the noise level is 0.1: held-out ratings are recovered near it
    assert rmse_clean < 0.2, rmse_clean
    assert rmse_noisy < 0.25, rmse_noisy
    assert model.user_factors_.shape == (model.n_users_, 8)
    assert model.item_factors_.dtype == np.float32
    assert model.user_bias_.shape == (model.n_users_,)


def test_implicit_ranks_planted_positives_first():
    X = checkerboard(20, 20)
    for loss in ("bpr", "bce", "softmax"):
        # lr 2: at 5, BCE missed a slot for some seeds (1 of 6, whatever the sampler)
        model = ImplicitMatrixFactorization(loss=loss, n_factors=4, lr=2.0, max_epochs=40,
                                            batch_size=64, random_state=0).fit(X)
        top = model.recommend(model.users_, top_n=10, exclude_seen=False)
        same_group = (top + model.users_[:, None]) % 2 == 0
        assert same_group.all(), loss


def test_popularity_sampler_and_weights():
    X = checkerboard(20, 20)
    y = np.arange(len(X)) % 3 + 1.0
    model = ImplicitMatrixFactorization(sampler="popularity", confidence_scale=1.0, n_factors=4,
                                        lr=5.0, max_epochs=40, batch_size=64,
                                        random_state=0).fit(X, y)
    top = model.recommend(model.users_, top_n=10, exclude_seen=False)
    assert ((top + model.users_[:, None]) % 2 == 0).mean() > 0.95


def test_determinism_with_random_state():
    X, y = tiny_ratings()
    a = MatrixFactorization(n_factors=4, max_epochs=3, random_state=7).fit(X, y)
    b = MatrixFactorization(n_factors=4, max_epochs=3, random_state=7).fit(X, y)
    c = MatrixFactorization(n_factors=4, max_epochs=3, random_state=8).fit(X, y)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert not np.array_equal(a.user_factors_, c.user_factors_)
    Xi = checkerboard(10, 10)
    m1 = ImplicitMatrixFactorization(n_factors=4, max_epochs=3, random_state=3).fit(Xi)
    m2 = ImplicitMatrixFactorization(n_factors=4, max_epochs=3, random_state=3).fit(Xi)
    np.testing.assert_array_equal(m1.item_factors_, m2.item_factors_)
    # the global torch RNG is left alone
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    MatrixFactorization(n_factors=4, max_epochs=1, random_state=0).fit(X, y)
    assert torch.rand(1) == expected


class _RecordRates(Callback):
    """The optimizer's learning rate during each training epoch."""

    def initialize(self):
        self.rates_ = []
        return self

    def on_epoch_begin(self, net, **kwargs):  # after lr_schedule's, which comes first
        self.rates_.append(net.optimizer_.param_groups[0]["lr"])


@pytest.mark.parametrize("schedule, factors", [("linear", [1, 0.75, 0.5, 0.25]),
                                               ("constant", [1, 1, 1, 1])])
def test_lr_schedule(schedule, factors):
    X, y = tiny_ratings()
    rates = _RecordRates()
    MatrixFactorization(n_factors=4, lr=2.0, max_epochs=4, lr_schedule=schedule,
                        callbacks=[rates], random_state=0).fit(X, y)
    np.testing.assert_allclose(rates.rates_, 2.0 * np.array(factors), rtol=1e-12)


def test_linear_lr_schedule_composes_with_an_lr_scheduler():
    X, y = tiny_ratings()
    rates = _RecordRates()
    MatrixFactorization(n_factors=4, lr=2.0, max_epochs=4, callbacks=[
        LRScheduler("StepLR", step_size=2, gamma=0.1), rates], random_state=0).fit(X, y)
    np.testing.assert_allclose(rates.rates_, [2.0, 1.5, 0.1, 0.05], rtol=1e-12)


def test_sgd_stays_stable_on_a_user_with_a_large_share_of_the_ratings():
    # user 0 holds 60 of the 100 ratings: at lr=4, lr * share = 2.4, past the
    # step at which plain SGD overshoots that user's bias (lr * share = 1)
    rng = np.random.default_rng(0)
    X = np.c_[np.r_[np.zeros(60, int), np.arange(1, 41)],
              np.r_[np.arange(60), rng.integers(0, 60, 40)]]
    y = np.r_[np.full(60, 5.0), rng.integers(1, 4, 40)]  # user 0's bias is far from 0
    params = dict(n_factors=4, lr=4.0, lr_schedule="constant", max_epochs=20,
                  batch_size=100, random_state=0)
    model = MatrixFactorization(**params).fit(X, y)
    assert np.isfinite(model.predict(X)).all()
    user_step = model.net_.module_.user_step.numpy()
    np.testing.assert_allclose(user_step, np.r_[0.5 / (4.0 * 0.6), np.ones(40)], rtol=1e-6)
    assert model.net_.module_.item_step is None  # no item needs it
    with pytest.raises(FloatingPointError, match="diverged"):
        MatrixFactorization(**params, module__user_step=None).fit(X, y)


def test_threads_restored():
    X, y = tiny_ratings()
    before = torch.get_num_threads()
    MatrixFactorization(n_factors=2, max_epochs=1, n_jobs=1).fit(X, y)
    assert torch.get_num_threads() == before


def test_early_stopping_per_user_split_and_history():
    X, y = tiny_ratings()
    model = MatrixFactorization(n_factors=4, max_epochs=200, early_stopping=True,
                                validation_fraction=0.2, lr=0.05, random_state=0,
                                optimizer="sparse_adam",
                                callbacks__early_stopping__patience=2).fit(X, y)
    assert model.n_epochs_ < 200
    assert np.isfinite(model.history_[:, "valid_loss"]).all()
    Xi = checkerboard(20, 20)
    imp = ImplicitMatrixFactorization(n_factors=4, max_epochs=8, early_stopping=True,
                                      lr=5.0, batch_size=64, random_state=0).fit(Xi)
    ndcg = imp.history_[:, "valid_ndcg"]
    assert all(0 <= v <= 1 for v in ndcg)
    assert max(ndcg) > 0.5


def test_per_user_split_keeps_every_user_in_train():
    codes = np.repeat(np.arange(50), np.arange(1, 51))
    valid = per_user_split(codes, 0.3, np.random.RandomState(0))
    train_counts = np.bincount(codes[~valid], minlength=50)
    assert (train_counts >= 1).all()
    np.testing.assert_array_equal(np.bincount(codes[valid], minlength=50),
                                  np.minimum(np.floor(0.3 * np.arange(1, 51)), np.arange(50)))


def test_batch_iterator_slices_and_resamples():
    data = InteractionData(np.arange(10), np.arange(10) % 5, np.arange(10.0), n_items=5,
                           positives=np.sort(np.arange(10) * 5 + np.arange(10) % 5))
    it = IndexBatchIterator(data, 4, shuffle=True, n_negatives=2, seed=0)
    assert len(it) == 3
    epoch1 = list(it)
    epoch2 = list(it)
    assert [len(b[0]["users"]) for b in epoch1] == [4, 4, 2]
    users = torch.cat([b[0]["users"] for b in epoch1])
    assert sorted(users.tolist()) == list(range(10))
    items = torch.cat([b[0]["items"] for b in epoch1])
    assert items.shape == (10, 3)
    # negatives avoid the user's positive (with overwhelming probability)
    assert (items[:, 1:] != items[:, :1]).float().mean() > 0.95
    assert not all(torch.equal(a[0]["items"], b[0]["items"]) for a, b in zip(epoch1, epoch2))
    valid = IndexBatchIterator(data, 4, n_negatives=2, seed=0)
    first, second = list(valid), list(valid)
    assert all(torch.equal(a[0]["items"], b[0]["items"]) for a, b in zip(first, second))


def test_clone_get_set_params_and_prefixed():
    model = MatrixFactorization(n_factors=8, optimizer="sparse_adam", lr=0.01,
                                optimizer__betas=(0.8, 0.99))
    params = model.get_params()
    assert params["optimizer__betas"] == (0.8, 0.99)
    cloned = clone(model)
    assert cloned.optimizer__betas == (0.8, 0.99)
    cloned.set_params(n_factors=4, module__init_std=0.01)
    assert cloned.n_factors == 4 and cloned.module__init_std == 0.01
    X, y = tiny_ratings()
    cloned.set_params(max_epochs=2).fit(X, y)
    assert cloned.net_.optimizer_.defaults["betas"] == (0.8, 0.99)
    assert cloned.net_.module_.user_factors.std() < 0.05
    with pytest.raises(TypeError, match="Did you mean 'n_factors'"):
        MatrixFactorization(n_factor=3).fit(X, y)


def test_grid_search():
    X, y = tiny_ratings()
    search = GridSearchCV(MatrixFactorization(max_epochs=3, random_state=0),
                          {"n_factors": [2, 4], "alpha": [0.01, 0.1]}, cv=2,
                          scoring="neg_root_mean_squared_error")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        search.fit(X, y)
    assert search.best_params_["n_factors"] in (2, 4)
    assert len(search.cv_results_["params"]) == 4


def test_pickle_and_joblib_round_trip(tmp_path):
    X, y = tiny_ratings()
    model = MatrixFactorization(n_factors=4, max_epochs=2, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(model.predict(X), restored.predict(X))
    joblib.dump(model, tmp_path / "mf.joblib")
    loaded = joblib.load(tmp_path / "mf.joblib")
    np.testing.assert_array_equal(model.predict(X), loaded.predict(X))
    np.testing.assert_array_equal(model.recommend(model.users_[:5]),
                                  loaded.recommend(model.users_[:5]))
    # early stopping's callbacks travel too
    stopped = ImplicitMatrixFactorization(n_factors=4, max_epochs=3, early_stopping=True,
                                          random_state=0).fit(X)
    restored = pickle.loads(pickle.dumps(stopped))
    np.testing.assert_array_equal(stopped.recommend(stopped.users_[:5]),
                                  restored.recommend(stopped.users_[:5]))


def test_predict_clipping_and_similar_items():
    X, y = tiny_ratings()
    model = MatrixFactorization(n_factors=4, max_epochs=20, lr=0.05, random_state=0,
                                optimizer="sparse_adam").fit(X, y)
    pred = model.predict(X)
    assert pred.min() >= 1.0 and pred.max() <= 5.0
    raw = model.set_params(clip=False).predict(X)
    assert np.allclose(np.clip(raw, 1, 5), pred)
    ids, scores = model.similar_items(model.items_[:3], top_n=4, return_scores=True)
    unit = model.item_factors_ / np.linalg.norm(model.item_factors_, axis=1, keepdims=True)
    best = np.argsort(-(unit[0] @ unit.T))[1]
    assert ids[0, 0] == model.items_[best]
    assert (scores <= 1 + 1e-6).all()


def _implicit_sums(model, rated):
    """``|N(u)|^-1/2 sum_{j in N(u)} y_j`` by NumPy, ``N(u)`` the stored entries of ``rated``."""
    rated = (rated != 0).astype(np.float64)
    counts = np.asarray(rated.sum(1)).ravel()
    return (rated @ model.implicit_factors_) / np.sqrt(np.maximum(counts, 1))[:, None]


def test_implicit_term_scores_p_plus_the_implicit_sum():
    X, y = tiny_ratings()
    model = MatrixFactorization(n_factors=4, lr=2.0, max_epochs=5, implicit_term=True,
                                random_state=0).fit(X, y)
    assert model.implicit_factors_.shape == (model.n_items_, 4)
    assert np.abs(model.implicit_factors_).max() > 1e-4  # it was trained
    sums = _implicit_sums(model, model.interactions_)
    p = model.net_.module_.user_factors.detach().numpy()
    np.testing.assert_allclose(model.user_factors_, p + sums, rtol=1e-5, atol=1e-6)
    # predict by brute force: mu + b_u + b_i + (p_u + s_u) . q_i, clipped
    u = model._user_index.get_indexer(X["user_id"])
    i = model._item_index.get_indexer(X["item_id"])
    raw = (model.global_mean_ + model.user_bias_[u] + model.item_bias_[i]
           + ((p[u] + sums[u]) * model.item_factors_[i]).sum(1))
    np.testing.assert_allclose(model.predict(X), np.clip(raw, 1, 5), rtol=1e-5)
    # same seed, same model; without the term, another model
    again = MatrixFactorization(n_factors=4, lr=2.0, max_epochs=5, implicit_term=True,
                                random_state=0).fit(X, y)
    np.testing.assert_array_equal(again.user_factors_, model.user_factors_)
    np.testing.assert_array_equal(again.implicit_factors_, model.implicit_factors_)
    plain = clone(model).set_params(implicit_term=False).fit(X, y)
    assert not np.allclose(plain.predict(X), model.predict(X))
    assert not hasattr(plain, "implicit_factors_")
    # a refit without the term drops the earlier fit's implicit factors
    assert not hasattr(model.set_params(implicit_term=False).fit(X, y), "implicit_factors_")


def test_implicit_term_unknown_and_folded_in_users():
    X, y = tiny_ratings()
    model = MatrixFactorization(n_factors=4, lr=2.0, max_epochs=5, implicit_term=True,
                                random_state=0).fit(X, y)
    item = model.items_[0]
    with pytest.warns(ColdStartWarning):
        pred = model.predict(pd.DataFrame({"user_id": ["nobody"], "item_id": [item]}))
    assert pred[0] == pytest.approx(np.clip(model.global_mean_ + model.item_bias_[0], 1, 5))
    # a new user's interactions fold in (the effective user vector, in closed form)
    rows = X["user_id"] == "u00"
    new_X = X[rows].assign(user_id="new")
    ids = model.recommend(["new"], top_n=3, interactions=new_X, interactions_y=y[rows])
    assert ids.shape == (1, 3) and not np.isin(ids, new_X["item_id"]).any()


def test_implicit_term_with_early_stopping_sums_over_the_training_part_only():
    X, y = tiny_ratings()
    model = MatrixFactorization(n_factors=4, lr=2.0, max_epochs=5, implicit_term=True,
                                early_stopping=True, validation_fraction=0.3,
                                random_state=0).fit(X, y)
    assert np.isfinite(model.history_[:, "valid_loss"]).all()
    module = model.net_.module_
    rated = np.zeros((model.n_users_, model.n_items_))
    indptr, indices = module.implicit_indptr.numpy(), module.implicit_indices.numpy()
    for user in range(model.n_users_):
        rated[user, indices[indptr[user]:indptr[user + 1]]] = 1
    assert rated.sum() < model.interactions_.nnz  # the validation ratings are left out
    assert (rated <= (model.interactions_.toarray() != 0)).all()
    np.testing.assert_allclose(model.user_factors_,
                               module.user_factors.detach().numpy()
                               + _implicit_sums(model, rated), rtol=1e-5, atol=1e-6)


def test_implicit_step_cap_keeps_longer_training_finite():
    # 300 users sharing half of 40 items: K = N^ N^T has a top eigenvalue near
    # 150, so the uncapped implicit step moves the sums along it 15 times as far
    # as the user factors move; at lr 16 that trains 10 epochs but diverges in 30
    rng = np.random.default_rng(0)
    users, items = np.nonzero(rng.random((300, 40)) < 0.5)
    p, q = rng.normal(size=(300, 3)), rng.normal(size=(40, 3))
    y = np.clip(np.round(3 + 0.5 * (p[users] * q[items]).sum(1)
                         + rng.normal(scale=0.5, size=len(users))), 1, 5)
    X = np.column_stack([users, items])
    settings = dict(n_factors=8, lr=16.0, batch_size=256, random_state=0)
    MatrixFactorization(max_epochs=10, implicit_term=True, module__implicit_cap=None,
                        **settings).fit(X, y)
    with pytest.raises(FloatingPointError, match="diverged"):
        MatrixFactorization(max_epochs=30, implicit_term=True, module__implicit_cap=None,
                            **settings).fit(X, y)
    # the plain model trains 30 epochs at this rate: the implicit step diverged
    plain = MatrixFactorization(max_epochs=30, implicit_term=False, **settings).fit(X, y)
    capped = MatrixFactorization(max_epochs=30, implicit_term=True, **settings).fit(X, y)
    module = capped.net_.module_
    assert module.implicit_directions.shape[1] >= 1  # the cap acted
    losses = capped.history_[:, "train_loss"]
    assert np.isfinite(losses).all() and losses[-1] < plain.history_[-1, "train_loss"]


def test_fold_in_explicit_matches_training_objective(low_rank_fit):
    model, X, y, clean, test = low_rank_fit
    user = X[0, 0]
    rows = X[:, 0] == user
    new_X = np.column_stack([np.full(rows.sum(), 10_000), X[rows, 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ColdStartWarning)
        ids, scores = model.recommend([10_000], top_n=5, interactions=new_X,
                                      interactions_y=y[rows], return_scores=True)
    assert not np.isin(ids, X[rows, 1]).any()  # the given interactions are excluded
    # the folded-in user scores like the trained one (same data, same objective)
    code = model._user_index.get_loc(user)
    trained = model._score_users(np.array([code]), None)[0]
    idx, mat = model._fold_in_matrix(new_X, y[rows])
    p, b = model._fold_in(mat)
    folded = model._score_fold_in(np.array([model.n_users_]), None, (p, b))[0]
    assert np.corrcoef(trained, folded)[0, 1] > 0.9


def test_fold_in_implicit_checkerboard():
    X = checkerboard(20, 20)
    model = ImplicitMatrixFactorization(n_factors=4, lr=5.0, max_epochs=40, batch_size=64,
                                        random_state=0).fit(X)
    new = np.array([[100, 1], [100, 3], [100, 5]])
    ids = model.recommend([100, 0], top_n=5, interactions=new)
    assert (ids[0] % 2 == 1).all()  # the odd group
    assert not np.isin(ids[0], [1, 3, 5]).any()
    np.testing.assert_array_equal(ids[1], model.recommend([0], top_n=5)[0])
    with pytest.warns(ColdStartWarning, match="1 of 2 users"):
        model.recommend([100, 101], interactions=new)


def test_fold_in_errors():
    X, y = tiny_ratings()
    model = MatrixFactorization(n_factors=2, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="fold-in rows are invalid .* requires y"):
        model.recommend(["zz"], interactions=[["zz", 1]])
    with pytest.raises(ValueError, match="fold-in rows are invalid .* 1 NaN"):
        model.recommend(["zz"], interactions=[["zz", 1]], interactions_y=[np.nan])
    with pytest.raises(ValueError, match="interactions_y was given"):
        model.recommend(["zz"], interactions_y=[3.0])
    with pytest.raises(TypeError, match="exclude_seen"):
        model.recommend(["zz"], interactions=[["zz", 1]], interactions_y=[3.0],
                        exclude_seen="no")


@pytest.mark.parametrize("params, match", [
    (dict(n_factors=0), "n_factors"),
    (dict(lr=0.0), "lr"),
    (dict(lr=-1.0), "lr"),
    (dict(optimizer="adamw"), "optimizer"),
    (dict(batch_size=0), "batch_size"),
])
def test_bad_parameters(params, match):
    X, y = tiny_ratings()
    with pytest.raises(ValueError, match=match):
        MatrixFactorization(**params).fit(X, y)


def test_non_numeric_ratings():
    X, y = tiny_ratings()
    y = y.astype(object)
    y[3] = "five"
    with pytest.raises(ValueError, match="numeric"):
        MatrixFactorization(max_epochs=1).fit(X, y)


def test_batch_size_larger_than_data():
    X, y = tiny_ratings()
    model = MatrixFactorization(n_factors=2, max_epochs=2, batch_size=10**6).fit(X, y)
    assert model.history_[-1, "train_batch_count"] == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_without_gpu_is_a_clear_error():
    X, y = tiny_ratings()
    with pytest.raises(ValueError, match="CUDA is not available"):
        MatrixFactorization(device="cuda", max_epochs=1).fit(X, y)


def test_nan_loss_stops_with_message():
    X, y = tiny_ratings()
    with pytest.raises(FloatingPointError, match="smaller lr"):
        MatrixFactorization(optimizer="sgd", lr=1e6, max_epochs=20, batch_size=16,
                            random_state=0).fit(X, y)


def test_optimizers_all_train():
    X, y = tiny_ratings()
    for opt in ("sparse_adam", "adam", "sgd", "adagrad", torch.optim.Adam):
        lr = 1.0 if opt == "sgd" else 0.02
        model = MatrixFactorization(optimizer=opt, n_factors=4, lr=lr, max_epochs=5,
                                    random_state=0).fit(X, y)
        loss = model.history_[:, "train_loss"]
        assert loss[-1] < loss[0], opt


def test_import_sklearn_recs_does_not_import_torch():
    code = "import sys, sklearn_recs, sklearn_recs.neural; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_dataframe_string_ids_unknown_predict():
    X, y = tiny_ratings()
    model = MatrixFactorization(n_factors=2, max_epochs=2, random_state=0).fit(X, y)
    pairs = pd.DataFrame({"user_id": ["nobody", "u00"], "item_id": [0, 999]})
    with pytest.warns(ColdStartWarning):
        pred = model.predict(pairs)
    assert np.allclose(pred[0], np.clip(model.global_mean_ + model.item_bias_[0], 1, 5))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_matches_cpu_contract():  # pragma: no cover - GPU only
    X, y = tiny_ratings()
    model = MatrixFactorization(n_factors=4, max_epochs=3, device="cuda",
                                random_state=0).fit(X, y)
    assert model.predict(X).shape == (len(X),)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(model.predict(X), restored.predict(X))
    imp = ImplicitMatrixFactorization(n_factors=4, max_epochs=3, device="cuda",
                                      early_stopping=True, random_state=0).fit(X)
    assert imp.recommend(imp.users_[:3]).shape == (3, 10)


def _batch_gradients(net, users, items, target):
    net.optimizer_.zero_grad()
    net.train_step_single(({"users": users, "items": items}, target))
    return [p.grad.to_dense().clone() for p in net.module_.parameters() if p.grad is not None]


@pytest.mark.parametrize("implicit_term", [False, True])
def test_sgd_steps_a_short_batch_per_row(implicit_term):
    # A full batch of 16 copies of one rating and a batch of that rating
    # alone: with SGD, the short batch's gradient is the rating's over the
    # full batch's 16 rows (the mean's over 16), not the full batch's (a
    # last batch of one row took a 16x step: 4096x at the default size).
    X, y = tiny_ratings()
    model = MatrixFactorization(n_factors=4, max_epochs=1, batch_size=16, lr=1.0,
                                implicit_term=implicit_term, random_state=0).fit(X, y)
    net = model.net_
    assert net.full_batch_rows_ == 16
    user, item = torch.tensor([3]), torch.tensor([5])
    one = _batch_gradients(net, user, item, torch.tensor([4.0]))
    full = _batch_gradients(net, user.repeat(16), item.repeat(16), torch.tensor([4.0] * 16))
    assert len(one) == len(full) > 0
    for short, whole in zip(one, full):
        torch.testing.assert_close(short * 16, whole, rtol=1e-5, atol=1e-6)


def test_a_last_batch_of_one_rating_trains_at_the_default_rate():
    # 4096 + 1 ratings: the default lr on a one-row batch diverged before.
    rng = np.random.default_rng(0)
    codes = rng.choice(300 * 200, 4097, replace=False)  # distinct (user, item) pairs
    pairs = pd.DataFrame({"user_id": codes // 200, "item_id": codes % 200})
    y = rng.integers(1, 6, 4097).astype(float)
    model = MatrixFactorization(max_epochs=5, random_state=0).fit(pairs, y)
    assert np.isfinite(model.predict(pairs)).all()

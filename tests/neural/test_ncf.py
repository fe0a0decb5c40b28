"""Tests of the NCF estimators GMF, MLP and NeuMF (CPU, tiny data, few epochs)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn import config_context
from sklearn.base import clone

from sklearn_recs.neural import GMF, MLP, NeuMF
from sklearn_recs.neural._ncf_modules import NCF
from sklearn_recs.utils._testing import checkerboard

FAST = dict(batch_size=64, max_epochs=30, random_state=0)


def low_rank_ratings(n_users=60, n_items=40, density=0.5, seed=0):
    rng = np.random.default_rng(seed)
    P, Q = rng.normal(size=(n_users, 2)), rng.normal(size=(n_items, 2))
    u, i = np.nonzero(rng.random((n_users, n_items)) < density)
    return np.column_stack([u, i]), 3.0 + (P[u] * Q[i]).sum(1)


@pytest.mark.parametrize("model", [
    GMF(n_factors=4, lr=0.05, **FAST),
    # wider, larger initial weights: 19 of random_state 0..19 learn the
    # checkerboard (4 wide, init_std=0.1: about half collapse to one ranking)
    MLP(mlp_factors=8, hidden_layers=(16, 8), lr=0.02, init_std=0.3,
        **{**FAST, "max_epochs": 40}),
    NeuMF(n_factors=4, mlp_factors=4, hidden_layers=(8, 4), lr=0.02, init_std=0.1, **FAST),
], ids=["GMF", "MLP", "NeuMF"])
def test_ranks_planted_positives_first(model):
    X = checkerboard(20, 20)
    model.fit(X)
    top = model.recommend(model.users_, top_n=10, exclude_seen=False)
    assert ((top + model.users_[:, None]) % 2 == 0).all()
    loss = model.history_[:, "train_loss"]
    assert loss[-1] < 0.5 * loss[0]


def test_module_matches_hand_computation():
    torch.manual_seed(0)
    module = NCF(5, 7, n_factors=3, mlp_factors=2, hidden_layers=(4, 3),
                 activation="tanh", global_mean=1.5).eval()
    users, items = torch.tensor([0, 4, 2]), torch.tensor([6, 1, 2])
    w = {k: v.detach().numpy().astype(np.float64) for k, v in module.state_dict().items()}
    u, i = users.numpy(), items.numpy()
    gmf = w["gmf_user.weight"][u] * w["gmf_item.weight"][i]
    h = np.concatenate([w["mlp_user.weight"][u], w["mlp_item.weight"][i]], axis=1)
    h = np.tanh(h @ w["tower.0.weight"].T + w["tower.0.bias"])
    h = np.tanh(h @ w["tower.2.weight"].T + w["tower.2.bias"])
    expected = np.concatenate([gmf, h], 1) @ w["output.weight"][0] + w["output.bias"][0] + 1.5
    np.testing.assert_allclose(module(users, items).detach().numpy(), expected, rtol=1e-5)
    # (B, K) items: every column scored as its own pair; chunking changes nothing
    grid = torch.tensor([[6, 1], [1, 1], [2, 0]])
    np.testing.assert_allclose(module(users, grid)[:, 0].detach().numpy(), expected, rtol=1e-5)
    full = module.score_all(users)
    np.testing.assert_allclose(module.score_items(users, torch.arange(7), max_pairs=3), full)
    np.testing.assert_allclose(full[[0, 1, 2], [6, 1, 2]].numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("kwargs", [
    dict(n_factors=3, hidden_layers=()),
    dict(n_factors=0, mlp_factors=2, hidden_layers=(5, 3), batch_norm=True, dropout=0.5),
    dict(n_factors=3, mlp_factors=2, hidden_layers=(4, 3), activation="gelu",
         y_range=(1.0, 5.0)),
], ids=["GMF", "MLP", "NeuMF"])
def test_batched_catalogue_scores_equal_pairwise_forward(kwargs):
    # score_items never builds the pairs (split first layer, GMF as a matrix
    # product): it must give forward's score of every (user, item) pair.
    torch.manual_seed(0)
    module = NCF(6, 9, init_std=0.5, **kwargs)
    if kwargs.get("batch_norm"):  # non-trivial running statistics
        module.train()(torch.arange(6).repeat(9), torch.arange(9).repeat_interleave(6))
    module.eval()
    users, items = torch.tensor([5, 0, 3, 3]), torch.tensor([8, 1, 4, 0, 2])
    pairs = module(users.repeat_interleave(len(items)), items.repeat(len(users)))
    expected = pairs.detach().reshape(len(users), len(items))
    torch.testing.assert_close(module.score_items(users, items), expected)
    torch.testing.assert_close(module.score_items(users, items, max_pairs=7), expected)
    with config_context(working_memory=1e-5):  # the budget caps the block: one user
        torch.testing.assert_close(module.score_items(users, items), expected)


def test_y_range_and_penalty():
    torch.manual_seed(0)
    module = NCF(3, 3, n_factors=2, hidden_layers=(), y_range=(1.0, 5.0), alpha=0.1)
    users, items = torch.tensor([0, 1]), torch.tensor([2, 0])
    z = module.output(module.gmf_user(users) * module.gmf_item(items)).squeeze(-1)
    scores, penalty = module(users, items)
    torch.testing.assert_close(scores, 1.0 + 4.0 * torch.sigmoid(z))
    expected = 0.1 * (module.gmf_user(users).square().sum(1)
                      + module.gmf_item(items).square().sum(1))
    torch.testing.assert_close(penalty, expected)


def test_rating_regression_learns_low_rank():
    X, y = low_rank_ratings()
    rng = np.random.default_rng(1)
    test = rng.random(len(y)) < 0.15
    model = MLP(feedback="explicit", mlp_factors=8, hidden_layers=(32, 16), lr=0.01,
                batch_size=64, max_epochs=60, random_state=0).fit(X[~test], y[~test])
    rmse = np.sqrt(np.mean((model.predict(X[test]) - y[test]) ** 2))
    baseline = np.sqrt(np.mean((y[~test].mean() - y[test]) ** 2))
    assert rmse < 0.6 * baseline, (rmse, baseline)
    assert model.rating_range_ == (y[~test].min(), y[~test].max())


def test_neumf_starts_from_pretrained_branches():
    X = checkerboard(12, 12)
    gmf = GMF(n_factors=3, lr=0.05, max_epochs=5, random_state=0).fit(X)
    mlp = MLP(mlp_factors=2, hidden_layers=(4, 2), max_epochs=5, random_state=0)
    model = NeuMF(gmf=gmf, mlp=mlp, optimizer="sgd", lr=1e-12, max_epochs=1,
                  random_state=0).fit(X)
    assert model.gmf_ is gmf  # already fitted on the same ids: used as it is
    assert model.mlp_ is not mlp and model.mlp_.module_ is not None  # fitted clone
    assert not hasattr(mlp, "module_")
    state, g, m = (x.module_.state_dict() for x in (model, model.gmf_, model.mlp_))
    torch.testing.assert_close(state["gmf_user.weight"], g["gmf_user.weight"])
    torch.testing.assert_close(state["tower.2.weight"], m["tower.2.weight"])
    torch.testing.assert_close(state["output.weight"], 0.5 * torch.cat(
        [g["output.weight"], m["output.weight"]], dim=1))
    torch.testing.assert_close(state["output.bias"], 0.5 * (g["output.bias"] + m["output.bias"]))


def test_module_params_are_grid_searchable():
    model = MLP(hidden_layers=(4,), max_epochs=1, random_state=0)
    model.set_params(module__activation="tanh")
    assert clone(model).get_params()["module__activation"] == "tanh"
    model.fit(checkerboard(6, 6))
    assert isinstance(model.module_.tower[1], torch.nn.Tanh)


def test_early_stopping_records_validation_ndcg():
    model = GMF(n_factors=4, lr=0.05, early_stopping=True, **FAST).fit(checkerboard(20, 20))
    assert "valid_ndcg" in model.history_[-1]
    assert model.history_[:, "valid_ndcg"][-1] > 0.9


def test_determinism_and_pickle():
    X = checkerboard(10, 10)
    kw = dict(mlp_factors=4, hidden_layers=(8,), dropout=0.3, max_epochs=3, batch_size=16)
    a = NeuMF(random_state=3, **kw).fit(X)
    b = NeuMF(random_state=3, **kw).fit(X)
    c = NeuMF(random_state=4, **kw).fit(X)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert not np.array_equal(a.predict(X), c.predict(X))
    loaded = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(loaded.predict(X), a.predict(X))
    np.testing.assert_array_equal(loaded.recommend([0, 1]), a.recommend([0, 1]))


@pytest.mark.parametrize("layers", [(), (8, 0), (8, -2), (4.5,)])
def test_bad_layer_sizes(layers):
    with pytest.raises(ValueError, match=r"hidden_layers=.*positive ints"):
        MLP(hidden_layers=layers).fit(checkerboard(4, 4))


@pytest.mark.parametrize("dropout", [1.0, -0.1])
def test_bad_dropout(dropout):
    with pytest.raises(ValueError, match=r"'dropout' parameter of MLP must be .*\[0(\.0)?, 1"):
        MLP(dropout=dropout).fit(checkerboard(4, 4))


def test_bad_input_messages():
    X = checkerboard(4, 4)
    with pytest.raises(ValueError, match="feedback='explicit' requires y to be passed"):
        GMF(feedback="explicit").fit(X)
    with pytest.raises(ValueError, match="needs both gmf and mlp"):
        NeuMF(gmf=GMF()).fit(X)
    with pytest.raises(ValueError, match="y_range=.*low < high"):
        GMF(feedback="explicit", y_range=(5, 1)).fit(X, np.ones(len(X)))

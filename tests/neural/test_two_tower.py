"""Tests of the two-tower retrieval model and its brute-force index (CPU, tiny data)."""

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.exceptions import NotFittedError

from sklearn_recs.neural import BruteForceIndex, TwoTower
from sklearn_recs.neural._two_tower import FactorizedTopKRecall
from sklearn_recs.neural._two_tower_modules import InBatchSoftmaxLoss, TwoTowerModule
from sklearn_recs.utils._testing import checkerboard

FAST = dict(n_factors=4, batch_size=32, max_epochs=30, random_state=0)


def group_features(items, noise_seed=0):
    rng = np.random.default_rng(noise_seed)
    items = np.asarray(items)
    return pd.DataFrame({"even": (items % 2 == 0).astype(float),
                         "noise": rng.normal(size=len(items))}, index=items)


@pytest.fixture(scope="module")
def fitted():
    return TwoTower(**FAST).fit(checkerboard(20, 20))


def test_ranks_planted_positives_first(fitted):
    top = fitted.recommend(fitted.users_, top_n=10, exclude_seen=False)
    assert ((top + fitted.users_[:, None]) % 2 == 0).all()


def test_recommend_equals_an_exact_sort(fitted):
    ids, scores = fitted.recommend(fitted.users_, top_n=6, return_scores=True)
    full = fitted.user_vectors_.astype(np.float64) @ fitted.item_vectors_.T / fitted.temperature
    full[fitted.interactions_.toarray() > 0] = -np.inf
    order = np.argsort(-full, axis=1, kind="stable")[:, :6]
    np.testing.assert_array_equal(ids, fitted.items_[order])
    # recommend's products are float32 (scores up to 1 / temperature = 10): an
    # absolute tolerance too, for scores near 0
    np.testing.assert_allclose(scores, np.take_along_axis(full, order, 1), rtol=1e-5,
                               atol=1e-5)
    # the index answers the same query with the same exclusions
    found, _ = fitted.index_.search(fitted.user_vectors_, k=6, exclude=fitted.interactions_)
    np.testing.assert_array_equal(found, ids)


def test_index_equals_a_full_sort_on_random_vectors():
    rng = np.random.default_rng(0)
    vectors, queries = rng.normal(size=(300, 8)), rng.normal(size=(50, 8))
    exclude = sp.random(50, 300, density=0.1, random_state=0, format="csr")
    index = BruteForceIndex().fit(vectors, ids=np.arange(300) + 1000)
    with pytest.MonkeyPatch.context() as mp:  # several blocks of queries
        mp.setattr("sklearn_recs.neural._two_tower.block_size", lambda n: 7)
        found, scores = index.search(queries, k=12, exclude=exclude)
    full = queries @ vectors.T
    full[exclude.toarray() != 0] = -np.inf
    order = np.argsort(-full, axis=1, kind="stable")[:, :12]
    np.testing.assert_array_equal(found, order + 1000)
    np.testing.assert_allclose(scores, np.take_along_axis(full, order, 1))


def test_in_batch_logits_and_loss_by_hand():
    torch.manual_seed(0)
    log_q = torch.log(torch.tensor([0.5, 0.3, 0.2]))
    module = TwoTowerModule(4, 3, n_factors=3, temperature=0.5, log_q=log_q)
    users, items = torch.tensor([0, 1, 3]), torch.tensor([2, 0, 2])
    u = F.normalize(module.user_tower.ids.weight[users], dim=1)
    v = F.normalize(module.item_tower.ids.weight[items], dim=1)
    expected = u @ v.T / 0.5 - log_q[items][None, :]
    expected[0, 2] = expected[2, 0] = -np.inf  # item 2 is the positive of rows 0 and 2
    logits = module(users, items)
    torch.testing.assert_close(logits, expected)
    by_hand = -torch.stack([expected[r].log_softmax(0)[r] for r in range(3)]).mean()
    torch.testing.assert_close(InBatchSoftmaxLoss()(logits), by_hand)


def test_new_items_get_vectors_without_retraining():
    X = checkerboard(20, 20)
    features = group_features(np.arange(24))
    model = TwoTower(id_dropout=0.5, hidden_layers=(8,), **FAST).fit(
        X, item_features=features.loc[:19])
    before = model.recommend([0], top_n=20, exclude_seen=False)
    model.add_items(features.loc[20:])
    assert model.n_items_ == 24 and list(model.items_) == list(range(24))
    new = model.item_vectors_[20:]
    mean, scale = model._item_scaling
    with torch.no_grad():
        expected = model.net_.module_.item_tower(features=torch.as_tensor(
            (features.loc[20:].to_numpy() - mean) / scale, dtype=torch.float32))
    np.testing.assert_allclose(new, expected.numpy(), rtol=1e-6)
    top = model.recommend(model.users_, top_n=12, exclude_seen=False)
    assert ((top + model.users_[:, None]) % 2 == 0).mean() > 0.95  # new items by group
    assert set(top[0]) >= {20, 22}
    # old items keep their vectors and ranking
    np.testing.assert_array_equal(model.recommend([0], top_n=24, items=np.arange(20),
                                                  exclude_seen=False), before)


def test_new_users_are_embedded_from_features():
    X = checkerboard(20, 20)
    users = group_features(np.arange(22), noise_seed=1)
    model = TwoTower(id_dropout=0.5, hidden_layers=(8,), **FAST).fit(
        X, user_features=users.loc[:19])
    vectors = model.embed_users(users.loc[20:])
    mean, scale = model._user_scaling
    with torch.no_grad():
        expected = model.net_.module_.user_tower(features=torch.as_tensor(
            (users.loc[20:].to_numpy() - mean) / scale, dtype=torch.float32))
    np.testing.assert_allclose(vectors, expected.numpy(), rtol=1e-6)
    found, _ = model.index_.search(vectors, k=10)
    assert ((found + np.array([[20], [21]])) % 2 == 0).all()  # each new user's own group
    with pytest.raises(ValueError, match="the user tower was not built for"):
        model.embed_users(users.loc[20:, ["even"]])


def test_validation_recall_matches_recommend():
    X = checkerboard(20, 20)
    model = TwoTower(early_stopping=True, validation_fraction=0.3, **FAST).fit(X)
    assert "valid_recall" in model.history_[-1]
    train = model.interactions_.copy()
    rng = np.random.default_rng(0)
    valid = sp.csr_matrix(train.multiply(rng.random(train.shape) < 0.3))
    valid.eliminate_zeros()
    train = (train - valid).tocsr()
    train.eliminate_zeros()
    callback = FactorizedTopKRecall(train, valid, k=3).initialize()
    recall = callback._score(model.net_)
    users = np.flatnonzero(np.diff(valid.indptr))
    hits = 0
    for u in users:
        scores = model.user_vectors_[u] @ model.item_vectors_.T
        scores[train[u].indices] = -np.inf
        top = np.argsort(-scores, kind="stable")[:3]
        hits += len(set(top) & set(valid[u].indices))
    assert recall == pytest.approx(hits / valid.nnz)


def test_determinism_and_pickle():
    X = checkerboard(10, 10)
    feats = group_features(np.arange(10))
    kw = dict(n_factors=4, batch_size=8, max_epochs=3, id_dropout=0.3)
    a = TwoTower(random_state=1, **kw).fit(X, item_features=feats)
    b = TwoTower(random_state=1, **kw).fit(X, item_features=feats)
    c = TwoTower(random_state=2, **kw).fit(X, item_features=feats)
    np.testing.assert_array_equal(a.item_vectors_, b.item_vectors_)
    assert not np.array_equal(a.item_vectors_, c.item_vectors_)
    loaded = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(loaded.predict(X), a.predict(X))
    np.testing.assert_array_equal(loaded.recommend([0, 1]), a.recommend([0, 1]))


def test_bad_input():
    X = checkerboard(6, 6)
    feats = group_features(np.arange(6))
    with pytest.raises(NotFittedError, match="call fit"):
        BruteForceIndex().search(np.ones((1, 3)))
    with pytest.raises(NotFittedError):
        TwoTower().recommend([0])
    with pytest.raises(ValueError, match=r"hidden_layers=\(\) is invalid"):
        TwoTower(hidden_layers=()).fit(X)
    with pytest.raises(ValueError, match="'id_dropout' parameter"):
        TwoTower(id_dropout=1.0).fit(X)
    with pytest.raises(ValueError, match=r"2 item\(s\) of X have no row in item_features"):
        TwoTower(max_epochs=1).fit(X, item_features=feats.loc[:3])
    with pytest.raises(ValueError, match=r"columns \['genre'\] are not"):
        TwoTower(max_epochs=1).fit(X, item_features=feats.assign(genre="x"))
    model = TwoTower(max_epochs=1).fit(X, item_features=feats)
    new = group_features([10, 11])
    with pytest.raises(ValueError, match=r"not built for: unexpected \['year'\], missing \[\]"):
        model.add_items(new.assign(year=1.0))
    with pytest.raises(ValueError, match=r"already in the catalogue"):
        model.add_items(feats.loc[[0]])
    with pytest.raises(ValueError, match="built without item features"):
        TwoTower(max_epochs=1).fit(X).add_items(new)
    with pytest.raises(ValueError, match="2 dimensions but the indexed vectors have 3"):
        BruteForceIndex().fit(np.eye(3)).search(np.ones((1, 2)))


@pytest.mark.parametrize("weighted", [False, True])
def test_in_batch_loss_gradient_equals_cross_entropy(weighted):
    """The fused backward equals autograd through F.cross_entropy, masked slots included."""
    torch.manual_seed(0)
    logits = torch.randn(6, 6, dtype=torch.float64)
    logits[0, 3] = logits[4, 1] = float("-inf")
    weights = torch.rand(6, dtype=torch.float64) if weighted else None
    ours, reference = (logits.clone().requires_grad_() for _ in range(2))
    loss = InBatchSoftmaxLoss()(ours, weights)
    expected = F.cross_entropy(reference, torch.arange(6), reduction="none")
    expected = (expected if weights is None else expected * weights).mean()
    loss.backward(torch.tensor(2.0, dtype=torch.float64))
    expected.backward(torch.tensor(2.0, dtype=torch.float64))
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(ours.grad, reference.grad)


def test_tower_normalisation_gradient_equals_f_normalize():
    """The one-expression backward equals autograd through F.normalize, zero rows included."""
    from sklearn_recs.neural._two_tower_modules import normalize

    torch.manual_seed(0)
    x = torch.randn(5, 7, dtype=torch.float64)
    x[2] = 0.0  # the norm is clamped to eps there
    grad = torch.randn(5, 7, dtype=torch.float64)
    ours, reference = (x.clone().requires_grad_() for _ in range(2))
    normalize(ours).backward(grad)
    F.normalize(reference, dim=-1).backward(grad)
    torch.testing.assert_close(normalize(x), F.normalize(x, dim=-1))
    torch.testing.assert_close(ours.grad, reference.grad)

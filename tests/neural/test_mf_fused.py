"""The fused biased-MF forward/backward against plain autograd, and the sampling."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from sklearn_recs.neural._data import InteractionData, sample_negatives
from sklearn_recs.neural import _modules
from sklearn_recs.neural._modules import BiasedMF, SampledSoftmaxLoss


def reference(module, users, items):
    """Scores and penalty of ``module`` by autograd over dense look-ups."""
    p = module.user_factors[users]
    q = module.item_factors[items]
    bu = module.user_bias[users]
    bi = module.item_bias[items]
    if items.dim() == 2:
        scores = (q * p[:, None]).sum(-1) + bu[:, None] + bi
        q_sq, bi_sq = q.square().sum((1, 2)), bi.square().sum(1)
    else:
        scores = (p * q).sum(-1) + bu + bi
        q_sq, bi_sq = q.square().sum(-1), bi.square()
    penalty = (module.alpha * (p.square().sum(-1) + q_sq)
               + module.alpha_bias * (bu.square() + bi_sq))
    return scores + module.global_mean, penalty


@pytest.mark.parametrize("kernels", [True, False], ids=["numba", "torch"])
@pytest.mark.parametrize("sparse", [True, False, "auto"])
@pytest.mark.parametrize("pairwise", [True, False])
def test_fused_gradients_match_autograd(sparse, pairwise, kernels, monkeypatch):
    # numba kernels on CPU tensors; the torch operations serve other devices
    monkeypatch.setattr(_modules, "_use_kernels", lambda table: kernels)
    torch.manual_seed(0)
    module = BiasedMF(7, 5, 3, alpha=0.3, alpha_bias=0.2, global_mean=1.5, sparse=sparse)
    module = module.double()
    with torch.no_grad():
        for bias in (module.user_bias, module.item_bias):
            bias.normal_()
    users = torch.tensor([0, 3, 3, 6, 1, 0])           # repeated rows add up
    items = torch.tensor([[1, 4], [1, 1], [0, 2], [4, 3], [2, 2], [1, 0]]) if pairwise \
        else torch.tensor([1, 1, 0, 4, 2, 1])
    w_s = torch.randn(items.shape, dtype=torch.float64)
    w_p = torch.randn(len(users), dtype=torch.float64)

    module.train()
    scores, penalty = module(users, items)
    ((scores * w_s).sum() + (penalty * w_p).sum()).backward()
    fused = [t.grad.to_dense() for t in module.parameters()]
    module.zero_grad(set_to_none=True)
    ref_scores, ref_penalty = reference(module, users, items)
    ((ref_scores * w_s).sum() + (ref_penalty * w_p).sum()).backward()

    torch.testing.assert_close(scores, ref_scores)
    torch.testing.assert_close(penalty, ref_penalty)
    for got, param in zip(fused, module.parameters()):
        assert got.layout == torch.strided
        torch.testing.assert_close(got, param.grad)


@pytest.mark.parametrize("kernels", [True, False], ids=["numba", "torch"])
@pytest.mark.parametrize("sparse", [True, False])
def test_row_steps_scale_each_rows_gradient(sparse, kernels, monkeypatch):
    monkeypatch.setattr(_modules, "_use_kernels", lambda table: kernels)
    steps = dict(user_step=[1.0, 0.5, 1.0, 0.25], item_step=[0.1, 1.0, 1.0])
    grads = []
    for kwargs in ({}, steps):
        torch.manual_seed(0)
        module = BiasedMF(4, 3, 2, alpha=0.3, alpha_bias=0.2, sparse=sparse, **kwargs)
        scores, penalty = module(torch.tensor([0, 1, 3, 1]), torch.tensor([0, 2, 0, 1]))
        (scores.square().sum() + penalty.sum()).backward()
        grads.append([t.grad.to_dense() for t in module.parameters()])
    for plain, scaled, step in zip(grads[0], grads[1], steps.values()):
        torch.testing.assert_close(scaled, plain * torch.tensor(step).unsqueeze(1))


@pytest.mark.parametrize("sparse", [True, "auto"])
def test_sparse_gradient_touches_only_batch_rows(sparse):
    module = BiasedMF(100, 50, 4, alpha=0.1, sparse=sparse)
    scores, penalty = module(torch.tensor([3, 3, 9]), torch.tensor([7, 8, 7]))
    (scores.sum() + penalty.sum()).backward()
    grad = module.user_table.grad
    assert grad.is_sparse
    assert sorted(set(grad.coalesce().indices()[0].tolist())) == [3, 9]


def test_auto_gradient_is_dense_for_a_table_no_larger_than_the_batch():
    module = BiasedMF(2, 50, 4, sparse="auto")
    scores, penalty = module(torch.tensor([0, 1, 1]), torch.tensor([7, 8, 7]))
    (scores.sum() + penalty.sum()).backward()
    assert not module.user_table.grad.is_sparse  # 2 rows, 3 look-ups
    assert module.item_table.grad.is_sparse      # 50 rows, 3 look-ups


def test_without_user_bias_tables_hold_factors_only():
    module = BiasedMF(6, 5, 3, user_bias=False, alpha=0.2)
    assert module.user_bias is None and module.user_table.shape == (6, 3)
    assert module.item_table.shape == (5, 4)
    users, items = torch.tensor([0, 5]), torch.tensor([[1, 2, 3], [4, 0, 1]])
    scores, _ = module(users, items)
    expected = (module.user_factors[users, None] * module.item_factors[items]).sum(-1) \
        + module.item_bias[items]
    torch.testing.assert_close(scores, expected)
    with torch.no_grad():
        full = module.score_all(users)
    torch.testing.assert_close(full.gather(1, items), expected)


def test_eval_mode_returns_scores_only():
    module = BiasedMF(4, 4, 2).eval()
    with torch.no_grad():
        out = module(torch.tensor([0, 1]), torch.tensor([2, 3]))
    expected = (module.user_factors[[0, 1]] * module.item_factors[[2, 3]]).sum(1)
    torch.testing.assert_close(out, expected)


def test_sample_negatives_redraws_only_collisions():
    # user 0 has every item but 3, user 1 has none: user 0's draws all end on 3
    data = InteractionData([0, 0, 0], [0, 1, 2], n_items=4, positives=[0, 1, 2])
    users = torch.tensor([0, 1, 0, 1, 0])
    gen = torch.Generator().manual_seed(0)
    negatives = sample_negatives(data, users, 6, gen, max_rounds=60)
    assert (negatives[users == 0] == 3).all()
    assert len(negatives[users == 1].unique()) > 1  # user 1's draws are left alone


def test_positive_mask_and_binary_search_draw_the_same_negatives(monkeypatch):
    rng = np.random.default_rng(0)
    users, items = np.nonzero(rng.random((30, 20)) < 0.5)
    keys = users * 20 + items
    masked = InteractionData(users, items, n_items=20, positives=keys)
    assert masked.positive_mask is not None
    assert masked.positive_mask.nonzero().squeeze(1).tolist() == keys.tolist()
    monkeypatch.setattr(InteractionData, "_MASK_LIMIT", 0)
    searched = InteractionData(users, items, n_items=20, positives=keys)
    assert searched.positive_mask is None
    draws = [sample_negatives(data, data.users, 5, torch.Generator().manual_seed(1),
                              max_rounds=50)
             for data in (masked, searched)]
    torch.testing.assert_close(draws[0], draws[1])
    assert not masked.is_positive(masked.users[:, None] * 20 + draws[0]).any()


def test_sampled_softmax_loss_is_cross_entropy_on_column_zero():
    scores = torch.randn(5, 4, dtype=torch.float64)
    weights = torch.rand(5, dtype=torch.float64)
    target = torch.zeros(5, dtype=torch.long)
    expected = F.cross_entropy(scores, target)
    torch.testing.assert_close(SampledSoftmaxLoss()(scores), expected)
    weighted = (F.cross_entropy(scores, target, reduction="none") * weights).mean()
    torch.testing.assert_close(SampledSoftmaxLoss()(scores, weights), weighted)


def _rated_matrix():
    """A 4-user x 5-item rated pattern (user 3 rated nothing)."""
    return sp.csr_matrix(np.array([[1, 0, 1, 1, 0], [0, 1, 0, 0, 0], [1, 1, 0, 0, 1],
                                   [0, 0, 0, 0, 0]], dtype=np.float32))


def _implicit_module(sparse=False):
    torch.manual_seed(0)
    module = BiasedMF(4, 5, 3, alpha=0.3, alpha_bias=0.2, global_mean=1.5, sparse=sparse,
                      implicit=_rated_matrix()).double()
    with torch.no_grad():
        module.implicit_sums.normal_()
        for bias in (module.user_bias, module.item_bias):
            bias.normal_()
    return module


@pytest.mark.parametrize("kernels", [True, False], ids=["numba", "torch"])
@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("pairwise", [True, False])
def test_implicit_sums_enter_scores_and_their_gradient_is_accumulated(sparse, pairwise,
                                                                      kernels, monkeypatch):
    monkeypatch.setattr(_modules, "_use_kernels", lambda table: kernels)
    module = _implicit_module(sparse)
    users = torch.tensor([0, 2, 2, 3, 1, 0])
    items = torch.tensor([[1, 4], [1, 1], [0, 2], [4, 3], [2, 2], [1, 0]]) if pairwise \
        else torch.tensor([1, 1, 0, 4, 2, 1])
    w_s = torch.randn(items.shape, dtype=torch.float64)
    w_p = torch.randn(len(users), dtype=torch.float64)
    module.train()
    for _ in range(2):  # the implicit gradient adds up over batches
        scores, penalty = module(users, items)
        ((scores * w_s).sum() + (penalty * w_p).sum()).backward()
    fused = [t.grad.to_dense() / 2 for t in module.parameters()]
    accumulated = module.implicit_grad.clone() / 2

    # reference: autograd over p_u + s_u, the penalty on p_u only
    module.zero_grad(set_to_none=True)
    sums = module.implicit_sums.clone().requires_grad_()
    p = module.user_factors[users] + sums[users]
    q = module.item_factors[items]
    bu, bi = module.user_bias[users], module.item_bias[items]
    if pairwise:
        ref_scores = (q * p[:, None]).sum(-1) + bu[:, None] + bi + module.global_mean
        q_sq, bi_sq = q.square().sum((1, 2)), bi.square().sum(1)
    else:
        ref_scores = (p * q).sum(-1) + bu + bi + module.global_mean
        q_sq, bi_sq = q.square().sum(-1), bi.square()
    ref_penalty = (0.3 * (module.user_factors[users].square().sum(-1) + q_sq)
                   + 0.2 * (bu.square() + bi_sq))
    ((ref_scores * w_s).sum() + (ref_penalty * w_p).sum()).backward()
    torch.testing.assert_close(scores, ref_scores)
    torch.testing.assert_close(penalty, ref_penalty)
    for got, param in zip(fused, module.parameters()):
        torch.testing.assert_close(got, param.grad)
    torch.testing.assert_close(accumulated, sums.grad)
    assert accumulated[3].abs().sum() > 0  # kept per user, for users without rated items too

    # eval mode (validation, score_all) uses the sums and accumulates nothing
    module.eval()
    module.implicit_grad.zero_()
    torch.testing.assert_close(module(users, items), ref_scores.detach())
    torch.testing.assert_close(module.score_all(users)[
        torch.arange(len(users))[:, None], items if pairwise else items[:, None]],
        (ref_scores if pairwise else ref_scores[:, None]).detach())
    assert not module.implicit_grad.any()


@pytest.mark.parametrize("kernels", [True, False], ids=["numba", "torch"])
def test_implicit_step_against_numpy(kernels, monkeypatch):
    monkeypatch.setattr(_modules, "_use_kernels", lambda table: kernels)
    module = _implicit_module()
    rng = np.random.default_rng(0)
    with torch.no_grad():
        module.implicit_factors.copy_(torch.as_tensor(rng.normal(size=(5, 3))))
        module.implicit_grad.copy_(torch.as_tensor(rng.normal(size=(4, 3))))
    y, grad = module.implicit_factors.numpy().copy(), module.implicit_grad.numpy().copy()
    shrink = np.array([0.1, 0.0, 0.3, 0.2, 0.5])
    module.implicit_step(0.7, shrink)
    # s_u = |N(u)|^-1/2 sum_{j in N(u)} y_j: the normalised rated matrix times y
    rated = _rated_matrix().toarray()
    normalised = rated / np.sqrt(np.maximum(rated.sum(1, keepdims=True), 1))
    expected = y - 0.7 * (normalised.T @ grad + shrink[:, None] * y)
    np.testing.assert_allclose(module.implicit_factors.numpy(), expected)
    np.testing.assert_allclose(module.implicit_sums.numpy(), normalised @ expected)
    assert not module.implicit_sums[3].any()  # no rated items: no implicit term
    assert not module.implicit_grad.any()  # ready for the next accumulation


def _shared_rated_matrix(n_users=40, n_items=12, seed=0):
    """Users who share many items (so ``K = N^ N^T`` has several eigenvalues far above 1),
    row ``u`` scaled by ``|N(u)|^-1/2``, and the dense eigendecomposition of ``K``."""
    rng = np.random.default_rng(seed)
    rated = (rng.random((n_users, n_items)) < np.linspace(0.9, 0.1, n_items)).astype(float)
    rated[-1] = 0  # a user without rated items
    normalised = rated / np.sqrt(np.maximum(rated.sum(1, keepdims=True), 1))
    values, vectors = np.linalg.eigh(normalised @ normalised.T)
    return rated, normalised, values, vectors


@pytest.mark.parametrize("dense", [True, False], ids=["eigh", "eigsh"])
@pytest.mark.parametrize("max_directions", [16, 2])
def test_implicit_deflation_caps_the_spectrum(dense, max_directions, monkeypatch):
    monkeypatch.setattr(_modules, "_DENSE_USERS", 10_000 if dense else 0)
    _, normalised, values, vectors = _shared_rated_matrix()
    cap = 1.5
    assert (values > cap).sum() > max_directions or max_directions == 16
    directions, weights, rest = _modules.implicit_deflation(sp.csr_matrix(normalised), cap,
                                                            max_directions)
    operator = rest * np.eye(len(values)) + directions @ np.diag(weights) @ directions.T
    # what the step's operator K A does along each eigenvector of K
    if max_directions == 16:  # every eigenvalue above the cap is capped, the rest kept
        assert rest == 1.0 and len(weights) == (values > cap).sum()
        capped = np.minimum(values, cap)
    else:  # two held at the cap, the rest scaled by cap / (the third eigenvalue)
        top = np.sort(values)[::-1]
        assert len(weights) == 2
        np.testing.assert_allclose(rest, cap / top[2], rtol=1e-4)
        capped = np.where(values >= top[1], cap, values * cap / top[2])
    expected = vectors @ np.diag(capped) @ vectors.T
    atol = 1e-10 if dense else 1e-4
    np.testing.assert_allclose(normalised @ normalised.T @ operator, expected, atol=atol)
    assert np.linalg.eigvalsh((expected + expected.T) / 2).max() <= cap * (1 + 1e-9)


@pytest.mark.parametrize("above", [1.5, 1.05], ids=["row-sum-bound", "eigenvalues"])
def test_implicit_deflation_not_needed_below_the_cap(above):
    # 1.5: K's largest row sum (28.4) is below the cap already; 1.05: it is not,
    # but no eigenvalue (the largest 24.3) is above the cap
    rated, normalised, values, _ = _shared_rated_matrix()
    cap = values.max() * above
    directions, weights, rest = _modules.implicit_deflation(sp.csr_matrix(normalised), cap)
    assert directions.shape == (len(values), 0) and len(weights) == 0 and rest == 1.0
    # the module's step is then the uncapped one
    modules = [BiasedMF(*rated.shape, 3, implicit=sp.csr_matrix(rated), implicit_cap=cap_)
               for cap_ in (cap, None)]
    for module in modules:
        with torch.no_grad():
            module.implicit_grad.copy_(torch.ones_like(module.implicit_grad))
        module.implicit_step(0.3, np.zeros(rated.shape[1]))
    torch.testing.assert_close(modules[0].implicit_factors, modules[1].implicit_factors)


@pytest.mark.parametrize("kernels", [True, False], ids=["numba", "torch"])
@pytest.mark.parametrize("cap", [1.5, 5.0], ids=["five-directions", "one-direction"])
def test_capped_implicit_step_against_numpy(kernels, cap, monkeypatch):
    monkeypatch.setattr(_modules, "_use_kernels", lambda table: kernels)
    rated, normalised, values, vectors = _shared_rated_matrix()
    assert (values > cap).sum() == (5 if cap == 1.5 else 1)
    module = BiasedMF(*rated.shape, 3, implicit=sp.csr_matrix(rated, dtype=np.float32),
                      implicit_cap=cap).double()
    rng = np.random.default_rng(1)
    with torch.no_grad():
        module.implicit_factors.copy_(torch.as_tensor(rng.normal(size=(rated.shape[1], 3))))
        module.implicit_grad.copy_(torch.as_tensor(rng.normal(size=(rated.shape[0], 3))))
    y, grad = module.implicit_factors.numpy().copy(), module.implicit_grad.numpy().copy()
    shrink = rng.random(rated.shape[1])
    module.implicit_step(0.3, shrink)
    # the sums move by -lr min(lambda, cap) along each eigenvector of K:
    # the gradient's component along it scaled by min(1, cap / lambda)
    scaled = vectors @ np.diag(np.minimum(1, cap / np.maximum(values, 1e-12))) @ vectors.T
    expected = y - 0.3 * (normalised.T @ (scaled @ grad) + shrink[:, None] * y)
    # (the module was built in float32: the eigenvectors carry its rounding)
    np.testing.assert_allclose(module.implicit_factors.numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(module.implicit_sums.numpy(), normalised @ expected, atol=1e-6)
    uncapped = y - 0.3 * (normalised.T @ grad + shrink[:, None] * y)
    assert np.abs(uncapped - expected).max() > 0.1  # the cap changed the step
    assert not module.implicit_grad.any()

"""The negative sampler's CPU kernel against its torch path (same rule, same law)."""

import numpy as np
import pytest
import torch

from sklearn_recs.neural._data import (
    InteractionData,
    _sample_on_cpu,
    _sample_with_torch,
    sample_negatives,
)


def _data(weights=None, mask=True, monkeypatch=None):
    rng = np.random.default_rng(0)
    users, items = np.nonzero(rng.random((30, 12)) < 0.4)
    if not mask:
        monkeypatch.setattr(InteractionData, "_MASK_LIMIT", 0)
    return InteractionData(users, items, n_items=12, positives=users * 12 + items,
                           item_weights=weights)


@pytest.mark.parametrize("path", ["cpu", "torch"])
@pytest.mark.parametrize("weights", [None, np.arange(1.0, 13.0)])
def test_both_paths_draw_the_same_law_and_avoid_positives(path, weights):
    """Each path draws a user's non-positive items in proportion to their weight."""
    data = _data(weights)
    users = torch.arange(30).repeat_interleave(400)
    gen = torch.Generator().manual_seed(0)
    draws = (_sample_on_cpu(data, users, 5, gen, 40, None) if path == "cpu"
             else _sample_with_torch(data, users, 5, gen, 40))
    assert draws.shape == (12000, 5) and draws.dtype == torch.int64
    assert not data.is_positive(users[:, None] * 12 + draws).any()
    # the law: weight over the user's non-positive items, checked per user
    w = np.ones(12) if weights is None else weights
    seen = np.zeros((30, 12), dtype=bool)
    seen[data.users.numpy(), data.items.numpy()] = True
    counts = np.zeros((30, 12))
    np.add.at(counts, (users.numpy()[:, None].repeat(5, 1), draws.numpy()), 1)
    expected = np.where(seen, 0.0, w) / np.where(seen, 0.0, w).sum(1, keepdims=True) * 2000
    np.testing.assert_array_equal(counts[seen], 0)
    # 2,000 draws per user: within 5 standard deviations of each expected count
    assert (np.abs(counts - expected) <= 5 * np.sqrt(expected) + 1).all()


def test_cpu_draws_are_a_function_of_the_seed_and_keep_the_lookup_rule(monkeypatch):
    users = torch.arange(30).repeat_interleave(3)
    masked = _data()
    first, again = (sample_negatives(masked, users, 4, torch.Generator().manual_seed(7))
                    for _ in range(2))
    torch.testing.assert_close(first, again)
    other = sample_negatives(masked, users, 4, torch.Generator().manual_seed(8))
    assert not torch.equal(first, other)
    # binary search among the positives draws what the mask does
    searched = _data(mask=False, monkeypatch=monkeypatch)
    assert searched.positive_mask is None
    torch.testing.assert_close(
        sample_negatives(searched, users, 4, torch.Generator().manual_seed(7)), first)


def test_out_receives_the_draws():
    """A strided ``out`` (a batch table's negative columns) gets the same draws."""
    data = _data()
    users = torch.arange(30)
    table = torch.zeros((30, 4), dtype=torch.int64)
    returned = sample_negatives(data, users, 3, torch.Generator().manual_seed(0),
                                out=table[:, 1:])
    assert returned.data_ptr() == table[:, 1:].data_ptr()
    expected = sample_negatives(data, users, 3, torch.Generator().manual_seed(0))
    torch.testing.assert_close(table[:, 1:], expected)
    assert (table[:, 0] == 0).all()

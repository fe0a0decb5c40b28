"""Batching by index tensors, negative sampling, and the per-user split.

A batch is never built sample by sample: :class:`InteractionData` holds the
whole user, item and target columns as tensors on the training device, and
:class:`IndexBatchIterator` slices them with one permutation per epoch;
negatives are drawn for the whole batch at once (:func:`sample_negatives`).
Every draw comes from a ``torch.Generator`` seeded from ``random_state`` and
the epoch index (:func:`epoch_seed`), so that a training resumed from a
checkpoint draws what an uninterrupted one would.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["IndexBatchIterator", "InteractionData", "epoch_seed", "per_user_split",
           "sample_negatives"]


class InteractionData(Dataset):
    """Whole interaction columns as tensors (a skorch-compatible dataset).

    Parameters
    ----------
    users, items : array-like of shape (n,)
        Integer codes.
    target : array-like of shape (n,), default=None
        Ratings (regression) or confidence weights (ranking); None for none.
    n_items : int, default=None
        Catalogue size, for negative sampling.
    positives : array-like of int64, default=None
        Sorted keys ``user * n_items + item`` of every known positive, so
        that sampled negatives avoid them.
    item_weights : array-like of shape (n_items,), default=None
        Sampling weights of the negatives (None: uniform).
    device : str or torch.device, default="cpu"
        Where the tensors live.

    Attributes
    ----------
    positive_mask : torch.Tensor of bool or None
        ``positive_mask[key]`` tells whether a key is a positive, when the
        keys up to the last positive's number at most ``_MASK_LIMIT``
        (64 Mi: as many bytes); None otherwise, and the positives are found
        by binary search among ``positives``. Either gives the same draws.
    """

    _MASK_LIMIT = 1 << 26

    def __init__(self, users, items, target=None, *, n_items=None, positives=None,
                 item_weights=None, device="cpu"):
        self.device = torch.device(device)
        self.users = torch.as_tensor(np.asarray(users, dtype=np.int64), device=self.device)
        self.items = torch.as_tensor(np.asarray(items, dtype=np.int64), device=self.device)
        self.target = None if target is None else torch.as_tensor(
            np.asarray(target, dtype=np.float32), device=self.device)
        self.n_items = n_items
        self.positives = None if positives is None else torch.as_tensor(
            np.asarray(positives, dtype=np.int64), device=self.device)
        self.positive_mask = self._mask(self.positives)
        self.item_cdf = None
        if item_weights is not None:
            cdf = np.cumsum(np.asarray(item_weights, dtype=np.float64))
            self.item_cdf = torch.as_tensor(cdf / cdf[-1], dtype=torch.float64,
                                            device=self.device)

    @staticmethod
    def _mask(positives):
        """A boolean table over the keys up to the last positive's, and one
        slot more (False) for every key beyond it: a look-up instead of a
        binary search, when it holds at most ``_MASK_LIMIT`` keys (else None)."""
        if positives is None or not positives.numel():
            return None
        n_keys = int(positives[-1]) + 2
        if n_keys > InteractionData._MASK_LIMIT:
            return None
        mask = torch.zeros(n_keys, dtype=torch.bool, device=positives.device)
        mask[positives] = True
        return mask

    def is_positive(self, keys):
        """Whether each key ``user * n_items + item`` is a known positive."""
        if self.positive_mask is not None:
            return self.positive_mask[keys.clamp(max=len(self.positive_mask) - 1)]
        pos = torch.searchsorted(self.positives, keys).clamp_(max=self.positives.numel() - 1)
        return self.positives[pos] == keys

    def __len__(self):
        return int(self.users.shape[0])

    def __getitem__(self, index):  # pragma: no cover - batches are sliced, not collated
        raise NotImplementedError("InteractionData is read in batches by IndexBatchIterator.")


def sample_negatives(data, users, n_negatives, generator, *, max_rounds=3, out=None):
    """Draw ``n_negatives`` items per user for a whole batch, vectorised.

    Items are drawn uniformly or from ``data.item_cdf``; draws that hit a
    known positive of their user are redrawn (up to ``max_rounds`` times,
    after which the rare remaining collisions are kept). On a CPU one numba
    pass draws them (:func:`_draw_negatives`, a counter-based generator
    seeded from ``generator``); on other devices torch ops do, redrawing
    only the entries that hit a positive. Both keep the same rule; their
    draws differ.

    Parameters
    ----------
    data : InteractionData
        Holds ``n_items``, ``positives`` and ``item_cdf``.
    users : torch.Tensor of shape (B,)
        User codes of the batch.
    n_negatives : int
        Draws per row.
    generator : torch.Generator
        Source of randomness (on ``data.device``).
    max_rounds : int, default=3
        Redraw rounds for collisions with positives.
    out : torch.Tensor of shape (B, n_negatives), default=None
        Where to write the draws (e.g. columns of a batch's item table).

    Returns
    -------
    negatives : torch.Tensor of shape (B, n_negatives)
        Item codes (``out`` when given).
    """
    if data.device.type == "cpu":
        return _sample_on_cpu(data, users, n_negatives, generator, max_rounds, out)
    negatives = _sample_with_torch(data, users, n_negatives, generator, max_rounds)
    return negatives if out is None else out.copy_(negatives)


def _sample_on_cpu(data, users, n_negatives, generator, max_rounds, out):
    """:func:`sample_negatives` on a CPU: one pass of :func:`_draw_negatives`."""
    if out is None:
        out = torch.empty((users.shape[0], n_negatives), dtype=torch.int64)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    empty_int, empty_float = np.empty(0, dtype=np.int64), np.empty(0)
    positives = empty_int if data.positives is None else data.positives.numpy()
    mask = (np.empty(0, dtype=np.bool_) if data.positive_mask is None
            else data.positive_mask.numpy())
    cdf = empty_float if data.item_cdf is None else data.item_cdf.numpy()
    _draw_negatives(users.numpy(), data.n_items, seed, positives, mask, cdf, max_rounds,
                    out.numpy())
    return out


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


@numba.njit(nogil=True, cache=True)
def _draw_negatives(users, n_items, seed, positives, mask, cdf, max_rounds, out):
    """Fill ``out[r, k]`` with items drawn for ``users[r]``, redrawing a known
    positive up to ``max_rounds`` times (the last draw is kept).

    Draws come from splitmix64 over a counter started at ``seed``: sequential
    and a function of the seed alone. Items are uniform over ``n_items`` or,
    when ``cdf`` is not empty, the first index whose cumulative share
    reaches a uniform draw. A positive is looked up in ``mask`` (keys
    ``user * n_items + item`` beyond its end are not positives) or, when it
    is empty, by binary search among the sorted ``positives``.
    """
    state = np.uint64(seed)
    n_positives = positives.shape[0]
    last = mask.shape[0] - 1
    for r in range(out.shape[0]):
        base = np.int64(users[r]) * n_items
        for k in range(out.shape[1]):
            for attempt in range(max_rounds + 1):
                state += _GOLDEN
                z = state
                z = (z ^ (z >> np.uint64(30))) * _MIX1
                z = (z ^ (z >> np.uint64(27))) * _MIX2
                z = z ^ (z >> np.uint64(31))
                if cdf.shape[0]:
                    uniform = np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)
                    item = min(np.searchsorted(cdf, uniform), n_items - 1)
                else:
                    item = np.int64(z % np.uint64(n_items))
                key = base + item
                if last >= 0:
                    hit = mask[min(key, last)]
                elif n_positives:  # the first position whose key is >= key
                    low, high = 0, n_positives
                    while low < high:
                        middle = (low + high) >> 1
                        if positives[middle] < key:
                            low = middle + 1
                        else:
                            high = middle
                    hit = low < n_positives and positives[low] == key
                else:
                    hit = False
                if not hit:
                    break
            out[r, k] = item


def _sample_with_torch(data, users, n_negatives, generator, max_rounds):
    """:func:`sample_negatives` with torch ops (on any device)."""
    shape = (users.shape[0], n_negatives)

    def draw(size):
        if data.item_cdf is None:
            return torch.randint(0, data.n_items, size, generator=generator,
                                 device=data.device)
        u = torch.rand(size, generator=generator, device=data.device, dtype=torch.float64)
        return torch.searchsorted(data.item_cdf, u).clamp_(max=data.n_items - 1)

    negatives = draw(shape)
    if data.positives is None or data.positives.numel() == 0:
        return negatives
    flat = negatives.view(-1)
    redrawn = None  # flat positions drawn in the last round; None: all of them
    for _ in range(max_rounds):
        if redrawn is None:
            keys = (users.unsqueeze(1) * data.n_items + negatives).view(-1)
        else:
            keys = users[redrawn // n_negatives] * data.n_items + flat[redrawn]
        hit = data.is_positive(keys)
        redrawn = hit.nonzero().squeeze(1) if redrawn is None else redrawn[hit]
        if not redrawn.numel():
            break
        flat[redrawn] = draw((redrawn.numel(),))
    return negatives


def epoch_seed(seed, epoch):
    """The seed of epoch ``epoch``'s draws: a function of ``(seed, epoch)`` only.

    Parameters
    ----------
    seed : int
        The training seed (from ``random_state``).
    epoch : int
        Zero-based epoch index.

    Returns
    -------
    seed : int
        A 32-bit seed, well mixed (``numpy.random.SeedSequence``), so that
        neighbouring seeds or epochs give unrelated streams.

    Examples
    --------
    >>> from sklearn_recs.neural._data import epoch_seed
    >>> epoch_seed(0, 3) == epoch_seed(0, 3), epoch_seed(0, 3) == epoch_seed(0, 4)
    (True, False)
    """
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1)[0])


class IndexBatchIterator:
    """Batches of index tensors: one permutation per epoch, no collate.

    Each iteration over the iterator is an epoch: it draws the negatives of
    every row (in data order), and with ``shuffle`` a fresh permutation,
    from a generator seeded with ``epoch_seed(seed, epoch)``, ``epoch``
    counting up from its initial value; the draws of an epoch thus depend
    on the seed and the epoch index only, not on how many epochs this
    iterator ran (a resumed training sets ``epoch`` to the epochs already
    done). Without ``shuffle`` (validation) every epoch restarts from
    ``seed``, so it sees the same negatives. The columns are permuted once
    per epoch, so a batch is a slice (a view), not a gather.

    Parameters
    ----------
    dataset : InteractionData
        The columns to slice.
    batch_size : int
        Rows per batch (the last batch may be smaller).
    shuffle : bool, default=False
        Whether to permute the rows each epoch.
    n_negatives : int, default=0
        Sampled negatives per row; with ``n_negatives > 0`` the batch's
        ``items`` has shape ``(B, 1 + n_negatives)``.
    seed : int, default=0
        Seed of the generator.
    epoch : int, default=0
        Index of the next epoch (with ``shuffle``).

    Yields
    ------
    X : dict
        ``{"users": (B,), "items": (B,) or (B, 1 + n_negatives)}``.
    y : torch.Tensor of shape (B,) or None
        The target slice.
    """

    _SAMPLE_CHUNK = 1 << 20  # rows whose negatives are drawn at once

    def __init__(self, dataset, batch_size, *, shuffle=False, n_negatives=0, seed=0,
                 epoch=0):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.n_negatives = int(n_negatives)
        self.seed = int(seed)
        self.epoch = int(epoch)
        self.generator = torch.Generator(device=dataset.device)

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        data = self.dataset
        n = len(data)
        if self.shuffle:
            self.generator.manual_seed(epoch_seed(self.seed, self.epoch))
            self.epoch += 1
        else:
            self.generator.manual_seed(self.seed)
        users, items, target = data.users, data.items, data.target
        if self.n_negatives:
            # column 0 the positive, then the negatives, drawn in data order
            # (sorted by user when the rows come from a CSR matrix), which
            # keeps the look-up among positives cache-local
            table = torch.empty((n, 1 + self.n_negatives), dtype=torch.int64,
                                device=data.device)
            table[:, 0] = items
            for start in range(0, n, self._SAMPLE_CHUNK):
                stop = start + self._SAMPLE_CHUNK
                sample_negatives(data, users[start:stop], self.n_negatives, self.generator,
                                 out=table[start:stop, 1:])
            items = table
            del table  # this frame lives through the epoch: free the copies now
        if self.shuffle:
            # one gather per column and epoch; the batches are then views
            order = torch.randperm(n, generator=self.generator, device=data.device)
            users, items = users[order], items[order]
            target = None if target is None else target[order]
            del order
        for start in range(0, n, self.batch_size):
            stop = start + self.batch_size
            yield ({"users": users[start:stop], "items": items[start:stop]},
                   None if target is None else target[start:stop])


def per_user_split(user_codes, fraction, random_state):
    """Hold out ``fraction`` of each user's rows, at random: no user is split away.

    A user with ``n`` rows gives ``floor(fraction * n)`` rows to validation
    (at most ``n - 1``), so every validation user also has training rows and
    validation measures what the model learnt about known users.

    Parameters
    ----------
    user_codes : ndarray of shape (n,)
        User code of each row.
    fraction : float
        Share of each user's rows to hold out, in (0, 1).
    random_state : numpy.random.Generator or RandomState
        Source of the random order.

    Returns
    -------
    valid : ndarray of bool of shape (n,)
        True for the held-out rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recs.neural._data import per_user_split
    >>> codes = np.array([0, 0, 0, 0, 1, 1, 2])
    >>> valid = per_user_split(codes, 0.5, np.random.RandomState(0))
    >>> np.bincount(codes[valid], minlength=3)
    array([2, 1, 0])
    """
    user_codes = np.asarray(user_codes)
    n = len(user_codes)
    keys = random_state.random_sample(n) if hasattr(random_state, "random_sample") \
        else random_state.random(n)
    order = np.lexsort((keys, user_codes))
    sorted_users = user_codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    counts = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, counts)
    n_valid = np.minimum(np.floor(fraction * counts).astype(np.int64), counts - 1)
    valid = np.zeros(n, dtype=bool)
    valid[order] = rank < np.repeat(n_valid, counts)
    return valid

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


def sample_negatives(data, users, n_negatives, generator, *, max_rounds=3):
    """Draw ``n_negatives`` items per user for a whole batch, vectorised.

    Items are drawn uniformly or from ``data.item_cdf``; draws that hit a
    known positive of their user are redrawn (up to ``max_rounds`` times,
    after which the rare remaining collisions are kept). Only the redrawn
    entries are checked again, so the cost is one look-up among the
    positives per draw (``data.is_positive``), plus a few for the collisions.

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

    Returns
    -------
    negatives : torch.Tensor of shape (B, n_negatives)
        Item codes.
    """
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
            # drawn in data order (sorted by user when the rows come from a
            # CSR matrix), which keeps the search among positives cache-local
            negatives = torch.empty((n, self.n_negatives), dtype=torch.int64,
                                    device=data.device)
            for start in range(0, n, self._SAMPLE_CHUNK):
                stop = start + self._SAMPLE_CHUNK
                negatives[start:stop] = sample_negatives(
                    data, users[start:stop], self.n_negatives, self.generator)
            items = torch.cat([items.unsqueeze(1), negatives], dim=1)
            del negatives  # this frame lives through the epoch: free the copies now
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

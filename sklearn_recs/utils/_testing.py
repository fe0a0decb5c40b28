"""Small known-answer data sets for tests and doctests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def checkerboard(n_users: int = 10, n_items: int = 10) -> np.ndarray:
    """Interactions of a checkerboard: user ``u`` likes item ``i`` iff ``u + i`` is even.

    Users and items fall into two groups (even and odd ids); each user
    interacts with every item of their own group. A recommender that learns
    anything from co-occurrence ranks the user's own group first.

    Parameters
    ----------
    n_users : int, default=10
        Number of users, ids ``0 .. n_users - 1``.
    n_items : int, default=10
        Number of items, ids ``0 .. n_items - 1``.

    Returns
    -------
    X : ndarray of shape (n_interactions, 2)
        (user id, item id) rows, sorted by user then item.

    Examples
    --------
    >>> from sklearn_recs.utils._testing import checkerboard
    >>> checkerboard(2, 3)
    array([[0, 0],
           [0, 2],
           [1, 1]])
    """
    users, items = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    keep = (users + items) % 2 == 0
    return np.column_stack([users[keep], items[keep]])


def tiny_ratings(n_users: int = 30, n_items: int = 20, density: float = 0.4,
                 random_state: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Small explicit ratings on a 1-5 scale with a planted rank-2 structure.

    Parameters
    ----------
    n_users : int, default=30
        Number of users, ids ``"u00", "u01", ...`` (strings).
    n_items : int, default=20
        Number of items, ids ``0 .. n_items - 1``.
    density : float, default=0.4
        Share of the (user, item) pairs rated; every user and item has at
        least two ratings.
    random_state : int, default=0
        Seed.

    Returns
    -------
    X : DataFrame of shape (n_ratings, 3)
        Columns ``user_id``, ``item_id``, ``timestamp``.
    y : ndarray of shape (n_ratings,)
        Ratings, whole stars from 1 to 5.

    Examples
    --------
    >>> from sklearn_recs.utils._testing import tiny_ratings
    >>> X, y = tiny_ratings()
    >>> X.columns.tolist(), float(y.min()), float(y.max())
    (['user_id', 'item_id', 'timestamp'], 1.0, 5.0)
    """
    rng = np.random.default_rng(random_state)
    user_vecs = rng.normal(size=(n_users, 2))
    item_vecs = rng.normal(size=(n_items, 2))
    affinity = 3.0 + user_vecs @ item_vecs.T + 0.3 * rng.normal(size=(n_users, n_items))
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(n_items, size=n_users)] = True
    mask[np.arange(n_users), (np.arange(n_users) % n_items)] = True
    mask[rng.integers(n_users, size=n_items), np.arange(n_items)] = True
    mask[(np.arange(n_items) * 7) % n_users, np.arange(n_items)] = True
    users, items = np.nonzero(mask)
    ratings = np.clip(np.round(affinity[users, items]), 1, 5)
    X = pd.DataFrame({
        "user_id": np.array([f"u{u:02d}" for u in range(n_users)], dtype=object)[users],
        "item_id": items,
        "timestamp": rng.permutation(len(users)) + 1_000_000,
    })
    return X, ratings

"""Shared fixtures: where the MovieLens files are, and small known data."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_home() -> Path:
    return Path(os.environ.get("SKLEARN_RECS_DATA", REPO.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def data_home() -> Path:
    """The folder holding ``ml-100k/`` and ``ml-latest-small/`` (never the network)."""
    home = _data_home()
    if not (home / "ml-100k" / "u.data").exists():
        pytest.skip(f"MovieLens files not found under {home}; set SKLEARN_RECS_DATA")
    return home


@pytest.fixture(scope="session")
def ml100k_folds(data_home):
    """The canonical ml-100k folds u1..u5 as (train, test) DataFrames."""
    names = ["user_id", "item_id", "rating", "timestamp"]
    folds = []
    for k in range(1, 6):
        train = pd.read_csv(data_home / "ml-100k" / f"u{k}.base", sep="\t", names=names)
        test = pd.read_csv(data_home / "ml-100k" / f"u{k}.test", sep="\t", names=names)
        folds.append((train, test))
    return folds


@pytest.fixture
def rng():
    return np.random.default_rng(0)

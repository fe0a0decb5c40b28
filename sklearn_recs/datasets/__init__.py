"""Datasets: MovieLens loaders and a synthetic interaction generator.

- :func:`fetch_movielens` loads ml-latest-small (embedded in the package,
  offline) or ml-100k (downloaded into :func:`get_data_home` and checked
  against SHA-256 sums; never shipped, as its licence forbids it).
- :func:`make_interactions` generates interactions with power-law
  popularity and planted low-rank structure, for tests and benchmarks.
"""

from ._movielens import fetch_movielens, get_data_home
from ._synthetic import make_interactions

__all__ = ["fetch_movielens", "get_data_home", "make_interactions"]

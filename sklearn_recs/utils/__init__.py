"""Validation helpers and utilities shared by the estimators."""

from .parallel import recommend_in_parallel
from .validation import check_ids, check_interactions, check_k, get_column, get_times

__all__ = ["check_ids", "check_interactions", "check_k", "get_column", "get_times",
           "recommend_in_parallel"]

"""Validation helpers and utilities shared by the estimators."""

from .validation import check_ids, check_interactions, check_k, get_column

__all__ = ["check_ids", "check_interactions", "check_k", "get_column"]

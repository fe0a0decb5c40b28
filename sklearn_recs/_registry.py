"""The estimators that ``python -m sklearn_recs evaluate`` knows by name.

Each entry maps a command-line name to ``"module:Class"``, the keyword
arguments of its leaderboard configuration and, optionally, the names of
the data-dependent fit parameters it needs (``"item_features"``: the data
set's item metadata). Classes are imported only when chosen, so listing the
neural models does not import torch.
"""

from __future__ import annotations

import importlib

MODELS: dict[str, tuple] = {
    "global-mean": ("sklearn_recs.baselines:GlobalMean", {}),
    "bias": ("sklearn_recs.baselines:BiasBaseline", {}),
    "popularity": ("sklearn_recs.baselines:Popularity", {}),
    "mf": ("sklearn_recs.neural:MatrixFactorization", {"random_state": 0}),
    "bpr": ("sklearn_recs.neural:ImplicitMatrixFactorization",
            {"loss": "bpr", "random_state": 0}),
    "mf-implicit": ("sklearn_recs.neural:ImplicitMatrixFactorization",
                    {"loss": "bce", "random_state": 0}),
    "gmf": ("sklearn_recs.neural:GMF", {"random_state": 0}),
    "mlp": ("sklearn_recs.neural:MLP", {"random_state": 0}),
    "neumf": ("sklearn_recs.neural:NeuMF", {"random_state": 0}),
    "two-tower": ("sklearn_recs.neural:TwoTower", {"random_state": 0}),
    "item-knn": ("sklearn_recs.neighbors:ItemKNN",
                 {"similarity": "pearson_baseline", "shrinkage": 200, "n_neighbors": 60,
                  "n_stored_neighbors": 60, "amplification": 1.3, "damping": 0.1}),
    "user-knn": ("sklearn_recs.neighbors:UserKNN",
                 {"similarity": "pearson_baseline", "shrinkage": 200, "n_neighbors": 60,
                  "n_stored_neighbors": 60, "amplification": 1.3, "damping": 0.1}),
    "item-knn-bm25": ("sklearn_recs.neighbors:ItemKNN",
                      {"feedback": "implicit", "weighting": "bm25", "n_neighbors": 200}),
    "user-knn-bm25": ("sklearn_recs.neighbors:UserKNN",
                      {"feedback": "implicit", "weighting": "bm25", "n_neighbors": 100}),
    "ease": ("sklearn_recs.linear_model:EASE", {"alpha": 500.0}),
    "sparse-ease": ("sklearn_recs.linear_model:SparseEASE",
                    {"alpha": 500.0, "n_neighbors": 100}),
    "ials": ("sklearn_recs.decomposition:ImplicitALS", {"random_state": 0}),
    "slim": ("sklearn_recs.linear_model:SLIM", {}),
    "rp3beta": ("sklearn_recs.neighbors:RP3Beta", {}),
    "content": ("sklearn_recs.content:ContentRecommender",
                {"profile": "ridge", "alpha": 5.0}, ("item_features",)),
}


def make_model(name: str):
    """Build the registered estimator ``name`` with its leaderboard settings."""
    try:
        path, params = MODELS[name][:2]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; choose from {', '.join(sorted(MODELS))}."
        ) from None
    module, cls = path.split(":")
    return getattr(importlib.import_module(module), cls)(**params)


def fit_param_names(name: str) -> tuple[str, ...]:
    """Names of the data-dependent fit parameters the model ``name`` needs."""
    return MODELS[name][2] if len(MODELS[name]) > 2 else ()

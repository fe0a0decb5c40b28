"""Choose each estimator's constructor defaults on validation data carved from training data.

Usage::

    python benchmarks/select_defaults.py [--only ItemKNN,UserKNN]

For every entry of ``SEARCHES`` (one per estimator class name, and a
second one, ``"<name> (implicit)"``, where a model's defaults depend on
the kind of feedback: the values the KNN models' ``"auto"`` parameters
take on implicit feedback, ContentRecommender fit as an implicit model;
its ``fixed`` sets ``feedback="implicit"``) the script
fits each candidate of a small stated grid and scores it on a validation
set carved from the **training** data only, never from a test fold:

- ``protocol="rating"``: MovieLens 100k ``u1.base`` split per user 80/20
  (``PerUserShuffleSplit``, seed 0); the candidates are fitted on the first
  part with the ratings and scored by RMSE (``predict``) on the second.
- ``protocol="ranking"``: the training part of the per-user random 80/20
  split of MovieLens 100k that the benchmarks test on
  (``make_splits(X, "holdout")``, seed 0), split again per user 80/20; the
  candidates are fitted on the interactions (``y=None``) and scored by
  NDCG@10 over the full catalogue less the training items
  (``make_ranking_scorer("ndcg", k=10)``).

The grid, every candidate's validation score, the choice and an optional
note (for a default that is a deliberate round value near the optimum,
``rounded``; for an entry with a ``cost``, the cheapest candidate within a
stated ``tolerance`` of the best) go to ``benchmarks/results/defaults.json``.
An entry with a ``budget`` weighs fit time against the metric, for the
models that issue 16 gives a fit-time target: candidates whose fit costs more
than a factor times a reference's are not eligible. The reference is either
one of the grid's candidates or a peer's fit (``REFERENCES``: implicit's BPR,
timed in the same run, the best of 3); measured costs are CPU seconds
(``time.process_time``, after a warm-up fit that compiles any kernels; steadier
than wall time on a shared machine). An entry with a peer reference needs the
peer installed (the ``bench`` extra). ``--only`` re-runs some entries and keeps
the others. ``tests/test_defaults.py`` asserts that
each estimator's constructor defaults equal the recorded choice (for an
``"auto"`` default, the value it resolves to for the entry's feedback). Test
figures with those defaults come from the benchmarks (``bench_knn.py``,
``bench_ranking.py``, ...), never from this script.

Adding an estimator is one entry, for example::

    "SLIM": Search(
        "sklearn_recs.linear_model.SLIM", protocol="ranking",
        grid={"alpha": [0.1, 1.0], "l1_ratio": [0.1, 0.5]},
    ),

Grids stay small (the whole run is meant to take minutes on two cores);
the time each entry took is printed and recorded.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import itertools
import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import root_mean_squared_error

from sklearn_recs._leaderboard import make_splits
from sklearn_recs.datasets import fetch_movielens
from sklearn_recs.linear_model import EASE
from sklearn_recs.metrics import make_ranking_scorer
from sklearn_recs.model_selection import PerUserShuffleSplit

RESULTS = Path(__file__).parent / "results" / "defaults.json"


@dataclass
class Search:
    """One estimator's search: where it lives, its grid and its protocol.

    ``fixed`` are non-default settings every candidate shares (seeds,
    ``feedback``); ``members`` are estimators passed to every candidate
    (a meta-estimator's required ``generator``, ``reranker``), recorded by
    their repr; ``item_features`` names the ml-100k item columns given to
    ``fit``; ``rounded`` maps a parameter to the round value kept as the
    default when it scores within noise of the grid's best (with the reason
    in ``note``). With ``cost`` the choice is the cheapest candidate scoring
    within ``tolerance`` of the best (ties: the better score), so that a
    default does not pay time for a difference within noise: ``cost`` is
    either parameter names whose product measures a candidate's fit time
    (e.g. ``("n_factors", "max_epochs")``), or ``"seconds"``, the
    candidate's measured fit time in this run (after a warm-up fit that
    compiles any kernels), for a grid whose candidates differ in work the
    parameters' product does not measure. ``budget`` (``(reference, factor)``)
    caps the cost where fit time is a target: candidates costing more than
    ``factor`` times the reference are not eligible, neither as the best nor
    as the choice. The reference is a candidate's ``params`` (a dict), or the
    name of a peer in ``REFERENCES`` (then ``cost`` must be ``"seconds"``).
    With ``stable``, the best and the chosen candidates must also train
    without diverging on the whole training part of every ml-100k fold
    (``u1.base`` .. ``u5.base``) and on ml-latest-small (training data only:
    no rating is scored), both as they are and trained for
    ``LONGER_TRAINING`` times their ``max_epochs``, also with ``alpha`` times
    ``WEAKER_PENALTY`` (a user who trains longer or regularises less than
    the default must not meet a diverging model); one that diverges is
    recorded as such and left out, and the choice is made again.
    """

    path: str
    grid: dict
    protocol: str = "rating"
    fixed: dict = field(default_factory=dict)
    item_features: list | None = None
    rounded: dict = field(default_factory=dict)
    note: str = ""
    members: dict = field(default_factory=dict)
    cost: tuple | str = ()
    tolerance: float = 0.0
    budget: tuple | None = None
    stable: bool = False

    @property
    def metric(self) -> str:
        return "rmse" if self.protocol == "rating" else "ndcg@10"


_KNN_IMPLICIT_GRID = {"weighting": [None, "bm25"], "n_neighbors": [40, 100, 200, 400],
                      "shrinkage": [0.0, 10.0, 200.0], "amplification": [1.0, 1.3]}

# The fit-time budget of ImplicitMatrixFactorization and TwoTower (recorded as each entry's note).
_BPR_BUDGET_NOTE = (
    "Issue 16 asks for a fit within 2x implicit's BPR(); the budget is 1.5x because ratios "
    "measured on a loaded machine came out about 1.3x lower than quiet ones. The choice is "
    "the best validation NDCG@10 among the candidates whose fit takes at most 1.5x BPR's on "
    "the same data (CPU seconds, one thread, same run).")

SEARCHES = {
    "BiasBaseline": Search(
        "sklearn_recs.baselines.BiasBaseline",
        grid={"alpha_user": [2.0, 5.0, 10.0, 15.0], "alpha_item": [2.0, 5.0, 10.0]},
    ),
    "ItemKNN": Search(
        "sklearn_recs.neighbors.ItemKNN",
        grid={"shrinkage": [0.0, 100.0, 200.0], "amplification": [1.0, 1.3],
              "damping": [0.0, 0.1]},
    ),
    "UserKNN": Search(
        "sklearn_recs.neighbors.UserKNN",
        grid={"shrinkage": [0.0, 100.0, 200.0], "amplification": [1.0, 1.3],
              "damping": [0.0, 0.1]},
    ),
    # The implicit values of the KNN parameters whose default is "auto".
    "ItemKNN (implicit)": Search(
        "sklearn_recs.neighbors.ItemKNN", protocol="ranking", grid=_KNN_IMPLICIT_GRID,
        fixed={"feedback": "implicit"},
    ),
    "UserKNN (implicit)": Search(
        "sklearn_recs.neighbors.UserKNN", protocol="ranking", grid=_KNN_IMPLICIT_GRID,
        fixed={"feedback": "implicit"},
    ),
    "ContentRecommender": Search(
        "sklearn_recs.content.ContentRecommender",
        grid={"centering": ["mean", "baseline"], "profile": ["centroid", "ridge"],
              "alpha": [1.0, 10.0, 100.0]},
        item_features=["genres", "year"],
    ),
    "ContentRecommender (implicit)": Search(
        "sklearn_recs.content.ContentRecommender", protocol="ranking",
        grid={"centering": ["mean", "baseline"], "profile": ["centroid", "ridge"],
              "alpha": [0.1, 1.0, 10.0, 100.0]},
        fixed={"feedback": "implicit"}, item_features=["genres", "year"],
        rounded={"alpha": 10.0},
        note="alpha is shared with the rating entry (10): the implicit grid's best alpha "
             "(0.1) scores NDCG@10 0.1773 and alpha 10 0.1749, a difference within the "
             "noise of 943 validation users; one default serves both kinds of feedback.",
    ),
    "EASE": Search(
        "sklearn_recs.linear_model.EASE", protocol="ranking",
        grid={"alpha": [100.0, 250.0, 500.0, 1000.0]},
    ),
    # Fit time is a target too (issue 16: within 1.5x of Surprise's SVD), so the
    # choice is the cheapest candidate (measured seconds) within 0.002 of the
    # best validation RMSE.
    "MatrixFactorization": Search(
        "sklearn_recs.neural.MatrixFactorization",
        grid={"lr_schedule": ["constant", "linear"], "implicit_term": [False, True],
              "max_epochs": [10, 15], "n_factors": [64, 128, 256], "alpha": [0.07, 0.09],
              "lr": [90.0, 135.0]},
        fixed={"random_state": 0},
        cost="seconds", tolerance=0.002,
        budget=({"lr_schedule": "linear", "implicit_term": False, "max_epochs": 15,
                 "n_factors": 128, "alpha": 0.07, "lr": 90.0}, 1.0), stable=True,
        note="Among the candidates that fit no slower than the previous defaults "
             "(the budget's reference, which fit in about 1.4x Surprise SVD's time; "
             "issue 16 asks for at most 1.5x), the fastest (measured fit CPU seconds in this "
             "run) within 0.002 of the best validation RMSE: more factors or epochs cost "
             "up to 2x the time for at most 0.002 of RMSE (the seed-to-seed range of one "
             "setting is about 0.001). The cost is measured because the implicit term's "
             "extra work (one more pass over the factors per rating, two passes over "
             "the rated items per epoch) is not a product of parameters. The best and "
             "the chosen candidates must train without diverging on every ml-100k "
             "training fold and on ml-latest-small, as chosen and for 3x max_epochs, "
             "also with alpha/10 (a user who trains longer or regularises less must "
             "not meet a diverging default).",
    ),
    # Issue 16: ImplicitMatrixFactorization's and TwoTower's fits within 2x
    # implicit's BPR. The budget is 1.5x: last session's ratios on a loaded
    # machine were 1.3x lower than on a quiet one.
    "ImplicitMatrixFactorization": Search(
        "sklearn_recs.neural.ImplicitMatrixFactorization", protocol="ranking",
        grid={"lr": [80.0, 160.0, 320.0], "max_epochs": [40, 60, 80],
              "n_negatives": [2, 3, 4]},
        fixed={"random_state": 0}, cost="seconds",
        budget=("implicit BPR()", 1.5), note=_BPR_BUDGET_NOTE,
    ),
    "TwoTower": Search(
        "sklearn_recs.neural.TwoTower", protocol="ranking",
        grid={"n_factors": [64, 128, 256], "max_epochs": [3, 5, 10],
              "batch_size": [256, 512], "lr": [0.005, 0.01, 0.02]},
        fixed={"random_state": 0}, cost="seconds",
        budget=("implicit BPR()", 1.5), note=_BPR_BUDGET_NOTE,
    ),
    "ImplicitALS": Search(
        "sklearn_recs.decomposition.ImplicitALS", protocol="ranking",
        grid={"n_factors": [64, 128], "alpha": [10.0, 50.0, 100.0],
              "confidence_scale": [2.0, 5.0, 10.0]},
        fixed={"random_state": 0},
    ),
    "SLIM": Search(
        "sklearn_recs.linear_model.SLIM", protocol="ranking",
        grid={"alpha": [0.03, 0.1, 0.2, 0.4], "l1_ratio": [0.001, 0.01, 0.1]},
    ),
    "TwoStageRecommender": Search(
        "sklearn_recs.hybrid.TwoStageRecommender", protocol="ranking",
        grid={"generator_weight": [0.0, 0.5], "time_features": [None, "auto"]},
        fixed={"n_splits": 5, "random_state": 0},
        members={"generator": EASE(),
                 "reranker": HistGradientBoostingClassifier(random_state=0)},
        note="n_splits=5 was chosen by this entry's previous grid (NDCG@10 0.2606 with 5, "
             "0.2495 with 1, both without time features or blend); it is fixed here to keep "
             "the search within 4 fits (a prototype on the same split scored generator_weight "
             "0.25, 1, 2 and 4 below 0.5 with time features).",
    ),
    "RP3Beta": Search(
        "sklearn_recs.neighbors.RP3Beta", protocol="ranking",
        grid={"exponent": [0.5, 1.0], "beta": [0.3, 0.6], "n_neighbors": [100, 200, 400],
              "normalize": [False, True]},
    ),
}


def _load(path: str):
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def _take(frame, rows):
    return frame.iloc[rows] if hasattr(frame, "iloc") else frame[rows]


def validation_split(protocol: str):
    """``(X_fit, y_fit, X_val, y_val, item_info)``: both parts from training data only."""
    X, y, folds = fetch_movielens("100k", return_X_y=True, folds=True)
    info = fetch_movielens("100k").item_info
    if protocol == "rating":
        train = folds[0][0]  # u1.base
    else:
        train = make_splits(X, "holdout")[0][0]
    X, y = _take(X, train), _take(y, train)
    inner = PerUserShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    fit_rows, val_rows = next(inner.split(X))
    return (_take(X, fit_rows), _take(y, fit_rows), _take(X, val_rows),
            _take(y, val_rows), info)


def choose(candidates, metric, tolerance=0.0, limit=None):
    """``(best, chosen)``: the best scored candidate, and the cheapest within ``tolerance`` of it.

    Candidates without a score or marked ``diverged_on`` (a diverged fit)
    are never chosen, nor those costing more than ``limit`` (the budget);
    without costs the chosen one is the best.
    """
    sign = 1 if metric == "rmse" else -1
    scored = [c for c in candidates if c[metric] is not None and "diverged_on" not in c]
    if limit is not None:
        scored = [c for c in scored if c["cost"] <= limit]
    if not scored:
        raise RuntimeError(f"no candidate fits within the budget ({limit}); widen the grid")
    best = min(scored, key=lambda c: sign * c[metric])
    if "cost" not in best:
        return best, best
    close = [c for c in scored if sign * (c[metric] - best[metric]) <= tolerance]
    return best, min(close, key=lambda c: (c["cost"], sign * c[metric]))


def _fit_warm_up(estimator_class, search, X_fit, y_fit, fit_params):
    """Untimed fits of each grid value on a slice of the data (kernels compile)."""
    rows = slice(0, 2000)
    y = _take(y_fit, rows) if search.protocol == "rating" else None
    for key, values in search.grid.items():
        for value in values:
            model = estimator_class(**{**search.fixed, key: value})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(_take(X_fit, rows), y, **fit_params)


@functools.cache
def _training_sets():
    """``{name: (X, y)}``: the training ratings the ``stable`` check fits on."""
    X, y, folds = fetch_movielens("100k", return_X_y=True, folds=True)
    sets = {f"ml-100k u{k}.base": (_take(X, train), _take(y, train))
            for k, (train, _) in enumerate(folds, start=1)}
    sets["ml-latest-small"] = fetch_movielens("latest-small", return_X_y=True)
    return sets


#: How much longer than its own ``max_epochs`` a ``stable`` candidate must train
#: without diverging, and with how much weaker a penalty (``alpha`` times this):
#: a user who trains longer, or regularises less, must not meet a diverging default.
LONGER_TRAINING = 3
WEAKER_PENALTY = 0.1


def _diverges_on(estimator_class, search, candidate):
    """Whether ``candidate`` diverges on a training set (recorded in ``diverged_on``)."""
    if "stable_on" in candidate:
        return False
    params = {**search.fixed, **candidate["params"]}
    longer = {**params, "max_epochs": LONGER_TRAINING * params["max_epochs"]}
    weaker = {**longer, "alpha": params["alpha"] * WEAKER_PENALTY}
    for name, (X, y) in _training_sets().items():
        for settings, label in [
                (params, name), (longer, f"{name}, {longer['max_epochs']} epochs"),
                (weaker, f"{name}, {longer['max_epochs']} epochs, alpha {weaker['alpha']:.3g}")]:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    estimator_class(**settings).fit(X, y)
            except FloatingPointError:
                candidate["diverged_on"] = label
                print(f"  {candidate['params']} diverged on {label}", flush=True)
                return True
    candidate["stable_on"] = sorted(_training_sets())
    return False


def run_search(name: str, search: Search, split) -> dict:
    """Fit and score every candidate of one entry; the best by its metric is the choice."""
    X_fit, y_fit, X_val, y_val, info = split
    estimator_class = _load(search.path)
    fit_params = ({} if search.item_features is None
                  else {"item_features": info[search.item_features]})
    ndcg = make_ranking_scorer("ndcg", k=10)
    keys = list(search.grid)
    candidates = []
    if search.cost == "seconds":  # compile the kernels before anything is timed
        _fit_warm_up(estimator_class, search, X_fit, y_fit, fit_params)
    start = time.perf_counter()
    for values in itertools.product(*(search.grid[key] for key in keys)):
        params = dict(zip(keys, values))
        model = estimator_class(**{name: clone(member)
                                   for name, member in search.members.items()},
                                **search.fixed, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_start = time.process_time()
            try:
                model.fit(X_fit, y_fit if search.protocol == "rating" else None, **fit_params)
                seconds = time.process_time() - fit_start
                score = float(root_mean_squared_error(y_val, model.predict(X_val))
                              if search.protocol == "rating" else ndcg(model, X_val, None))
            except FloatingPointError:  # training diverged: no score
                score, seconds = None, time.process_time() - fit_start
        print(f"  {name} {params}: {search.metric} {score}", flush=True)
        candidate = {"params": params, search.metric: score}
        if search.cost == "seconds":
            candidate["cost"] = round(seconds, 3)
        elif search.cost:
            candidate["cost"] = math.prod(params[key] for key in search.cost)
        candidates.append(candidate)
    budget = {}
    if search.budget:
        reference, factor = search.budget
        if isinstance(reference, str):  # a peer's fit on the same data
            reference_cost = REFERENCES[reference](X_fit)
        else:
            [reference_cost] = [c["cost"] for c in candidates if c["params"] == reference]
        budget = {"reference": reference, "reference_cost": reference_cost, "factor": factor}
    limit = budget["reference_cost"] * budget["factor"] if budget else None
    best, chosen = choose(candidates, search.metric, search.tolerance, limit)
    while search.stable:
        unstable = [c for c in (best, chosen) if _diverges_on(estimator_class, search, c)]
        if not unstable:
            break
        best, chosen = choose(candidates, search.metric, search.tolerance, limit)
    choice = {**chosen["params"], **search.rounded}
    return {
        "estimator": search.path,
        "protocol": search.protocol,
        "validation": ("ml-100k u1.base, per-user 80/20 inner split, seed 0"
                       if search.protocol == "rating" else
                       "ml-100k training part of the per-user 80/20 holdout (seed 0), "
                       "per-user 80/20 inner split, seed 0"),
        "metric": search.metric,
        "grid": search.grid,
        "fixed": search.fixed,
        **({"members": {name: repr(member) for name, member in search.members.items()}}
           if search.members else {}),
        "candidates": candidates,
        "best": best,
        "choice": choice,
        "rounded": bool(search.rounded),
        **({"cost": search.cost if isinstance(search.cost, str) else list(search.cost),
            "tolerance": search.tolerance} if search.cost else {}),
        **({"budget": budget} if budget else {}),
        "note": search.note,
        "seconds": round(time.perf_counter() - start, 1),
    }


def _bpr_seconds(X):
    """CPU seconds of implicit's ``BayesianPersonalizedRanking()`` fit on ``X``, one
    thread, best of 3 after a warm-up (the issue-16 peer of the implicit factor models)."""
    import implicit
    from threadpoolctl import threadpool_limits

    from _peers import ImplicitPeer

    def fit(rows, **kwargs):
        model = implicit.cpu.bpr.BayesianPersonalizedRanking(random_state=0, num_threads=1,
                                                             **kwargs)
        start = time.process_time()
        ImplicitPeer(model).fit(rows)
        return time.process_time() - start

    with threadpool_limits(1):
        fit(_take(X, slice(0, 2000)), iterations=1)
        return round(min(fit(X) for _ in range(3)), 2)


# Peers whose fit time bounds a ``budget`` entry's choice.
REFERENCES = {"implicit BPR()": _bpr_seconds}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=None,
                        help="comma-separated entries of SEARCHES to re-run")
    args = parser.parse_args(argv)
    names = list(SEARCHES) if args.only is None else args.only.split(",")
    unknown = sorted(set(names) - set(SEARCHES))
    if unknown:
        parser.error(f"unknown entries {unknown}; choose from {sorted(SEARCHES)}")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    splits = {}
    start = time.perf_counter()
    for name in names:
        search = SEARCHES[name]
        if search.protocol not in splits:
            splits[search.protocol] = validation_split(search.protocol)
        results[name] = run_search(name, search, splits[search.protocol])
        print(f"{name}: choice {results[name]['choice']} "
              f"({results[name]['seconds']} s)", flush=True)
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    total = time.perf_counter() - start
    print(f"select_defaults: {len(names)} entries in {total:.0f} s", flush=True)


if __name__ == "__main__":
    main()

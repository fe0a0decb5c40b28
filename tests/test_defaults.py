"""Constructor defaults equal the choices recorded by ``benchmarks/select_defaults.py``.

A default may be ``"auto"``, resolved at fit for the kind of feedback (the
KNN models' ``shrinkage``...): then the value it resolves to, the fitted
attribute ``<name>_`` of a model fit as the entry's protocol fits it, must
equal the choice.
"""

import importlib
import inspect
import json
from pathlib import Path

import pytest

from sklearn_recs.utils._testing import checkerboard, tiny_ratings

DEFAULTS = json.loads(
    (Path(__file__).parents[1] / "benchmarks" / "results" / "defaults.json").read_text())


def _effective_defaults(entry):
    """The constructor defaults, each ``"auto"`` replaced by the value it resolves to."""
    module, cls = entry["estimator"].rsplit(".", 1)
    klass = getattr(importlib.import_module(module), cls)
    # The signature's defaults: a meta-estimator has required members.
    signature = inspect.signature(klass).parameters
    params = {key: signature[key].default for key in entry["choice"]}
    # "auto" resolves at fit unless "auto" itself was chosen (TwoStage's time_features).
    if any(value == "auto" != entry["choice"][key] for key, value in params.items()):
        # Fit as the protocol does: on ratings, or on interactions (y=None).
        model = klass(**entry["fixed"])
        if entry["protocol"] == "rating":
            model.fit(*tiny_ratings())
        else:
            model.fit(checkerboard(10, 10))
        params = {key: getattr(model, key + "_")
                  if value == "auto" != entry["choice"][key] else value
                  for key, value in params.items()}
    return params


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_constructor_defaults_equal_the_validated_choice(name):
    entry = DEFAULTS[name]
    assert _effective_defaults(entry) == entry["choice"]


def test_auto_defaults_resolve_per_feedback():
    """The same ``ItemKNN()`` takes the rating choice on ratings, the ranking one on y=None."""
    from sklearn_recs.neighbors import ItemKNN

    explicit = ItemKNN().fit(*tiny_ratings())
    implicit = ItemKNN().fit(checkerboard(10, 10))
    for key, value in DEFAULTS["ItemKNN"]["choice"].items():
        assert getattr(explicit, key + "_", getattr(explicit, key)) == value
    for key, value in DEFAULTS["ItemKNN (implicit)"]["choice"].items():
        assert getattr(implicit, key + "_") == value
    # An explicit value is kept whatever the feedback.
    assert ItemKNN(shrinkage=7.0).fit(checkerboard(10, 10)).shrinkage_ == 7.0


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_choice_is_the_best_validation_candidate(name):
    """The choice is the grid's best, a documented round value beside it, or the
    entry's stated rule: the cheapest candidate within a tolerance of the best,
    among those within a time budget (a candidate's or a peer's fit time)."""
    entry = DEFAULTS[name]
    metric = entry["metric"]
    sign = 1 if metric == "rmse" else -1
    # None: diverged on the validation split; diverged_on: on a training set
    scored = [c for c in entry["candidates"]
              if c[metric] is not None and "diverged_on" not in c]
    if "budget" in entry:  # candidates costing more than the budget are out
        budget = entry["budget"]
        if isinstance(budget["reference"], dict):  # a candidate of the grid
            [reference] = [c for c in entry["candidates"] if c["params"] == budget["reference"]]
            assert reference["cost"] == budget["reference_cost"]
        scored = [c for c in scored if c["cost"] <= budget["reference_cost"] * budget["factor"]]
        assert scored
    best = min(scored, key=lambda c: sign * c[metric])
    assert best == entry["best"]
    if any("diverged_on" in c for c in entry["candidates"]):  # checked for stability
        assert "stable_on" in best
    chosen = best
    if "cost" in entry:
        # the cheapest candidate within the tolerance of the best: no cheaper one is as close
        [chosen] = [c for c in scored if c["params"].items() <= entry["choice"].items()]
        assert sign * (chosen[metric] - best[metric]) <= entry["tolerance"]
        assert "stable_on" in chosen or not any("diverged_on" in c
                                                 for c in entry["candidates"])
        assert not any(c["cost"] < chosen["cost"] for c in scored
                       if sign * (c[metric] - best[metric]) <= entry["tolerance"])
        assert entry["note"]
    if not entry["rounded"]:
        assert entry["choice"] == chosen["params"]
    else:
        assert entry["note"]


def test_recorded_searches_are_the_scripts():
    # A choice is evidence only for the search that the script now runs: the
    # grid, fixed parameters, members and note recorded must be the script's
    # (a merge once left the script with an older grid than the file's).
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    try:
        import select_defaults
    finally:
        sys.path.pop(0)
    assert set(select_defaults.SEARCHES) == set(DEFAULTS)
    for name, search in select_defaults.SEARCHES.items():
        entry = DEFAULTS[name]
        recorded = (entry["estimator"], entry["protocol"], entry["grid"], entry["fixed"],
                    entry.get("members", {}), entry["note"])
        members = {key: repr(member) for key, member in search.members.items()}
        assert recorded == (search.path, search.protocol, search.grid, search.fixed, members,
                            search.note), name

"""Constructor defaults equal the choices recorded by ``benchmarks/select_defaults.py``."""

import importlib
import inspect
import json
from pathlib import Path

import pytest

DEFAULTS = json.loads(
    (Path(__file__).parents[1] / "benchmarks" / "results" / "defaults.json").read_text())


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_constructor_defaults_equal_the_validated_choice(name):
    entry = DEFAULTS[name]
    module, cls = entry["estimator"].rsplit(".", 1)
    # The signature's defaults: a meta-estimator has required members.
    params = inspect.signature(getattr(importlib.import_module(module), cls)).parameters
    assert {key: params[key].default for key in entry["choice"]} == entry["choice"]


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_choice_is_the_best_validation_candidate(name):
    """The choice is the grid's best, or a documented round value beside it."""
    entry = DEFAULTS[name]
    sign = 1 if entry["metric"] == "rmse" else -1
    best = min(entry["candidates"], key=lambda c: sign * c[entry["metric"]])
    assert best == entry["best"]
    if not entry["rounded"]:
        assert entry["choice"] == best["params"]
    else:
        assert entry["note"]

"""numpydoc validation of the public API: every public class and function is
documented (summary, every parameter, returns) with a runnable Examples
section; public methods document their parameters and returns."""

import importlib
import inspect

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

MODULES = [
    "sklearn_recs.baselines",
    "sklearn_recs.content",
    "sklearn_recs.datasets",
    "sklearn_recs.hybrid",
    "sklearn_recs.linear_model",
    "sklearn_recs.metrics",
    "sklearn_recs.model_selection",
    "sklearn_recs.neighbors",
    "sklearn_recs.neural",
    "sklearn_recs.utils",
    "sklearn_recs.utils.estimator_checks",
]
# GL08: no docstring; SS01: no summary; PR01/PR02: undocumented or unknown
# parameters; RT01: no Returns; EX01: no Examples (objects only, as in
# scikit-learn, whose methods carry no examples of their own).
METHOD_CODES = {"GL08", "SS01", "PR01", "PR02", "RT01"}
OBJECT_CODES = METHOD_CODES | {"EX01"}
METHODS = ("fit", "partial_fit", "predict", "recommend", "similar_items", "similar_users",
           "explain", "split", "get_n_splits")


def _targets():
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                continue
            yield f"{module_name}.{name}", OBJECT_CODES
            if inspect.isclass(obj):
                for method in METHODS:
                    if callable(getattr(obj, method, None)):
                        yield f"{module_name}.{name}.{method}", METHOD_CODES


@pytest.mark.parametrize("target, codes", list(_targets()), ids=lambda v: v if isinstance(v, str) else "")
def test_docstring(target, codes):
    errors = [f"{code}: {message}"
              for code, message in numpydoc_validate.validate(target)["errors"]
              if code in codes]
    assert not errors, f"{target}:\n" + "\n".join(errors)

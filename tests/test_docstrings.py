"""numpydoc validation of the public API: every public class and function is
documented (summary, every parameter, returns) with a runnable Examples
section; public methods document their parameters and returns. Public
modules are those of ``sklearn_recs.__all__`` (plus
``utils.estimator_checks``); a test checks that this list is every module
without a leading underscore."""

import importlib
import inspect
import pkgutil

import pytest

import sklearn_recs

MODULES = [f"sklearn_recs.{name}" for name in sklearn_recs.__all__]
MODULES.append("sklearn_recs.utils.estimator_checks")


def test_all_lists_every_public_module():
    found = {info.name for info in pkgutil.iter_modules(sklearn_recs.__path__)
             if not info.name.startswith("_")}
    assert found == set(sklearn_recs.__all__)


@pytest.mark.parametrize("module_name", MODULES)
def test_all_names_are_importable_and_documented(module_name):
    module = importlib.import_module(module_name)
    assert module.__doc__, module_name
    assert module.__all__, module_name
    for name in module.__all__:
        obj = getattr(module, name)  # AttributeError if __all__ lies
        assert inspect.getdoc(obj), f"{module_name}.{name} has no docstring"


def _own(obj):
    """Whether ``obj`` is defined by this package (not re-exported from scikit-learn)."""
    return (getattr(obj, "__module__", "") or "").startswith("sklearn_recs")
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
            if inspect.ismodule(obj) or not _own(obj):
                continue
            yield f"{module_name}.{name}", OBJECT_CODES
            if inspect.isclass(obj):
                for method in METHODS:
                    if callable(getattr(obj, method, None)):
                        yield f"{module_name}.{name}.{method}", METHOD_CODES


@pytest.mark.parametrize("target, codes", list(_targets()), ids=lambda v: v if isinstance(v, str) else "")
def test_docstring(target, codes):
    numpydoc_validate = pytest.importorskip("numpydoc.validate")
    errors = [f"{code}: {message}"
              for code, message in numpydoc_validate.validate(target)["errors"]
              if code in codes]
    assert not errors, f"{target}:\n" + "\n".join(errors)

"""``python -OO`` (docstrings stripped): the package imports, and every
estimator of ``tests/_estimators.py`` fits, predicts and recommends.

Docstrings filled from shared fragments at import must tolerate
``__doc__ is None``. skorch alone cannot be imported under ``-OO`` (its
``NeuralNetClassifier`` formats ``NeuralNet.__doc__`` at import,
skorch-dev/skorch#1071); ``sklearn_recs.neural`` installs an import hook
that restores that docstring from skorch's source, so the neural estimators
run too. Where that still fails (no source file), they are reported as
skipped by the child and the test checks that only skorch is to blame.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

_SCRIPT = r"""
import json, sys, warnings
assert sys.flags.optimize == 2
import importlib
import sklearn_recs
for name in sklearn_recs.__all__:
    if name != "neural":
        importlib.import_module(f"sklearn_recs.{name}")
import sklearn_recs.neural  # lazy: does not import torch or skorch
from sklearn.base import clone
from sklearn_recs.utils._testing import tiny_ratings

try:
    import skorch  # noqa: F401
    skorch_error = None
except AttributeError as exc:
    skorch_error = repr(exc)

if skorch_error is not None:
    # tests/_estimators.py imports the neural classes: stand-ins let it load,
    # and the neural models are left out below
    import types
    stub = types.ModuleType("sklearn_recs.neural")
    for cls in ("GMF", "MLP", "NeuMF", "TwoTower", "MatrixFactorization",
                "ImplicitMatrixFactorization"):
        setattr(stub, cls, type(cls, (), {"__init__": lambda self, **kw: None}))
    sys.modules["sklearn_recs.neural"] = stub
import _estimators
X, y = tiny_ratings()
done, skipped = [], []
for estimator in _estimators.ESTIMATORS:
    name = type(estimator).__name__
    if skorch_error is not None and _estimators.is_neural(estimator):
        skipped.append(name)
        continue
    explicit = estimator.__sklearn_tags__().target_tags.required
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = clone(estimator).fit(X, y if explicit else None)
        assert model.predict(X.iloc[:5]).shape == (5,)
        lists = model.recommend(X["user_id"].unique()[:3], %(top)s=2)
    assert lists.shape == (3, 2), (name, lists.shape)
    done.append(name)
print(json.dumps({"done": done, "skipped": skipped, "skorch_error": skorch_error}))
"""


def test_package_works_with_docstrings_stripped():
    tests = Path(__file__).parent
    root = tests.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(tests)])}
    import inspect

    from sklearn_recs.base import RecommenderMixin

    top = "top_n" if "top_n" in inspect.signature(RecommenderMixin.recommend).parameters \
        else "n_items"
    result = subprocess.run([sys.executable, "-OO", "-c", _SCRIPT % {"top": top}],
                            capture_output=True, text=True, env=env, cwd=root, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    from _estimators import ESTIMATORS, is_neural

    n_neural = sum(is_neural(e) for e in ESTIMATORS)
    assert len(report["done"]) + len(report["skipped"]) == len(ESTIMATORS)
    if report["skorch_error"] is None:
        assert not report["skipped"]
    else:
        # only skorch's own import fails, and only the neural models are left out
        assert "NoneType" in report["skorch_error"]
        assert len(report["skipped"]) == n_neural
        pytest.xfail(f"skorch cannot be imported under -OO: {report['skorch_error']}; "
                     f"the {len(report['done'])} other estimators work")

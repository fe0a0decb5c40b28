"""``python -OO`` (docstrings stripped): the package imports, and every
estimator of ``tests/_estimators.py`` fits, predicts and recommends.

Docstrings filled from shared fragments at import must tolerate
``__doc__ is None``. skorch formats ``NeuralNet.__doc__`` at import
(skorch-dev/skorch#1071), so :mod:`sklearn_recs.neural` compiles skorch's
modules with their docstrings under ``-OO``
(``neural/_optimized_mode.py``); the neural estimators run like the others.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

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

import _estimators
X, y = tiny_ratings()
done = []
for estimator in _estimators.ESTIMATORS:
    name = type(estimator).__name__
    explicit = estimator.__sklearn_tags__().target_tags.required
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = clone(estimator).fit(X, y if explicit else None)
        assert model.predict(X.iloc[:5]).shape == (5,)
        lists = model.recommend(X["user_id"].unique()[:3], top_n=2)
    assert lists.shape == (3, 2), (name, lists.shape)
    done.append(name)
print(json.dumps({"done": done, "package_doc": sklearn_recs.__doc__}))
"""


def test_package_works_with_docstrings_stripped():
    tests = Path(__file__).parent
    root = tests.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(tests)])}
    result = subprocess.run([sys.executable, "-OO", "-c", _SCRIPT],
                            capture_output=True, text=True, env=env, cwd=root, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    from _estimators import ESTIMATORS

    # every estimator ran, the neural ones included, with docstrings stripped
    assert report["done"] == [type(e).__name__ for e in ESTIMATORS]
    assert report["package_doc"] is None

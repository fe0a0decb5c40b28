"""The -OO import hook of skorch (sklearn_recs.neural._optimized_mode)."""

import subprocess
import sys
from pathlib import Path

import skorch.net

from sklearn_recs.neural._optimized_mode import _source_docstring


def test_source_docstring_is_the_class_docstring():
    assert _source_docstring(skorch.net, "NeuralNet") == skorch.net.NeuralNet.__doc__
    assert _source_docstring(skorch.net, "NoSuchClass") is None


def test_skorch_imports_under_OO_once_the_package_is_imported():
    root = Path(__file__).parents[2]
    code = ("import sys; import sklearn_recs.neural; assert 'skorch' not in sys.modules; "
            "import skorch; print(skorch.NeuralNet.__doc__.split(chr(10))[0]); "
            "print(skorch.NeuralNetRegressor.__doc__ is not None)")
    result = subprocess.run([sys.executable, "-OO", "-c", code], capture_output=True,
                            text=True, cwd=root, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[:2] == [skorch.net.NeuralNet.__doc__.split("\n")[0], "True"]
    # and without the hook, skorch's own import fails under -OO (the reason for it)
    bare = subprocess.run([sys.executable, "-OO", "-c", "import skorch"], capture_output=True,
                          text=True, cwd=root, timeout=300)
    assert bare.returncode != 0 and "NoneType" in bare.stderr

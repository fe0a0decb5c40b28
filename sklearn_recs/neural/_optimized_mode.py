"""skorch under ``python -OO``: compile its modules with their docstrings.

skorch builds ``NeuralNetClassifier.__doc__`` from ``NeuralNet.__doc__``
while it is imported, which fails when ``-OO`` has stripped the docstrings
(skorch-dev/skorch#1071). Under ``-OO`` only, :func:`keep_skorch_docstrings`
puts a finder in front of :data:`sys.meta_path` that compiles skorch's own
modules at optimisation level 1 (assertions removed, docstrings kept), from
their source and without the bytecode cache, whose ``opt-2`` files lack the
docstrings. Every other module, this package's included, keeps ``-OO``.
"""

import importlib.abc
import importlib.machinery
import sys

__all__ = ["keep_skorch_docstrings"]


class _DocstringKeepingLoader(importlib.machinery.SourceFileLoader):
    """Compiles a module from its source at optimisation level 1."""

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        return compile(self.get_data(path), path, "exec", dont_inherit=True, optimize=1)


class _SkorchFinder(importlib.abc.MetaPathFinder):
    """Finds skorch's modules as usual, then loads them with their docstrings."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "skorch" and not fullname.startswith("skorch."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _DocstringKeepingLoader(fullname, spec.origin)
        return spec


def keep_skorch_docstrings():
    """Under ``python -OO``, let skorch import with its docstrings (once; else nothing)."""
    if sys.flags.optimize >= 2 and not any(
            isinstance(finder, _SkorchFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SkorchFinder())

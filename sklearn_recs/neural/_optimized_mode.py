"""Importing skorch under ``python -OO`` (docstrings stripped).

skorch builds the docstrings of ``NeuralNetClassifier`` and
``NeuralNetRegressor`` from ``NeuralNet.__doc__`` when ``skorch`` is
imported, and fails when ``-OO`` has stripped it (skorch-dev/skorch#1071).
:func:`install` (called by :mod:`sklearn_recs.neural` under ``-OO`` only)
adds an import hook for the ``skorch`` package: it imports ``skorch.net``
first, gives ``NeuralNet`` its docstring back, read from its own source
file, then runs the package as usual. Nothing is imported until skorch is,
and skorch's code is not changed: only the docstring that ``-OO`` removed is
restored. Without the source file (``.pyc`` only), the hook does nothing
and skorch's import fails as it would without it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["install"]


def _source_docstring(module, class_name):
    """The docstring of ``class_name`` in ``module``'s source file, or None."""
    try:
        with open(module.__file__, encoding="utf-8") as source:
            tree = ast.parse(source.read())
    except (OSError, TypeError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return ast.get_docstring(node, clean=False)
    return None


class _Loader(importlib.abc.Loader):
    """skorch's own loader, run after ``NeuralNet``'s docstring is restored."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # the package is in sys.modules already: its submodules can load
        net = importlib.import_module("skorch.net")
        if net.NeuralNet.__doc__ is None:
            net.NeuralNet.__doc__ = _source_docstring(net, "NeuralNet")
        self.loader.exec_module(module)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``skorch`` once, with :class:`_Loader`; then removes itself."""

    def find_spec(self, name, path=None, target=None):
        if name != "skorch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def install():
    """Add the hook when docstrings are stripped and skorch is not imported yet."""
    if sys.flags.optimize >= 2 and "skorch" not in sys.modules \
            and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())

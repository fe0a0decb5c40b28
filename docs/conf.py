"""Sphinx configuration of the sklearn_recs documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
It needs no network and no data beyond the package: the examples that read
MovieLens 100k run only when it is in ``$SKLEARN_RECS_DATA``.
The API reference and the benchmark page are generated here, at build time,
from each public module's ``__all__`` and from ``benchmarks/results/*.md``
(see ``generate.py``), so that a new estimator or benchmark table appears
without editing the docs.
"""

import os
import re
import sys
from pathlib import Path

import sklearn_recs

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))

from generate import write_api_reference, write_benchmarks  # noqa: E402

write_api_reference(DOCS / "api.rst")
write_benchmarks(ROOT / "benchmarks" / "results", DOCS / "benchmarks.md")

project = "sklearn_recs"
author = "the sklearn_recs developers"
copyright = "2026, " + author
release = version = sklearn_recs.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5",
                    "auto_examples/*.json", "auto_examples/*.pickle"]
templates_path = ["_templates"]

# -- API reference ------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- Markdown (the data contract, the benchmark tables) -----------------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# -- Example gallery -----------------------------------------------------------
def _gallery_pattern(examples: Path) -> str:
    """The examples that run during the build: every script, less those that
    read MovieLens 100k when it is absent (no network needed: their pages
    then show the code without its output, and their docstrings say so)."""
    from sklearn_recs.datasets import get_data_home

    if (Path(get_data_home()) / "ml-100k" / "u.data").is_file():
        return r"\.py$"
    needs_100k = sorted(path.name for path in examples.glob("*.py")
                        if 'fetch_movielens("100k"' in path.read_text(encoding="utf-8"))
    return r"[\\/](?!(?:" + "|".join(map(re.escape, needs_100k)) + r")$)[^\\/]+\.py$"


sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # Run every script, not only plot_*.py: each one is part of the docs.
    "filename_pattern": _gallery_pattern(ROOT / "examples"),
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    # Link each class and function to the examples that use it.
    "doc_module": ("sklearn_recs",),
    "backreferences_dir": "generated/backreferences",
    # SKLEARN_RECS_DOCS_PLOT=False builds the pages without running them.
    "plot_gallery": os.environ.get("SKLEARN_RECS_DOCS_PLOT", "True"),
}

# -- HTML -----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "sklearn_recs"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}


# -- Docstring hooks ------------------------------------------------------------
def _skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's metadata-routing methods.

    The other methods inherited from scikit-learn (``get_params``,
    ``set_params``, ``score``...) stay: they are part of each estimator's
    API, and users should not have to guess which mixins it has.
    """
    if name == "get_metadata_routing" or (name.startswith("set_") and name.endswith("_request")):
        return True
    return None


# A name with a trailing underscore in prose (n_items_ - 1 outside literals)
# is a link reference in reStructuredText: escape it.
_LITERAL = re.compile(r"(``.*?``|`[^`]*`)", re.DOTALL)
_TRAILING_UNDERSCORE = re.compile(r"\b([A-Za-z]\w*)_(?=[\s,;.)-]|$)")


# Inherited scikit-learn docstrings cite labels of scikit-learn's own docs.
_FOREIGN_REF = re.compile(r":ref:`(?:([^`<]*?)\s*<[^`>]*>|([^`]*))`")


def _plain_foreign_refs(app, what, name, obj, options, lines):
    """Turn the ``:ref:`` roles of inherited scikit-learn docstrings into text."""
    if (getattr(obj, "__module__", None) or "").split(".")[0] == "sklearn":
        text = _FOREIGN_REF.sub(lambda m: m.group(1) or f"``{m.group(2)}``", "\n".join(lines))
        lines[:] = text.split("\n")


def _escape_trailing_underscores(app, what, name, obj, options, lines):
    # Literals may span lines: split the whole docstring, then the lines back.
    parts = _LITERAL.split("\n".join(lines))
    parts[::2] = [_TRAILING_UNDERSCORE.sub(r"\1\\_", part) for part in parts[::2]]
    lines[:] = "".join(parts).split("\n")


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    # After numpydoc (priority 500), on the reStructuredText it produced.
    app.connect("autodoc-process-docstring", _plain_foreign_refs, priority=600)
    app.connect("autodoc-process-docstring", _escape_trailing_underscores, priority=600)

"""The README's quickstart runs as written."""

import doctest
import warnings
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_quickstart():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = doctest.testfile(str(README), module_relative=False,
                                  optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 5
    assert result.failed == 0

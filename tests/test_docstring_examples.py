"""Every docstring example (`>>>`) in the library and the pipelines runs and prints what
it shows (doctest), so the examples cannot drift from the code. (Examples that need a
file the reader has, marked `+SKIP`, are not run.)"""

import doctest
import importlib
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for package in ("bertgpt_tf", "pipelines")
    for path in (ROOT / package).rglob("*.py")
    if any(
        ">>> " in line and "+SKIP" not in line
        for line in path.read_text(encoding="utf-8").splitlines()
    )
)


def test_the_examples_are_found():
    assert len(MODULES) >= 5, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(importlib.import_module(name), optionflags=flags)
    assert result.attempted > 0 and result.failed == 0, result

"""Run the docstring examples of every emobench module (they are the documentation's examples).

Every module must import without weights or optional packages, so this also checks that.
"""

import doctest
import importlib
import pkgutil

import pytest

import emobench

MODULES = sorted(m.name for m in pkgutil.walk_packages(emobench.__path__, "emobench."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples of {name} failed"

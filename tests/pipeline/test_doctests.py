"""Run the docstring examples of every emobench module (they are the documentation's examples).

Every module must import without weights or optional packages, so this also checks that.
An example that needs a weight file which is absent here skips its module, naming the file.
"""

import doctest
import importlib
import pkgutil

import pytest

import emobench
from emobench.weights import MissingWeightError

MODULES = sorted(m.name for m in pkgutil.walk_packages(emobench.__path__, "emobench."))


class _Runner(doctest.DocTestRunner):
    """Collects unexpected exceptions so a missing weight can be told apart from a wrong example."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.missing_weights: list[str] = []

    def report_unexpected_exception(self, out, test, example, exc_info):
        if isinstance(exc_info[1], MissingWeightError):
            self.missing_weights.append(str(exc_info[1]).splitlines()[0])
        super().report_unexpected_exception(out, test, example, exc_info)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    runner = _Runner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    report: list[str] = []
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.append)
    if runner.failures and runner.missing_weights:
        pytest.skip(f"{name}: docstring examples need a weight that is absent: {runner.missing_weights[0]}")
    assert runner.failures == 0, "".join(report)[-4000:]

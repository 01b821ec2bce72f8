"""Every built-in card names registered things and passes options they accept.

A built-in card whose editor, dataset or evaluator does not import fails (a misspelt target must
not pass as "skipped"); only a missing optional package or weight file skips, naming it. Catches
e.g. a card option the class does not know.
"""

import importlib

import pytest

from emobench.cards import builtin_names, load_method, load_protocol
from emobench.editors import EDITORS
from emobench.evaluators import EVALUATORS
from emobench.weights import MissingWeightError


def _get(registry, name):
    target = registry.target(name)  # unknown names fail here, as they should
    try:
        importlib.import_module(target.partition(":")[0])
    except ModuleNotFoundError as exc:
        if exc.name and not exc.name.startswith("emobench"):
            pytest.skip(f"{target} needs the optional package {exc.name!r}")
        raise  # an emobench module that does not exist: the card or the registry is wrong
    return registry.get(name)


@pytest.mark.parametrize("name", builtin_names("methods"))
def test_method_card_editor_and_params(name):
    card = load_method(name)
    cls = _get(EDITORS, card.editor)
    from emobench.options import options_from_mapping

    options_from_mapping(cls.Params, dict(card.params), f"{card.path} [params]")
    options_from_mapping(cls.Init, dict(card.init), f"{card.path} [init]")


@pytest.mark.parametrize("name", builtin_names("protocols"))
def test_protocol_card_evaluator_options(name):
    card = load_protocol(name)
    absent = []
    for evaluator in card.evaluators:
        cls = _get(EVALUATORS, evaluator)
        try:
            cls.from_config(dict(card.evaluator_options.get(evaluator, {})), "cpu")
        except MissingWeightError as exc:  # the options were accepted; only a weight file is absent
            absent.append(f"{evaluator}: {str(exc).splitlines()[0]}")
    if absent:
        pytest.skip(f"{name}: " + "; ".join(absent))


@pytest.mark.parametrize("name", builtin_names("protocols"))
def test_protocol_card_dataset_options(name, monkeypatch, tmp_path):
    """The card's [dataset] options are ones its dataset takes; data that is absent here is no failure."""
    from emobench.datasets import DATASETS
    from emobench.datasets.base import DatasetError

    card = load_protocol(name)
    cls = _get(DATASETS, card.dataset)
    monkeypatch.chdir(tmp_path)  # relative default roots find nothing: only the options are judged
    for var in ("EMOBENCH_DATA", "EMOBENCH_AFFECTNET"):
        monkeypatch.delenv(var, raising=False)
    try:
        cls.from_config(dict(card.dataset_options))
    except DatasetError as exc:  # the options were accepted; only the images are absent
        assert "unknown option" not in str(exc)

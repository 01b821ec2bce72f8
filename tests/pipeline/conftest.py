"""Fixtures of the pipeline tests (runner, store, cards, CLI): fake dataset/evaluators/editors and card writers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline import fakes


@pytest.fixture(autouse=True)
def _fakes():
    """The fake dataset, evaluators and editors, registered for each pipeline test and removed after it."""
    with fakes.registered():
        yield

PROTOCOL = """\
[protocol]
name = "{name}"
dataset = "fake-faces"
resolution = 16
sources = {sources}
targets = {targets}
per_class = 0
seeds = {seeds}
evaluators = {evaluators}

[dataset]
per_class = {per_class}
{dataset_extra}

[grid]
{grid}
"""


def write_protocol(folder: Path, name: str = "fake", *, sources: str = '["neutral", "happy", "contempt"]',
                   targets: str = '["happy", "sad"]', seeds: str = "[0]", evaluators: str = '["fake-mae"]',
                   per_class: int = 2, dataset_extra: str = "", grid: str = "") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(PROTOCOL.format(name=name, sources=sources, targets=targets, seeds=seeds, evaluators=evaluators,
                                    per_class=per_class, dataset_extra=dataset_extra, grid=grid))
    return path


def write_method(folder: Path, name: str = "shift", editor: str = "fake-shift", params: str = "amount = 0.1") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(f'[method]\nname = "{name}"\neditor = "{editor}"\ntitle = "t"\n\n[init]\n\n[params]\n{params}\n')
    return path


@pytest.fixture
def cards_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "cards"
    folder.mkdir()
    return folder

"""Tiny stand-ins registered under test-only names (the real evaluators live on other branches).

``register()`` adds them to the global registries; the targets are importable module paths
so a subprocess can register them too (see ``slow_cli.py``).
"""

from __future__ import annotations

import contextlib

import hashlib
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch

from emobench.datasets import DATASETS
from emobench.datasets.base import Dataset, Sample
from emobench.editors import EDITORS
from emobench.editors.base import EditOutput, Editor, NoOptions
from emobench.options import options_from_mapping
from emobench.evaluators import EVALUATORS
from emobench.evaluators.base import EvalBatch, Evaluator, EvaluatorInfo, MetricInfo
from emobench.imageio import ImageReadError
from emobench.labels import EMOTIONS


FAKES = (
    (DATASETS, {"fake-faces": "tests.pipeline.fakes:FakeFaces"}),
    (EVALUATORS, {"fake-mae": "tests.pipeline.fakes:FakeMAE", "fake-broken": "tests.pipeline.fakes:BrokenEvaluator"}),
    (EDITORS, {"fake-shift": "tests.pipeline.fakes:ShiftEditor", "fake-slow": "tests.pipeline.fakes:SlowEditor",
               "fake-buggy": "tests.pipeline.fakes:BuggyEditor"}),
)


def register() -> None:
    """For a subprocess (tests/pipeline/slow_cli.py): the fakes for the whole process."""
    for registry, entries in FAKES:
        for name, target in entries.items():
            registry.register(name, target)


@contextlib.contextmanager
def registered() -> Iterator[None]:
    """The fakes for one test only (the pipeline tests' autouse fixture): nothing leaks into other tests."""
    with contextlib.ExitStack() as stack:
        for registry, entries in FAKES:
            stack.enter_context(registry.registered(entries))
        yield


@dataclass(frozen=True)
class FakeFacesOptions:
    per_class: int = 2
    seed: int = 0
    broken: tuple[str, ...] | list[str] = ()  # ids whose load raises ImageReadError


class FakeFaces(Dataset):
    """Random-colour images, all 8 labels, with a known 'true target' reference."""

    name = "fake-faces"

    def __init__(self, options: FakeFacesOptions):
        self.options = options

    @classmethod
    def from_config(cls, options: Mapping[str, Any]) -> "FakeFaces":
        return cls(options_from_mapping(FakeFacesOptions, options, "options of fake-faces"))

    def samples(self) -> Sequence[Sample]:
        return [Sample(f"p{i}_{EMOTIONS[label]}", label, f"p{i}") for i in range(self.options.per_class) for label in range(8)]

    def _render(self, key: str, resolution: int) -> torch.Tensor:
        seed = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) + self.options.seed
        g = torch.Generator().manual_seed(seed)
        return torch.rand(3, resolution, resolution, generator=g)

    def load(self, sample: Sample, resolution: int) -> torch.Tensor:
        if sample.id in self.options.broken:
            raise ImageReadError(f"{sample.id}: not a readable image (fake)")
        return self._render(sample.id, resolution)

    def reference(self, sample: Sample, target: int, resolution: int) -> torch.Tensor | None:
        return self._render(f"{sample.person}_{target}", resolution)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "per_class": self.options.per_class}


class FakeMAE(Evaluator):
    name = "fake-mae"

    @classmethod
    def from_config(cls, options: Mapping[str, Any], device: torch.device | str = "cpu") -> "FakeMAE":
        options_from_mapping(NoOptions, options, "options of fake-mae")
        return cls()

    def info(self) -> EvaluatorInfo:
        return EvaluatorInfo("fake-mae", "numpy", {}, {})

    def metrics(self) -> list[MetricInfo]:
        return [MetricInfo("mae", False, "mean abs difference to the source"),
                MetricInfo("ref_mae", False, "mean abs difference to the reference")]

    def evaluate(self, batch: EvalBatch) -> dict[str, np.ndarray]:
        mae = (batch.sources - batch.edits).abs().flatten(1).mean(1).double().numpy()
        if batch.references is None:
            ref = np.full(batch.size, np.nan)
        else:
            ref = (batch.references - batch.edits).abs().flatten(1).mean(1).double().numpy()
        return {"mae": mae, "ref_mae": ref}


class BrokenEvaluator(FakeMAE):
    def metrics(self) -> list[MetricInfo]:
        return [MetricInfo("broken", True)]

    def evaluate(self, batch: EvalBatch) -> dict[str, np.ndarray]:
        raise RuntimeError("this evaluator always fails")


@dataclass(frozen=True)
class ShiftParams:
    amount: float = 0.1
    fail_above: float = 2.0  # images whose mean exceeds this make the editor raise


class ShiftEditor(Editor):
    """Adds ``amount * (target+1)/8`` plus per-seed noise: deterministic, batch-invariant."""

    Params = ShiftParams

    @classmethod
    def from_config(cls, init: Mapping[str, Any], device: torch.device | str = "cpu") -> "ShiftEditor":
        options_from_mapping(NoOptions, init, "init of fake-shift")
        return cls()

    def identity(self) -> dict[str, Any]:
        return {"editor": "fake-shift", "checkpoints": {}}

    def _edit(self, images, source_labels, target_labels, seeds, params) -> EditOutput:
        if float(images.flatten(1).mean(1).max()) > params.fail_above:
            raise RuntimeError("image too bright for this editor")
        from emobench.editors.base import per_sample_noise

        noise = per_sample_noise(images.shape[1:], seeds) * 0.01
        shift = params.amount * (target_labels.float() + 1) / 8
        return EditOutput(images=(images + shift[:, None, None, None] + noise).clamp(0, 1))


@dataclass(frozen=True)
class SlowParams(ShiftParams):
    delay: float = 0.03  # seconds per image
    hold: str = ""  # while this file exists (at most 120 s), every edit waits: a test decides when the run goes on


class SlowEditor(ShiftEditor):
    """ShiftEditor that sleeps per image, so a test can kill a run mid-way (or hold it while it tests)."""

    Params = SlowParams

    def identity(self) -> dict[str, Any]:
        return {"editor": "fake-slow", "checkpoints": {}}

    def _edit(self, images, source_labels, target_labels, seeds, params) -> EditOutput:
        deadline = time.monotonic() + 120
        while params.hold and Path(params.hold).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(params.delay * images.shape[0])
        return super()._edit(images, source_labels, target_labels, seeds, params)


class BuggyEditor(ShiftEditor):
    """A plugin with a bug of its own: building it raises an exception that is not about the card."""

    @classmethod
    def from_config(cls, init: Mapping[str, Any], device: torch.device | str = "cpu") -> "BuggyEditor":
        return None + 1  # type: ignore[operator]

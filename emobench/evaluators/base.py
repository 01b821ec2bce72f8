"""The evaluator interface: batched tensors in, one float per image and metric out.

An evaluator fills one or more ``metric.*`` columns of ``records.jsonl``. It declares
each column with :class:`MetricInfo` (direction, description) so reports can put ↑/↓
in headers and bold the best value without knowing the evaluator.

Example:
    >>> import torch
    >>> from emobench.evaluators.base import EvalBatch
    >>> batch = EvalBatch(sources=torch.rand(2, 3, 64, 64), edits=torch.rand(2, 3, 64, 64),
    ...                   source_labels=torch.tensor([0, 0]), target_labels=torch.tensor([1, 2]))
    >>> batch.size
    2
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import torch


@dataclass(frozen=True)
class MetricInfo:
    """One metric column. ``name`` is the part after ``metric.`` (e.g. ``"psnr"``, ``"emotion.happy"``)."""

    name: str
    higher_is_better: bool
    description: str = ""


@dataclass(frozen=True)
class EvalBatch:
    """What evaluators see for a batch of edits.

    sources, edits: float32 ``(N, 3, H, W)`` RGB in ``[0, 1]``.
    source_labels, target_labels: AffectNet indices ``(N,)``.
    source_keys: content hashes of the sources (sha256 of the decoded pixels), used to
        cache source-image features; ``None`` disables caching.
    references: the ground-truth target images when the dataset has them (synthetic
        faces, London pairs), else ``None``; paired metrics use them.
    """

    sources: torch.Tensor
    edits: torch.Tensor
    source_labels: torch.Tensor
    target_labels: torch.Tensor
    source_keys: Sequence[str] | None = None
    references: torch.Tensor | None = None

    @property
    def size(self) -> int:
        return int(self.edits.shape[0])


@dataclass(frozen=True)
class EvaluatorInfo:
    """What the manifest and table captions say about an evaluator."""

    name: str
    backend: str
    weights_sha256: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)


class Evaluator(ABC):
    """Base class of all evaluators; build with ``from_config`` (options from the protocol card)."""

    #: Registry name, e.g. ``"quality"``, ``"emotion"``, ``"identity"``.
    name: ClassVar[str] = ""
    #: Options that are file paths: the runner stores them absolute, so ``score`` finds them from any folder.
    path_options: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abstractmethod
    def from_config(cls, options: Mapping[str, Any], device: torch.device | str = "cpu") -> "Evaluator":
        """Build from the protocol card's ``[evaluators.<name>]`` table (strictly validated)."""

    @abstractmethod
    def info(self) -> EvaluatorInfo:
        """Backend and weights, for the manifest and captions."""

    @abstractmethod
    def metrics(self) -> list[MetricInfo]:
        """The columns :meth:`evaluate` fills, in order."""

    @abstractmethod
    def evaluate(self, batch: EvalBatch) -> dict[str, np.ndarray]:
        """Score a batch: ``{metric name: float64 array of shape (N,)}``; NaN where undefined."""

"""The ``synthetic`` dataset: procedural faces of one identity split, every class, with references.

Samples are identity × class (ids like ``test-0003-happy``, person ``test-0003``);
:meth:`SyntheticDataset.reference` renders the same person showing the target — the ground
truth of every edit, so paired metrics (edit vs true target face) are defined.

Example:
    >>> ds = SyntheticDataset.from_config({"identities": 2, "classes": ["neutral", "happy"]})
    >>> [s.id for s in ds.samples()]
    ['test-0000-neutral', 'test-0000-happy', 'test-0001-neutral', 'test-0001-happy']
    >>> ds.load(ds.samples()[0], 32).shape
    torch.Size([3, 32, 32])
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from emobench.datasets.base import Dataset, DatasetError, Sample
from emobench.options import options_from_mapping
from emobench.labels import EMOTIONS, parse_label
from emobench.synthetic import faces
from emobench.synthetic.faces import SPLITS, Expression, Identity, identities, render_batch


@lru_cache(maxsize=1)
def renderer_sha256() -> str:
    """sha256 of the renderer's source: any change to how faces are drawn changes every content key."""
    return hashlib.sha256(Path(faces.__file__).read_bytes()).hexdigest()


@dataclass(frozen=True)
class SyntheticOptions:
    """identities: people in the split; split: train/judge/encoder/test; seed: split seed;
    intensity: expression strength of sources and references; classes: source classes."""

    identities: int = 16
    split: str = "test"
    seed: int = 0
    intensity: float = 1.0
    classes: tuple[str, ...] = field(default_factory=lambda: EMOTIONS)


class SyntheticDataset(Dataset):
    """Rendered faces of ``identities`` people of one split, each showing every class in ``classes``."""

    name = "synthetic"

    def __init__(self, options: SyntheticOptions):
        if options.split not in SPLITS:
            raise DatasetError(f"synthetic dataset: split must be one of {', '.join(SPLITS)}, got {options.split!r}")
        if options.identities < 1:
            raise DatasetError(f"synthetic dataset: identities must be >= 1, got {options.identities}")
        if not 0 < options.intensity <= 2:
            raise DatasetError(f"synthetic dataset: intensity must be in (0, 2], got {options.intensity}")
        try:
            self.classes = tuple(parse_label(c) for c in options.classes)
        except ValueError as exc:
            raise DatasetError(f"synthetic dataset: classes: {exc}") from exc
        self.options = options
        self.people: list[Identity] = identities(options.split, options.identities, options.seed)
        self._samples = [
            Sample(id=f"{self._person(i)}-{EMOTIONS[c]}", label=c, person=self._person(i))
            for i in range(options.identities) for c in self.classes
        ]
        self._render = lru_cache(maxsize=4096)(self._render_uncached)

    def _person(self, index: int) -> str:
        return f"{self.options.split}-{index:04d}"

    @classmethod
    def from_config(cls, options: Mapping[str, Any]) -> "SyntheticDataset":
        values = dict(options)
        if "classes" in values:
            values["classes"] = tuple(values["classes"])
        return cls(options_from_mapping(SyntheticOptions, values, "synthetic dataset options"))

    def samples(self) -> Sequence[Sample]:
        return list(self._samples)

    def _index(self, sample: Sample) -> int:
        if sample.person is None or not sample.person.startswith(self.options.split + "-"):
            raise DatasetError(f"synthetic dataset: sample {sample.id!r} is not from split {self.options.split!r}")
        return int(sample.person.rsplit("-", 1)[1])

    def _render_uncached(self, person: int, label: int, resolution: int) -> torch.Tensor:
        expression = Expression.prototype(label, self.options.intensity)
        return render_batch([self.people[person]], [expression], resolution)[0]

    def load(self, sample: Sample, resolution: int) -> torch.Tensor:
        return self._render(self._index(sample), int(sample.label), int(resolution)).clone()

    def reference(self, sample: Sample, target: int, resolution: int) -> torch.Tensor | None:
        return self._render(self._index(sample), int(target), int(resolution)).clone()

    def content_key(self, sample: Sample, resolution: int) -> str | None:
        """The person's and the expression's parameters, the resolution and the renderer's source, hashed:
        what the pixels follow from, known without rendering them."""
        index = self._index(sample)
        expression = Expression.prototype(int(sample.label), self.options.intensity)
        blob = json.dumps({"identity": dataclasses.asdict(self.people[index]), "expression": expression.as_vector(),
                           "resolution": int(resolution), "renderer": renderer_sha256()}, sort_keys=True)
        return "synthetic:" + hashlib.sha256(blob.encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        o = self.options
        return {"name": self.name, "identities": o.identities, "split": o.split, "seed": o.seed,
                "intensity": o.intensity, "classes": [EMOTIONS[c] for c in self.classes]}


class SyntheticTrainingSet(torch.utils.data.Dataset):
    """Random training faces for trainers: item i is a fixed (person, class, intensity, jitter) draw.

    Example:
        >>> ts = SyntheticTrainingSet("train", n_identities=4, resolution=32, per_identity=8)
        >>> image, label = ts[0]; image.shape, len(ts)
        (torch.Size([3, 32, 32]), 32)
    """

    def __init__(self, split: str, n_identities: int, resolution: int, per_identity: int = 32, seed: int = 0,
                 classes: Sequence[int | str] = EMOTIONS):
        self.people = identities(split, n_identities, seed)
        self.resolution = int(resolution)
        self.classes = [parse_label(c) for c in classes]
        rng = np.random.default_rng(seed + 7919)
        self.items: list[tuple[int, int, Expression]] = []
        for p in range(n_identities):
            for _ in range(per_identity):
                label = self.classes[int(rng.integers(len(self.classes)))]
                self.items.append((p, label, Expression.sample(label, rng)))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        p, label, expression = self.items[index]
        return render_batch([self.people[p]], [expression], self.resolution)[0], label

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Render many items in one call (much faster than one ``__getitem__`` each)."""
        chosen = [self.items[i] for i in indices]
        images = render_batch([self.people[p] for p, _, _ in chosen], [e for _, _, e in chosen], self.resolution)
        return images, torch.tensor([label for _, label, _ in chosen], dtype=torch.long)

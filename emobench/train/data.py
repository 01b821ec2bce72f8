"""Training images for the LDM trainers: synthetic faces, or any registered dataset.

Example:
    >>> src = TrainingData.from_config({"dataset": "synthetic", "split": "train", "identities": 4,
    ...                                 "per_identity": 4}, resolution=32)
    >>> x, y = src.batch([0, 1]); x.shape, y.tolist() == [src.labels[0], src.labels[1]]
    (torch.Size([2, 3, 32, 32]), True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from emobench.datasets import DATASETS
from emobench.labels import editing_source


@dataclass
class TrainingData:
    """Indexable (image, label) source with a fast batched fetch; images float32 in [0, 1]."""

    fetch: Any  # callable(indices) -> (images, labels)
    labels: list[int]
    description: dict[str, Any]

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.fetch(list(indices))

    @classmethod
    def from_config(cls, options: Mapping[str, Any], resolution: int) -> "TrainingData":
        """``dataset = "synthetic"`` (split, identities, per_identity, seed) or any registered dataset name
        with its own options (``london``, ``affectnet``, ``folder``); contempt trains as contempt."""
        opts = dict(options)
        name = opts.pop("dataset", "synthetic")
        if name == "synthetic":
            from emobench.synthetic.dataset import SyntheticTrainingSet

            allowed = {"split", "identities", "per_identity", "seed"}
            unknown = sorted(set(opts) - allowed)
            if unknown:
                raise ValueError(f"training data: unknown synthetic option(s) {', '.join(unknown)}; accepted: {sorted(allowed)}")
            ts = SyntheticTrainingSet(opts.get("split", "train"), int(opts.get("identities", 256)), resolution,
                                      int(opts.get("per_identity", 32)), int(opts.get("seed", 0)))
            return cls(ts.batch, [label for _, label, _ in ts.items], {"dataset": "synthetic", **opts})
        ds = DATASETS.get(name).from_config(opts)
        samples = list(ds.samples())

        def fetch(indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
            images = torch.stack([ds.load(samples[i], resolution) for i in indices])
            return images, torch.tensor([samples[i].label for i in indices], dtype=torch.long)

        return cls(fetch, [s.label for s in samples], {"dataset": name, **opts})


__all__ = ["TrainingData", "editing_source"]

"""London neutral/smiling face pairs: neutral photos as sources, the real smile as reference.

Layout: ``root/neutral/<id>.<ext>`` and ``root/happy/<id>.<ext>``; ``person`` is ``<id>``.
Only persons with both photos become samples (a missing pair gives no sample), so
``reference(sample, happy)`` is always the real smiling photo of the same person.

Example:
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from emobench.imageio import save_png
    >>> root = Path(tempfile.mkdtemp())
    >>> for k in ("neutral", "happy"):
    ...     _ = save_png(torch.rand(3, 20, 20), root / k / "001.png")
    >>> ds = LondonDataset.from_config({"root": str(root)})
    >>> [(s.id, s.person) for s in ds.samples()]
    [('001_neutral', '001')]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from emobench.datasets.base import Dataset, DatasetError, Sample
from emobench.datasets.faces import FaceHints, FacePrep
from emobench.datasets.folder import IMAGE_SUFFIXES
from emobench.options import options_from_mapping
from emobench.labels import parse_label

HAPPY = parse_label("happy")
NEUTRAL = parse_label("neutral")


@dataclass(frozen=True)
class LondonOptions:
    """``root``: folder with ``neutral/`` and ``happy/``; empty = $EMOBENCH_DATA/london_256 or ../shared/data/london_256.
    ``align``: none | paper | eyeline, for sources and their references alike (:mod:`emobench.datasets.faces`);
    ``landmarks``: auto | fan; ``cache``: aligned faces (empty = $EMOBENCH_HOME/faces)."""

    root: str = ""
    align: str = "none"
    landmarks: str = "auto"
    cache: str = ""


def _default_root() -> Path:
    data = os.environ.get("EMOBENCH_DATA")
    if data:
        return Path(data) / "london_256"
    return Path("../shared/data/london_256")


def _by_stem(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


class LondonDataset(Dataset):
    """Neutral photos of persons who also have a smiling photo."""

    name = "london"
    path_options = ("root", "cache")

    def __init__(self, options: LondonOptions):
        self.options = options
        self.root = Path(options.root) if options.root else _default_root()
        neutral, happy = _by_stem(self.root / "neutral"), _by_stem(self.root / "happy")
        if not neutral:
            raise DatasetError(f"london dataset: expected images under {self.root / 'neutral'}; found none "
                               "(set --set dataset.root=PATH to a folder with neutral/ and happy/)")
        self._happy = happy
        self._samples = [Sample(id=f"{pid}_neutral", label=NEUTRAL, person=pid, path=path)
                         for pid, path in sorted(neutral.items()) if pid in happy]
        if not self._samples:
            raise DatasetError(f"london dataset: no person in {self.root} has both a neutral and a happy photo")
        self.faces = FacePrep(options.align, options.landmarks, options.cache, has_boxes=False, has_landmarks=False,
                              where="london dataset")

    @classmethod
    def from_config(cls, options: Mapping[str, Any]) -> "LondonDataset":
        return cls(options_from_mapping(LondonOptions, options, "london dataset"))

    def samples(self) -> Sequence[Sample]:
        return list(self._samples)

    def load(self, sample: Sample, resolution: int) -> torch.Tensor:
        return self.faces.load(sample.path, resolution, FaceHints())

    def reference(self, sample: Sample, target: int, resolution: int) -> torch.Tensor | None:
        if target != HAPPY or sample.person not in self._happy:
            return None
        return self.faces.load(self._happy[sample.person], resolution, FaceHints())

    def face_stats(self) -> dict[str, int] | None:
        return self.faces.stats()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "root": str(self.root), "pairs": len(self._samples), **self.faces.describe(),
                "warnings": self.faces.warnings + ([self.faces.caption()] if self.faces.aligner else [])}

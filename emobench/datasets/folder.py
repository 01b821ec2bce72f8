"""A folder of face images with labels: class subfolders or a labels CSV.

Two layouts:

* ``root/<label>/<file>`` — one subfolder per emotion (any spelling :func:`parse_label`
  accepts, e.g. ``happy`` or ``happiness``); ids are ``<label>/<path without suffix>``.
* ``root`` + ``labels_csv`` with a header ``image,label[,person]``; ``image`` is a path
  relative to ``root``; ids are that path without its suffix.

Files are read by :func:`emobench.imageio.load_image` (grayscale, RGBA and 16-bit work),
centre-cropped to a square and resized (bilinear, antialiased), or aligned once and cached
(``align = "eyeline"``, or ``"paper"`` where FAN can run; :mod:`emobench.datasets.faces`). A file listed in the CSV
but absent, or an unreadable file, fails only its own rows (``status=error``); an empty
folder or a bad CSV is a :class:`DatasetError`.

Example:
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from emobench.imageio import save_png
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = save_png(torch.rand(3, 40, 30), root / "happy" / "p1.png")
    >>> ds = FolderDataset.from_config({"root": str(root)})
    >>> [(s.id, s.label) for s in ds.samples()]
    [('happy/p1', 1)]
    >>> ds.load(ds.samples()[0], 16).shape
    torch.Size([3, 16, 16])
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from emobench.datasets.base import Dataset, DatasetError, Sample

from emobench.options import options_from_mapping
from emobench.labels import parse_label

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm")


@dataclass(frozen=True)
class FolderOptions:
    """``root``: the image folder. ``labels_csv``: a CSV (path relative to ``root`` or absolute); empty = subfolders.
    ``align``: none | paper | eyeline (:mod:`emobench.datasets.faces`); ``landmarks``: auto | fan (the
    paper's source; a folder has no landmarks of its own); ``cache``: aligned faces (empty = $EMOBENCH_HOME/faces)."""

    root: str = ""
    labels_csv: str = ""
    align: str = "none"
    landmarks: str = "auto"
    cache: str = ""


class FolderDataset(Dataset):
    """Images under ``root`` labelled by subfolder name or by a CSV."""

    name = "folder"
    path_options = ("root", "cache")

    def __init__(self, options: FolderOptions):
        self.options = options
        if not options.root:
            raise DatasetError("folder dataset: 'root' is not set; pass --set dataset.root=PATH "
                               "(a folder of class subfolders, or with --set dataset.labels_csv=labels.csv)")
        self.root = Path(options.root).expanduser().resolve()
        if not self.root.is_dir():
            raise DatasetError(f"folder dataset: root {self.root} is not a folder")
        self._samples = self._from_csv() if options.labels_csv else self._from_subfolders()
        if not self._samples:
            raise DatasetError(f"folder dataset: no images found in {self.root} "
                               f"(expected files ending in {', '.join(IMAGE_SUFFIXES)})")
        from emobench.datasets.faces import FacePrep

        self.faces = FacePrep(options.align, options.landmarks, options.cache, has_boxes=False, has_landmarks=False,
                              where="folder dataset")

    @classmethod
    def from_config(cls, options: Mapping[str, Any]) -> "FolderDataset":
        return cls(options_from_mapping(FolderOptions, options, "options of dataset 'folder'"))

    def _csv_path(self) -> Path:
        path = Path(self.options.labels_csv).expanduser()
        return path if path.is_absolute() else self.root / path

    def _from_csv(self) -> list[Sample]:
        path = self._csv_path()
        if not path.is_file():
            raise DatasetError(f"folder dataset: labels_csv {path} not found")
        samples, seen = [], set()
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = {"image", "label"} - set(header)
            if missing:
                raise DatasetError(f"{path}: expected a header with columns image,label[,person]; "
                                   f"got {','.join(header) or '(empty file)'}")
            for line, row in enumerate(reader, start=2):
                row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
                if not row.get("image"):
                    raise DatasetError(f"{path}:{line}: empty 'image' cell")
                try:
                    label = parse_label(row.get("label", ""))
                except ValueError as exc:
                    raise DatasetError(f"{path}:{line}: {exc}") from exc
                rel = Path(row["image"])
                sample_id = rel.with_suffix("").as_posix()
                if sample_id in seen:
                    raise DatasetError(f"{path}:{line}: image {row['image']!r} is listed twice")
                seen.add(sample_id)
                samples.append(Sample(sample_id, label, row.get("person") or None, self.root / rel))
        return samples

    def _from_subfolders(self) -> list[Sample]:
        samples = []
        folders = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not folders:
            loose = [p for p in self.root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
            if loose:
                raise DatasetError(f"folder dataset: {self.root} has images but no labels; put them in class "
                                   f"subfolders (neutral/, happy/, ...) or pass --set dataset.labels_csv=FILE")
            return []
        for folder in folders:
            try:
                label = parse_label(folder.name)
            except ValueError as exc:
                raise DatasetError(f"folder dataset: subfolder {folder} is not an emotion label: {exc}") from exc
            for path in sorted(folder.rglob("*")):
                if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
                    rel = path.relative_to(self.root).with_suffix("").as_posix()
                    samples.append(Sample(rel, label, None, path))
        return samples

    def samples(self) -> Sequence[Sample]:
        return list(self._samples)

    def load(self, sample: Sample, resolution: int) -> torch.Tensor:
        from emobench.datasets.faces import FaceHints

        if sample.path is None:
            raise ValueError(f"sample {sample.id!r} has no file path")
        return self.faces.load(sample.path, resolution, FaceHints())

    def face_stats(self) -> dict[str, int] | None:
        return self.faces.stats()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "root": str(self.root), "labels_csv": self.options.labels_csv,
                **self.faces.describe(), "warnings": self.faces.warnings + ([self.faces.caption()] if self.faces.aligner else [])}

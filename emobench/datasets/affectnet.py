"""AffectNet (users supply it; its licence forbids shipping): the official CSV layout or class folders.

Two layouts, found under ``root`` (``layout = "auto"`` tries them in this order):

* ``csv`` — the official release: ``Manually_Annotated_file_lists/validation.csv`` (or
  ``validation.csv`` in ``root``) with the columns ``subDirectory_filePath, face_x, face_y,
  face_width, face_height, facial_landmarks, expression, valence, arousal`` (a header row
  names them, in any order; a file without a header must have exactly these nine, in this
  order), images under ``Manually_Annotated_Images/`` (or ``Manually_Annotated/Manually_Annotated_Images/``).
  Each image is cropped to its face box (clamped to the image) as the official data is
  used, then centre-squared and resized. Ids are ``subDirectory_filePath`` without suffix.
* ``folders`` — class folders, ``val_set/<class>/*.jpg`` (also ``val/``, ``validation/``) or
  ``<class>/`` directly in ``root``; a class folder is an emotion name (``happy``,
  ``Happiness``, ...) or an AffectNet code (``0``..``7``). The images are taken whole (they are
  face crops already). Ids are ``<class folder>/<path without suffix>``.

Expression codes: 0 neutral, 1 happy, 2 sad, 3 surprise, 4 fear, 5 disgust, 6 anger,
7 contempt; 8 (none), 9 (uncertain) and 10 (non-face) are left out (counted in
:meth:`AffectNetDataset.describe`). Contempt keeps its label: the protocol edits it as
neutral (:func:`emobench.labels.editing_source`). Samples keep file order (CSV rows;
folders by class code, then file name), so a protocol's ``per_class = 500`` takes the first
500 of each class — the whole official validation set, which has exactly 500 per class.

``split = "training"`` reads ``training.csv`` / ``train_set/`` the same way. An empty
``root`` means ``$EMOBENCH_AFFECTNET``, then ``$EMOBENCH_DATA/affectnet``.

Example:
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from emobench.imageio import save_png
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = save_png(torch.rand(3, 40, 50), root / "Manually_Annotated_Images" / "101" / "a.png")
    >>> _ = (root / "validation.csv").write_text(
    ...     "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\\n"
    ...     "101/a.png,10,5,30,30,1;2,7,0.1,0.2\\n"
    ...     "101/b.png,0,0,9,9,1;2,9,-2,-2\\n")
    >>> ds = AffectNetDataset.from_config({"root": str(root)})
    >>> [(s.id, s.label) for s in ds.samples()], ds.describe()["excluded"]
    ([('101/a', 7)], {'uncertain': 1})
    >>> ds.box(ds.samples()[0]), ds.load(ds.samples()[0], 16).shape
    (FaceBox(x=10, y=5, width=30, height=30), torch.Size([3, 16, 16]))
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from emobench.datasets.base import Dataset, DatasetError, Sample
from emobench.datasets.folder import IMAGE_SUFFIXES, square_resize
from emobench.editors.base import options_from_mapping
from emobench.imageio import ImageReadError, load_image
from emobench.labels import EMOTIONS, parse_label

COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
           "expression", "valence", "arousal")
# AffectNet's codes past the eight classes: not faces with an expression label, never samples.
EXCLUDED_CODES = {8: "none", 9: "uncertain", 10: "non-face"}
_EXCLUDED_FOLDERS = {"8": 8, "9": 9, "10": 10, "none": 8, "uncertain": 9, "non-face": 10, "nonface": 10,
                     "non_face": 10, "noface": 10, "no-face": 10}
CSV_DIRS = ("Manually_Annotated_file_lists", ".")
IMAGE_DIRS = ("Manually_Annotated_Images", "Manually_Annotated/Manually_Annotated_Images")
SPLITS = {"validation": ("validation.csv", ("val_set", "val", "validation")),
          "training": ("training.csv", ("train_set", "train", "training"))}
LAYOUTS = ("auto", "csv", "folders")
CROPS = ("box", "none")
MISSING_SHOWN = 5


@dataclass(frozen=True)
class AffectNetOptions:
    """``root``: the AffectNet folder (empty = $EMOBENCH_AFFECTNET, then $EMOBENCH_DATA/affectnet);
    ``layout``: auto | csv | folders; ``split``: validation | training;
    ``crop``: box (the CSV face box) | none (whole image; the folders layout is always whole)."""

    root: str = ""
    layout: str = "auto"
    split: str = "validation"
    crop: str = "box"


@dataclass(frozen=True)
class FaceBox:
    """A face box in pixels of the original image, as the official CSV gives it."""

    x: int
    y: int
    width: int
    height: int

    def crop(self, image: torch.Tensor, where: str = "image") -> torch.Tensor:
        """The box's pixels of a ``(3, H, W)`` image, the box clamped to the image.

        Example:
            >>> FaceBox(2, 1, 20, 8).crop(torch.zeros(3, 10, 12)).shape
            torch.Size([3, 8, 10])
        """
        _, h, w = image.shape
        x0, y0 = max(self.x, 0), max(self.y, 0)
        x1, y1 = min(self.x + self.width, w), min(self.y + self.height, h)
        if x1 - x0 < 8 or y1 - y0 < 8:
            raise ImageReadError(f"{where}: face box x={self.x} y={self.y} width={self.width} height={self.height} "
                                 f"leaves {max(x1 - x0, 0)}x{max(y1 - y0, 0)} pixels of the {w}x{h} image; "
                                 "expected at least 8x8")
        return image[:, y0:y1, x0:x1]


def default_root() -> Path | None:
    """``$EMOBENCH_AFFECTNET``, else ``$EMOBENCH_DATA/affectnet``, else ``None``."""
    if os.environ.get("EMOBENCH_AFFECTNET"):
        return Path(os.environ["EMOBENCH_AFFECTNET"])
    if os.environ.get("EMOBENCH_DATA"):
        return Path(os.environ["EMOBENCH_DATA"]) / "affectnet"
    return None


def parse_code(text: str, where: str) -> int:
    """An AffectNet expression code 0..10 from a CSV cell.

    Example:
        >>> parse_code("7", "x.csv:2")
        7
        >>> parse_code("11", "x.csv:2")
        Traceback (most recent call last):
        ...
        emobench.datasets.base.DatasetError: x.csv:2: expression: expected an AffectNet code 0..10 (0 neutral, 1 happy, 2 sad, 3 surprise, 4 fear, 5 disgust, 6 anger, 7 contempt; 8 none, 9 uncertain, 10 non-face), got '11'
    """
    codes = ", ".join(f"{i} {n}" for i, n in enumerate(EMOTIONS))
    codes += "; " + ", ".join(f"{i} {n}" for i, n in EXCLUDED_CODES.items())
    value = text.strip()
    if not value.isdigit() or int(value) > 10:
        raise DatasetError(f"{where}: expression: expected an AffectNet code 0..10 ({codes}), got {text!r}")
    return int(value)


def _pixels(text: str, where: str, column: str) -> int:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value != int(value):
        raise DatasetError(f"{where}: {column}: expected a whole number of pixels, got {text!r}")
    return int(value)


def _child(folder: Path, names: Sequence[str]) -> Path | None:
    """The first of ``names`` that is a folder under ``folder`` (case-insensitive)."""
    if not folder.is_dir():
        return None
    children = {p.name.lower(): p for p in sorted(folder.iterdir()) if p.is_dir()}
    for name in names:
        if name.lower() in children:
            return children[name.lower()]
    return None


def _folder_code(name: str) -> int | None:
    """AffectNet code of a class folder name; ``None`` if it is not one."""
    text = name.strip().lower()
    if text in _EXCLUDED_FOLDERS:
        return _EXCLUDED_FOLDERS[text]
    try:
        return parse_label(text)
    except ValueError:
        return None


class AffectNetDataset(Dataset):
    """AffectNet images of the eight classes with their labels (and face boxes in the CSV layout)."""

    name = "affectnet"
    path_options = ("root",)

    def __init__(self, options: AffectNetOptions):
        self.options = options
        for key, value, allowed in (("layout", options.layout, LAYOUTS), ("split", options.split, tuple(SPLITS)),
                                    ("crop", options.crop, CROPS)):
            if value not in allowed:
                raise DatasetError(f"affectnet dataset: {key} must be one of {', '.join(allowed)}, got {value!r}")
        if not isinstance(options.root, str):
            raise DatasetError(f"affectnet dataset: root must be a path string, got {options.root!r}")
        root = Path(options.root).expanduser() if options.root else default_root()
        if root is None:
            raise DatasetError("affectnet dataset: no root folder; AffectNet is not shipped (its licence forbids it): "
                               "set --set dataset.root=PATH (or the [dataset] root of the card), or the environment "
                               "variable EMOBENCH_AFFECTNET, to the folder holding Manually_Annotated_file_lists/ and "
                               "Manually_Annotated_Images/ or val_set/<class>/")
        self.root = root.resolve()
        if not self.root.is_dir():
            how = "set by --set dataset.root" if options.root else "from $EMOBENCH_AFFECTNET / $EMOBENCH_DATA"
            raise DatasetError(f"affectnet dataset: root {self.root} ({how}) is not a folder")
        self._boxes: dict[str, FaceBox] = {}
        self.excluded: dict[str, int] = {}
        self.csv_path, self.image_dir, self.class_dir = self._find_layout()
        if self.csv_path is not None:
            self.layout = "csv"
            self._samples = self._from_csv(self.csv_path, self.image_dir)
        else:
            self.layout = "folders"
            self._samples = self._from_folders(self.class_dir)
        if not self._samples:
            where = self.csv_path or self.class_dir
            raise DatasetError(f"affectnet dataset: {where} lists no image of the eight classes (codes 0..7)")

    @classmethod
    def from_config(cls, options: Mapping[str, Any]) -> "AffectNetDataset":
        return cls(options_from_mapping(AffectNetOptions, options, "options of dataset 'affectnet'"))

    # ------------------------------------------------------------------- layouts

    def _find_layout(self) -> tuple[Path | None, Path | None, Path | None]:
        """(csv, image folder, None) or (None, None, class folder); a DatasetError saying what was looked for."""
        csv_name, folder_names = SPLITS[self.options.split]
        looked = []
        if self.options.layout in ("auto", "csv"):
            candidates = [self.root / d / csv_name if d != "." else self.root / csv_name for d in CSV_DIRS]
            looked.append(" or ".join(str(p) for p in candidates))
            found = next((p for p in candidates if p.is_file()), None)
            if found is not None:
                image_dir = next((self.root / d for d in IMAGE_DIRS if (self.root / d).is_dir()), None)
                if image_dir is None:
                    raise DatasetError(f"affectnet dataset: found {found} but no image folder; expected "
                                       f"{' or '.join(str(self.root / d) for d in IMAGE_DIRS)}")
                return found, image_dir, None
        if self.options.layout in ("auto", "folders"):
            split_dir = _child(self.root, folder_names)
            looked.append(f"class folders under {self.root}/{{{','.join(folder_names)}}}/ or in {self.root} "
                          "(emotion names like happy/, or codes 0/..7/)")
            for folder in ([split_dir] if split_dir is not None else []) + [self.root]:
                subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
                if any(_folder_code(p.name) is not None for p in subdirs):
                    return None, None, folder
        raise DatasetError(f"affectnet dataset: no AffectNet {self.options.split} data found in {self.root} "
                           f"(layout {self.options.layout}); looked for " + "; ".join(looked))

    def _from_csv(self, path: Path, image_dir: Path) -> list[Sample]:
        samples: list[Sample] = []
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [(line, row) for line, row in enumerate(csv.reader(fh), start=1) if any(c.strip() for c in row)]
        if not rows:
            raise DatasetError(f"{path}: empty file; expected the columns {','.join(COLUMNS)}")
        first = [c.strip() for c in rows[0][1]]
        if set(first) & set(COLUMNS):  # a header row
            missing = [c for c in COLUMNS if c not in first]
            if missing:
                raise DatasetError(f"{path}: expected the columns {','.join(COLUMNS)}; missing "
                                   f"{','.join(missing)} (got {','.join(first)})")
            index = {c: first.index(c) for c in COLUMNS}
            rows = rows[1:]
        elif len(first) == len(COLUMNS):  # the official validation.csv may come without a header
            index = {c: i for i, c in enumerate(COLUMNS)}
        else:
            raise DatasetError(f"{path}:{rows[0][0]}: expected a header with the columns {','.join(COLUMNS)} "
                               f"(or, without a header, these nine cells per row); got {len(first)} cells: "
                               f"{','.join(first)[:200]}")
        width = max(index.values()) + 1
        seen: set[str] = set()
        missing_files: list[str] = []
        for line, row in rows:
            where = f"{path}:{line}"
            if len(row) < width:
                raise DatasetError(f"{where}: expected {width} cells, got {len(row)}")
            cell = {c: row[i].strip() for c, i in index.items()}
            code = parse_code(cell["expression"], where)
            if code in EXCLUDED_CODES:
                name = EXCLUDED_CODES[code]
                self.excluded[name] = self.excluded.get(name, 0) + 1
                continue
            rel = cell["subDirectory_filePath"]
            if not rel:
                raise DatasetError(f"{where}: empty subDirectory_filePath")
            sample_id = Path(rel).with_suffix("").as_posix()
            if sample_id in seen:
                raise DatasetError(f"{where}: image {rel!r} is listed twice")
            seen.add(sample_id)
            if self.options.crop == "box":
                box = FaceBox(*(_pixels(cell[c], where, c) for c in COLUMNS[1:5]))
                if box.width <= 0 or box.height <= 0:
                    raise DatasetError(f"{where}: face box width={box.width} height={box.height}; expected positive "
                                       "sizes (or --set dataset.crop=none to use whole images)")
                self._boxes[sample_id] = box
            file = image_dir / rel
            if not file.is_file():
                missing_files.append(rel)
            samples.append(Sample(sample_id, code, None, file))
        if missing_files:
            shown = ", ".join(missing_files[:MISSING_SHOWN]) + (", ..." if len(missing_files) > MISSING_SHOWN else "")
            raise DatasetError(f"{path}: {len(missing_files)} of {len(samples)} listed images are missing under "
                               f"{image_dir}: {shown}")
        return samples

    def _from_folders(self, folder: Path) -> list[Sample]:
        samples: list[tuple[int, str, Path]] = []
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            code = _folder_code(sub.name)
            if code is None:
                raise DatasetError(f"affectnet dataset: class folder {sub} is neither an emotion name nor an "
                                   f"AffectNet code (expected {', '.join(EMOTIONS)} or 0..7; 8..10 are left out)")
            files = [p for p in sorted(sub.rglob("*"))
                     if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
            if code in EXCLUDED_CODES:
                name = EXCLUDED_CODES[code]
                self.excluded[name] = self.excluded.get(name, 0) + len(files)
                continue
            samples.extend((code, p.relative_to(folder).with_suffix("").as_posix(), p) for p in files)
        samples.sort(key=lambda t: (t[0], t[1]))
        return [Sample(sample_id, code, None, path) for code, sample_id, path in samples]

    # ------------------------------------------------------------------- the Dataset interface

    def samples(self) -> Sequence[Sample]:
        return list(self._samples)

    def box(self, sample: Sample) -> FaceBox | None:
        """The face box ``load`` crops to (``None``: the whole image is used)."""
        return self._boxes.get(sample.id)

    def load(self, sample: Sample, resolution: int) -> torch.Tensor:
        if sample.path is None:
            raise ValueError(f"sample {sample.id!r} has no file path")
        image = load_image(sample.path)
        box = self._boxes.get(sample.id)
        if box is not None:
            image = box.crop(image, str(sample.path))
        return square_resize(image, resolution)

    def describe(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for sample in self._samples:
            counts[EMOTIONS[sample.label]] = counts.get(EMOTIONS[sample.label], 0) + 1
        info: dict[str, Any] = {"name": self.name, "root": str(self.root), "layout": self.layout,
                                "split": self.options.split,
                                "crop": self.options.crop if self.layout == "csv" else "none",
                                "per_class": {k: counts[k] for k in EMOTIONS if k in counts},
                                "excluded": dict(sorted(self.excluded.items()))}
        if self.csv_path is not None:
            info["csv"] = str(self.csv_path)
        return info

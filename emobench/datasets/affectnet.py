"""AffectNet (users supply it; its licence forbids shipping), in each layout it comes in.

Three layouts, found under ``root`` (``layout = "auto"`` tries them in this order; every folder
and file name is matched case-insensitively; docs/datasets.md lists the paths):

* ``csv`` — the official release: ``training.csv`` / ``validation.csv`` (in
  ``Manually_Annotated_file_lists/`` or anywhere two levels down, or ``lists = PATH``) with the
  columns ``subDirectory_filePath, face_x, face_y, face_width, face_height, facial_landmarks,
  expression, valence, arousal`` (a header in any order, or none and these nine in order). The
  image folder is the one that holds the first rows' files: ``root`` itself (the paper's own
  install), ``Manually_Annotated_Images/``, the archive's doubled
  ``Manually_Annotated_Images/Manually_Annotated_Images/``, ``Manually_Annotated_compressed/...``
  (or ``images = PATH``). Ids are ``subDirectory_filePath`` without suffix.
* ``npy`` — the release AffectNet ships today: ``val_set/`` / ``train_set/`` with
  ``images/<n>.jpg`` and ``annotations/<n>_exp.npy`` (code 0–7), ``_val.npy``, ``_aro.npy``,
  ``_lnd.npy`` (68 landmarks). Ids are ``<n>``, in numeric order.
* ``folders`` — class folders ``val_set/<class>/`` (also ``val/``, ``validation/``) or
  ``<class>/`` in ``root``; a class is an emotion name or an AffectNet code. Ids are
  ``<class folder>/<path without suffix>``.

``align`` (:mod:`emobench.datasets.faces`): ``box`` (the CSV's face box; the class default),
``none``, ``paper`` (the paper's crop; landmarks from FAN when it can run, else the release's own:
the CSV's ``facial_landmarks`` or ``_lnd.npy``) or ``eyeline`` (YuNet, offline). The protocol cards
ask for ``paper``.

Codes 8 (none), 9 (uncertain) and 10 (non-face) are left out and counted (``describe()["excluded"]``).
Contempt keeps its label: the protocol edits it as neutral (:func:`emobench.labels.editing_source`).
A bad row or a missing file stops a validation split with an error naming the file and line; in
a training split such rows are skipped, counted and reported (``describe()["skipped"]`` and a
warning in the manifest). An empty ``root`` means ``$EMOBENCH_AFFECTNET``, then
``$EMOBENCH_DATA/affectnet``.

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

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from emobench.datasets import affectnet_layouts as layouts
from emobench.datasets.affectnet_layouts import COLUMNS, EXCLUDED_CODES, parse_code  # noqa: F401 (public names)
from emobench.datasets.base import Dataset, DatasetError, Sample
from emobench.datasets.faces import FaceHints, FacePrep
from emobench.options import options_from_mapping
from emobench.faces.aligners import ALIGNS, LANDMARK_SOURCES
from emobench.labels import EMOTIONS

LAYOUTS = ("auto", "csv", "npy", "folders")
SPLITS = tuple(layouts.SPLIT_CSV)


@dataclass(frozen=True)
class AffectNetOptions:
    """``root``: the AffectNet folder (empty = $EMOBENCH_AFFECTNET, then $EMOBENCH_DATA/affectnet);
    ``layout``: auto | csv | npy | folders; ``split``: validation | training;
    ``images``: the image folder of the CSV layout (empty = found); ``lists``: the CSV, or the folder
    holding training.csv / validation.csv (empty = found);
    ``align``: box | none | paper | eyeline; ``landmarks``: auto | fan | dataset (the paper's source);
    ``cache``: aligned faces (empty = $EMOBENCH_HOME/faces)."""

    root: str = ""
    layout: str = "auto"
    split: str = "validation"
    images: str = ""
    lists: str = ""
    align: str = "box"
    landmarks: str = "auto"
    cache: str = ""


@dataclass(frozen=True)
class FaceBox:
    """A face box in pixels of the original image, as the official CSV gives it."""

    x: int
    y: int
    width: int
    height: int


def default_root() -> Path | None:
    """``$EMOBENCH_AFFECTNET``, else ``$EMOBENCH_DATA/affectnet``, else ``None``."""
    if os.environ.get("EMOBENCH_AFFECTNET"):
        return Path(os.environ["EMOBENCH_AFFECTNET"])
    if os.environ.get("EMOBENCH_DATA"):
        return Path(os.environ["EMOBENCH_DATA"]) / "affectnet"
    return None


def _path_option(value: str, key: str) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.exists():
        raise DatasetError(f"affectnet dataset: {key} {path} does not exist")
    return path


class AffectNetDataset(Dataset):
    """AffectNet images of the eight classes with their labels (and, where the release has them,
    face boxes and landmarks)."""

    name = "affectnet"
    path_options = ("root", "images", "lists", "cache")

    def __init__(self, options: AffectNetOptions):
        self.options = options
        for key, value, allowed in (("layout", options.layout, LAYOUTS), ("split", options.split, SPLITS),
                                    ("align", options.align, ALIGNS), ("landmarks", options.landmarks, LANDMARK_SOURCES)):
            if value not in allowed:
                raise DatasetError(f"affectnet dataset: {key} must be one of {', '.join(allowed)}, got {value!r}")
        for key in ("root", "images", "lists", "align", "landmarks", "cache"):
            if not isinstance(getattr(options, key), str):
                raise DatasetError(f"affectnet dataset: {key} must be a string, got {getattr(options, key)!r}")
        root = Path(options.root).expanduser() if options.root else default_root()
        if root is None:
            raise DatasetError("affectnet dataset: no root folder; AffectNet is not shipped (its licence forbids it): "
                               "set --set dataset.root=PATH (or the [dataset] root of the card), or the environment "
                               "variable EMOBENCH_AFFECTNET, to the folder holding Manually_Annotated_file_lists/ and "
                               "Manually_Annotated_Images/, val_set/images/ + val_set/annotations/, or val_set/<class>/")
        self.root = root.resolve()
        if not self.root.is_dir():
            how = "set by --set dataset.root" if options.root else "from $EMOBENCH_AFFECTNET / $EMOBENCH_DATA"
            raise DatasetError(f"affectnet dataset: root {self.root} ({how}) is not a folder")
        self.images_option = _path_option(options.images, "images")
        self.lists_option = _path_option(options.lists, "lists")
        self.paths: dict[str, str] = {}
        self.layout, listing = self._read()
        self._listing = listing
        self._samples = listing.samples
        if not self._samples:
            where = next(iter(self.paths.values()), str(self.root))
            raise DatasetError(f"affectnet dataset: {where} lists no image of the eight classes (codes 0..7)")
        self.faces = FacePrep(options.align, options.landmarks, options.cache, has_boxes=bool(listing.boxes),
                              has_landmarks=self.layout in ("csv", "npy"),
                              where=f"affectnet dataset ({self.layout} layout)")

    @classmethod
    def from_config(cls, options: Mapping[str, Any]) -> "AffectNetDataset":
        if "crop" in options:
            raise DatasetError("affectnet dataset: 'crop' is now 'align': --set dataset.align=box (the CSV face box), "
                               "none (whole images), paper (the paper's crop) or eyeline (YuNet, offline)")
        return cls(options_from_mapping(AffectNetOptions, options, "options of dataset 'affectnet'"))

    # ------------------------------------------------------------------- layouts

    def _read(self) -> tuple[str, layouts.Listing]:
        split, choice = self.options.split, self.options.layout
        align, wants_paper = self.options.align, self.options.align == "paper"
        looked: list[str] = []
        if choice in ("auto", "csv"):
            found = layouts.find_csv(self.root, split, self.lists_option)
            if found is not None:
                candidates = layouts.image_dir_candidates(self.root)
                listing, images = layouts.read_csv(found, self.images_option, candidates, split=split,
                                                   want_boxes=align == "box", want_landmarks=wants_paper)
                self.paths = {"csv": str(found), "images": str(images)}
                return "csv", listing
            where = f"in {self.lists_option}" if self.lists_option else f"in {self.root} or two levels below"
            looked.append(f"the CSV release: {layouts.SPLIT_CSV[split]} {where} (any case) — not found")
        if choice in ("auto", "npy"):
            split_dir = layouts.find_npy_split(self.root, split)
            if split_dir is not None:
                self.paths = {"split_dir": str(split_dir)}
                return "npy", layouts.read_npy(split_dir, split=split, want_landmarks=wants_paper)
            names = "/".join(layouts.SPLIT_DIRS[split])
            looked.append(f"the npy release: {{{names}}}/images/ with {{{names}}}/annotations/ in {self.root} or "
                          "one level below — not found")
        if choice in ("auto", "folders"):
            class_dir = layouts.find_class_dir(self.root, split)
            if class_dir is not None:
                self.paths = {"class_dir": str(class_dir)}
                return "folders", layouts.read_folders(class_dir)
            looked.append(f"class folders under {self.root}/{{{','.join(layouts.SPLIT_DIRS[split])}}}/ or in "
                          f"{self.root} (emotion names like happy/, or codes 0/..7/) — not found")
        raise DatasetError(f"affectnet dataset: no AffectNet {split} data found in {self.root} (layout {choice}); "
                           f"looked for " + "; ".join(looked) + f". {self.root} holds: "
                           f"{layouts.what_is_there(self.root)}")

    # ------------------------------------------------------------------- the Dataset interface

    def samples(self) -> Sequence[Sample]:
        return list(self._samples)

    def box(self, sample: Sample) -> FaceBox | None:
        """The CSV face box of ``sample`` (``None`` where the layout has none or ``align`` is not ``box``)."""
        box = self._listing.boxes.get(sample.id)
        return FaceBox(*box) if box is not None else None

    def landmarks(self, sample: Sample):
        """The release's own 68 landmarks of ``sample`` as a ``(68, 2)`` array (``None`` where absent);
        read only for ``align = "paper"``. Raises ``LandmarkError`` for a malformed entry."""
        value = self._listing.landmarks.get(sample.id)
        return None if value is None else layouts.parse_landmarks(value, f"{sample.path}")

    def load(self, sample: Sample, resolution: int) -> torch.Tensor:
        if sample.path is None:
            raise ValueError(f"sample {sample.id!r} has no file path")
        needs_marks = self.faces.aligner is not None and self.faces.aligner.uses_hint_landmarks()
        hints = FaceHints(box=self._listing.boxes.get(sample.id),
                          landmarks=self.landmarks(sample) if needs_marks else None)
        return self.faces.load(sample.path, resolution, hints)

    def face_stats(self) -> dict[str, int] | None:
        return self.faces.stats()

    def warnings(self) -> list[str]:
        """Sentences for the manifest and every caption: skipped training rows, a face crop unlike the paper's."""
        out = list(self.faces.warnings)
        if self._listing.skipped:
            counts = ", ".join(f"{n} {kind}" for kind, n in sorted(self._listing.skipped.items()))
            out.append(f"AffectNet {self.options.split}: skipped {counts} (e.g. {self._listing.skipped_examples[0]})")
        caption = self.faces.caption()
        if self.faces.used != "paper" or "FAN" not in caption:
            out.append(caption + ("" if self.faces.used == "paper" else " (the paper: FAN landmarks, its own crop)"))
        return out

    def describe(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for sample in self._samples:
            counts[EMOTIONS[sample.label]] = counts.get(EMOTIONS[sample.label], 0) + 1
        info: dict[str, Any] = {"name": self.name, "root": str(self.root), "layout": self.layout,
                                "split": self.options.split, **self.paths, **self.faces.describe(),
                                "per_class": {k: counts[k] for k in EMOTIONS if k in counts},
                                "excluded": dict(sorted(self._listing.excluded.items()))}
        if self._listing.skipped:
            info["skipped"] = dict(sorted(self._listing.skipped.items()))
            info["skipped_examples"] = list(self._listing.skipped_examples)
        info["warnings"] = self.warnings()
        return info

"""Finding and reading AffectNet as users have it: the CSV release, the npy release, class folders.

Every search is case-insensitive and bounded (AffectNet's image folders hold ~1,200 numbered
sub-folders of ~400k files; the search never lists them), and each reader returns a
:class:`Listing`: samples in file order, what each knows of its face, what was left out and why.
A training split counts bad rows and missing files and goes on; a validation split stops at the
first (its 500-per-class numbers are the paper's).

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()); (root / "AffectNet" / "val_set" / "images").mkdir(parents=True)
    >>> (root / "AffectNet" / "val_set" / "annotations").mkdir()
    >>> find_npy_split(root, "validation").relative_to(root).as_posix()
    'AffectNet/val_set'
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from emobench.datasets.base import DatasetError, Sample
from emobench.labels import EMOTIONS, parse_label

COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
           "expression", "valence", "arousal")
# AffectNet's codes past the eight classes: not faces with an expression label, never samples.
EXCLUDED_CODES = {8: "none", 9: "uncertain", 10: "non-face"}
_EXCLUDED_FOLDERS = {"8": 8, "9": 9, "10": 10, "none": 8, "uncertain": 9, "non-face": 10, "nonface": 10,
                     "non_face": 10, "noface": 10, "no-face": 10}
SPLIT_CSV = {"validation": "validation.csv", "training": "training.csv"}
SPLIT_DIRS = {"validation": ("val_set", "val", "validation"), "training": ("train_set", "train", "training")}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
SHOWN = 5  # examples quoted in an error or a warning
PROBE_ROWS = 20  # CSV rows tried against each candidate image folder
_MAX_FANOUT = 64  # a folder with more sub-folders than this is an image store: never searched below


@dataclass
class Listing:
    """What a layout reader found: samples (file order), their boxes / landmarks, the left-outs."""

    samples: list[Sample] = field(default_factory=list)
    boxes: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    landmarks: dict[str, object] = field(default_factory=dict)  # id -> (68, 2) array, CSV text or .npy path
    excluded: dict[str, int] = field(default_factory=dict)  # codes 8..10 by name
    skipped: dict[str, int] = field(default_factory=dict)  # training only: "bad rows", "missing images", ...
    skipped_examples: list[str] = field(default_factory=list)

    def skip(self, kind: str, message: str) -> None:
        self.skipped[kind] = self.skipped.get(kind, 0) + 1
        if len(self.skipped_examples) < SHOWN:
            self.skipped_examples.append(message)

    def exclude(self, code: int, count: int = 1) -> None:
        name = EXCLUDED_CODES[code]
        self.excluded[name] = self.excluded.get(name, 0) + count


# --------------------------------------------------------------------------- searching


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def child(folder: Path, names: Sequence[str]) -> Path | None:
    """The first of ``names`` that is a folder in ``folder``, case-insensitively.

    Example:
        >>> child(Path("/nonexistent"), ["val_set"]) is None
        True
    """
    by_name = {p.name.lower(): p for p in _subdirs(folder)}
    return next((by_name[n.lower()] for n in names if n.lower() in by_name), None)


def walk(root: Path, depth: int) -> Iterator[tuple[Path, int]]:
    """``(folder, depth)`` for ``root`` and the folders below it, shallow first, at most ``depth``
    levels down, never below a folder of numbered sub-folders or a huge one (an image store)."""
    level = [root]
    for d in range(depth + 1):
        following = []
        for folder in level:
            yield folder, d
            subs = _subdirs(folder) if d < depth else []
            if len(subs) > _MAX_FANOUT or (subs and all(p.name.isdigit() for p in subs)):
                continue
            following.extend(subs)
        level = following


def _file_named(folder: Path, name: str) -> Path | None:
    try:
        return next((p for p in sorted(folder.iterdir()) if p.is_file() and p.name.lower() == name.lower()), None)
    except OSError:
        return None


def find_csv(root: Path, split: str, lists: Path | None) -> Path | None:
    """The split's CSV: ``lists`` (the file, or a folder holding it), else the shallowest
    ``validation.csv`` / ``training.csv`` at most two levels below ``root``, any case, one in a
    ``*file_lists*`` folder first."""
    name = SPLIT_CSV[split]
    if lists is not None:
        return lists if lists.is_file() else _file_named(lists, name)
    found = [(d, "file_list" not in folder.name.lower(), str(p)) for folder, d in walk(root, 2)
             if (p := _file_named(folder, name)) is not None]
    return Path(min(found)[2]) if found else None


def image_dir_candidates(root: Path) -> list[Path]:
    """Folders that may hold the CSV's ``subDirectory_filePath``, shallow first: ``root`` itself (the
    paper's own install) and every folder at most three levels down (``Manually_Annotated_Images``,
    its doubled nesting, ``Manually_Annotated_compressed/...``), never inside an image store."""
    return [folder for folder, _ in walk(root, 3)]


def pick_image_dir(candidates: Sequence[Path], rels: Sequence[str]) -> tuple[Path | None, int]:
    """The candidate holding the most of ``rels`` (the first rows' paths), shallowest on ties."""
    best, best_n = None, 0
    for folder in candidates:
        n = sum((folder / rel).is_file() for rel in rels)
        if n > best_n:
            best, best_n = folder, n
    return best, best_n


def find_npy_split(root: Path, split: str) -> Path | None:
    """The npy release's split folder (``val_set``/``train_set``, any case) holding ``images/`` and
    ``annotations/``: ``root`` itself, ``root/<split>`` or one level further down."""
    names = SPLIT_DIRS[split]
    for folder, _ in walk(root, 2):
        if folder != root and folder.name.lower() not in names:
            continue
        if child(folder, ["images"]) is not None and child(folder, ["annotations"]) is not None:
            return folder
    return None


def folder_code(name: str) -> int | None:
    """AffectNet code of a class folder name (``happy``, ``Happiness``, ``1``, ``none``...); ``None`` if not one."""
    text = name.strip().lower()
    if text in _EXCLUDED_FOLDERS:
        return _EXCLUDED_FOLDERS[text]
    try:
        return parse_label(text)
    except ValueError:
        return None


def find_class_dir(root: Path, split: str) -> Path | None:
    """A folder of class sub-folders: ``root/<split dir>`` (any case) or ``root`` itself."""
    split_dir = child(root, SPLIT_DIRS[split])
    for folder in ([split_dir] if split_dir is not None else []) + [root]:
        if any(folder_code(p.name) is not None for p in _subdirs(folder)):
            return folder
    return None


def what_is_there(root: Path) -> str:
    """A short listing of ``root`` for error messages."""
    try:
        entries = sorted(root.iterdir())
    except OSError as exc:
        return f"cannot list it ({exc.strerror or exc})"
    shown = [p.name + ("/" if p.is_dir() else "") for p in entries[:12]]
    more = f" and {len(entries) - 12} more" if len(entries) > 12 else ""
    return (", ".join(shown) + more) if shown else "nothing"


# --------------------------------------------------------------------------- cells


def parse_code(text: str, where: str) -> int:
    """An AffectNet expression code 0..10 from a CSV cell (or an .npy value).

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
    if value.endswith(".0") and value[:-2].isdigit():  # a code stored as a float
        value = value[:-2]
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


def parse_landmarks(value: object, where: str) -> np.ndarray:
    """68 ``(x, y)`` points from a CSV cell (``x;y;x;y...``), an array, or an ``.npy`` file of 136 numbers.

    Example:
        >>> parse_landmarks(";".join(["1"] * 136), "x.csv:2").shape
        (68, 2)
    """
    from emobench.faces.paper import LandmarkError

    try:
        if isinstance(value, Path):
            array = np.load(value, allow_pickle=False)
        elif isinstance(value, str):
            array = np.array([float(v) for v in value.split(";") if v.strip()])
        else:
            array = np.asarray(value)
        points = np.asarray(array, dtype=np.float64).reshape(68, 2)
    except (OSError, ValueError) as exc:
        raise LandmarkError(f"{where}: facial landmarks: expected 136 numbers (68 x, y pairs); {exc}") from exc
    if not np.isfinite(points).all():
        raise LandmarkError(f"{where}: facial landmarks are not all finite numbers")
    return points


# --------------------------------------------------------------------------- readers


def read_csv(path: Path, images: Path | None, candidates: Sequence[Path], *, split: str, want_boxes: bool,
             want_landmarks: bool) -> tuple[Listing, Path]:
    """Rows of the official CSV (a header in any column order, or none and the nine columns in order)."""
    strict = split == "validation"
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
    if images is None:
        # Probe with rows of the eight classes: the release may leave out files of codes 8..10.
        rels = [row[index["subDirectory_filePath"]].strip() for _, row in rows
                if len(row) >= width and row[index["expression"]].strip() in "01234567"
                and row[index["expression"]].strip()][:PROBE_ROWS]
        images, found = pick_image_dir(candidates, [r for r in rels if r])
        if images is None and not rels:
            images = candidates[0] if candidates else path.parent  # nothing to find: "lists no image" follows
        if images is None:
            tried = ", ".join(str(c) for c in candidates[:8]) + (", ..." if len(candidates) > 8 else "")
            raise DatasetError(f"affectnet dataset: found {path} but none of its first {len(rels)} images "
                               f"(e.g. {rels[0] if rels else '?'}) under {tried}; point at the image folder with "
                               "--set dataset.images=PATH")
    listing = Listing()
    seen: set[str] = set()
    missing_files: list[str] = []
    for line, row in rows:
        where = f"{path}:{line}"
        try:
            if len(row) < width:
                raise DatasetError(f"{where}: expected {width} cells, got {len(row)}")
            cell = {c: row[i].strip() for c, i in index.items()}
            code = parse_code(cell["expression"], where)
            if code in EXCLUDED_CODES:
                listing.exclude(code)
                continue
            rel = cell["subDirectory_filePath"]
            if not rel:
                raise DatasetError(f"{where}: empty subDirectory_filePath")
            sample_id = Path(rel).with_suffix("").as_posix()
            if sample_id in seen:
                raise DatasetError(f"{where}: image {rel!r} is listed twice")
            box = None
            if want_boxes:
                box = tuple(_pixels(cell[c], where, c) for c in COLUMNS[1:5])
                if box[2] <= 0 or box[3] <= 0:
                    raise DatasetError(f"{where}: face box width={box[2]} height={box[3]}; expected positive sizes "
                                       "(or --set dataset.align=none to use whole images)")
        except DatasetError as exc:
            if strict:
                raise
            listing.skip("bad rows", str(exc))
            continue
        file = images / rel
        if not file.is_file():
            if strict:
                missing_files.append(rel)
            else:
                listing.skip("missing images", f"{where}: {rel} is not under {images}")
            continue
        seen.add(sample_id)
        if box is not None:
            listing.boxes[sample_id] = box  # type: ignore[assignment]
        if want_landmarks:
            listing.landmarks[sample_id] = cell["facial_landmarks"]
        listing.samples.append(Sample(sample_id, code, None, file))
    if missing_files:
        shown = ", ".join(missing_files[:SHOWN]) + (", ..." if len(missing_files) > SHOWN else "")
        total = len(listing.samples) + len(missing_files)
        raise DatasetError(f"{path}: {len(missing_files)} of {total} listed images are missing under "
                           f"{images}: {shown}")
    return listing, images


def _npy_code(path: Path, where: str) -> int:
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{where}: cannot read {path.name} ({exc})") from exc
    return parse_code(str(np.asarray(value).reshape(-1)[0]) if np.asarray(value).size else "", where)


def read_npy(split_dir: Path, *, split: str, want_landmarks: bool) -> Listing:
    """``images/<n>.jpg`` with ``annotations/<n>_exp.npy`` (and ``_val``, ``_aro``, ``_lnd``)."""
    strict = split == "validation"
    image_dir, notes_dir = child(split_dir, ["images"]), child(split_dir, ["annotations"])
    if image_dir is None or notes_dir is None:
        raise DatasetError(f"{split_dir}: expected images/ and annotations/ in it")
    notes = {p.name.lower(): p for p in notes_dir.iterdir() if p.suffix.lower() == ".npy"}
    files = [p for p in image_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
             and not p.name.startswith(".")]
    files.sort(key=lambda p: (0, int(p.stem), "") if p.stem.isdigit() else (1, 0, p.stem))
    listing = Listing()
    unannotated: list[str] = []
    stems = set()
    for file in files:
        stems.add(file.stem.lower())
        exp = notes.get(f"{file.stem.lower()}_exp.npy")
        where = f"{notes_dir / (file.stem + '_exp.npy')}"
        if exp is None:
            if strict:
                unannotated.append(file.name)
            else:
                listing.skip("images without _exp.npy", f"{file}: no {file.stem}_exp.npy in {notes_dir}")
            continue
        try:
            code = _npy_code(exp, where)
        except DatasetError as exc:
            if strict:
                raise
            listing.skip("bad annotations", str(exc))
            continue
        if code in EXCLUDED_CODES:
            listing.exclude(code)
            continue
        if want_landmarks:
            lnd = notes.get(f"{file.stem.lower()}_lnd.npy")
            if lnd is not None:
                listing.landmarks[file.stem] = lnd
        listing.samples.append(Sample(file.stem, code, None, file))
    if unannotated:
        shown = ", ".join(unannotated[:SHOWN]) + (", ..." if len(unannotated) > SHOWN else "")
        raise DatasetError(f"{image_dir}: {len(unannotated)} of {len(files)} images have no <n>_exp.npy in "
                           f"{notes_dir}: {shown}")
    orphans = sorted(n[:-8] for n in notes if n.endswith("_exp.npy") and n[:-8] not in stems)
    if orphans:
        shown = ", ".join(orphans[:SHOWN]) + (", ..." if len(orphans) > SHOWN else "")
        if strict:
            raise DatasetError(f"{notes_dir}: {len(orphans)} annotated images are missing from {image_dir}: {shown}")
        listing.skipped["missing images"] = listing.skipped.get("missing images", 0) + len(orphans)
        if len(listing.skipped_examples) < SHOWN:
            listing.skipped_examples.append(f"{notes_dir}: no image for {shown}")
    return listing


def read_folders(folder: Path) -> Listing:
    """``<class>/**/*.jpg``: whole images (already face crops), ordered by class code, then path."""
    listing = Listing()
    found: list[tuple[int, str, Path]] = []
    for sub in _subdirs(folder):
        code = folder_code(sub.name)
        if code is None:
            raise DatasetError(f"affectnet dataset: class folder {sub} is neither an emotion name nor an "
                               f"AffectNet code (expected {', '.join(EMOTIONS)} or 0..7; 8..10 are left out)")
        files = [p for p in sorted(sub.rglob("*"))
                 if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
        if code in EXCLUDED_CODES:
            if files:
                listing.exclude(code, len(files))
            continue
        found.extend((code, p.relative_to(folder).with_suffix("").as_posix(), p) for p in files)
    found.sort(key=lambda t: (t[0], t[1]))
    listing.samples = [Sample(sample_id, code, None, path) for code, sample_id, path in found]
    return listing

"""Per-class mean OpenFace action units, the GANimation targets of the paper (``emobench prepare-aus``).

The paper conditioned GANimation on, per emotion, the mean OpenFace AU intensities of 500
training images of that class. :func:`class_means` reads an OpenFace CSV (one row per image, the
``AU01_r`` … ``AU45_r`` columns; rows with ``success = 0`` are left out), labels each row from its
``label`` column or, through an image column (``image``, ``file``, ``filename``, ``name``,
``input`` or ``path``), from a dataset's labels, draws at most ``per_class`` rows per class
(seeded), and averages. :func:`write_targets` writes one row per class — ``label, n, AU01_r …``
on OpenFace's 0–5 scale — which the ``ganimation`` card reads as ``au_csv``.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> src = Path(tempfile.mkdtemp()) / "openface.csv"
    >>> cols = ",".join(f"{au}_r" for au in AUS)
    >>> _ = src.write_text(f"label,{cols}\\nhappy,{','.join(['1'] * 17)}\\nhappy,{','.join(['3'] * 17)}\\n")
    >>> means = class_means(src, per_class=500)
    >>> means.counts["happy"], means.values["happy"][0]
    (2, 2.0)
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from emobench.atomic import atomic_file
from emobench.errors import UserError
from emobench.labels import EMOTIONS, parse_label

# GANimation's 17 action units (emobench.editors.ganimation.AUS, repeated so this module needs no torch).
AUS = ("AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15", "AU17", "AU20",
       "AU23", "AU25", "AU26", "AU45")
IMAGE_COLUMNS = ("image", "file", "filename", "name", "input", "path")


@dataclass
class ClassMeans:
    """Mean AU intensities (0–5) per class name, how many rows each mean used, and what was left out."""

    values: dict[str, list[float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    available: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)  # "no face (success = 0)", "no label", ...


def _key(text: str) -> str:
    return Path(text.strip().replace("\\", "/")).with_suffix("").as_posix().lower()


def class_means(path: str | Path, *, per_class: int = 500, seed: int = 0,
                labels: Mapping[str, int] | None = None) -> ClassMeans:
    """Per-class means over at most ``per_class`` rows of each class (drawn with ``seed``; all if fewer).

    ``labels``: image id (or file stem) → AffectNet index, used when the CSV has no ``label`` column.
    """
    path = Path(path)
    if per_class < 1:
        raise UserError(f"--per-class: expected a positive number of images, got {per_class}")
    try:
        fh = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"{path}: cannot read the OpenFace CSV ({exc.strerror or exc})") from exc
    with fh:
        reader = csv.DictReader(fh)
        cols = {(c or "").strip(): c for c in (reader.fieldnames or [])}
        missing = [f"{au}_r" for au in AUS if f"{au}_r" not in cols]
        if missing:
            raise UserError(f"{path}: expected OpenFace's AU intensity columns {AUS[0]}_r ... {AUS[-1]}_r; missing "
                            f"{', '.join(missing)} (got {', '.join(list(cols)[:12])})")
        image_col = next((cols[c] for c in IMAGE_COLUMNS if c in cols), None)
        if "label" not in cols and (labels is None or image_col is None):
            raise UserError(f"{path}: no 'label' column; give one, or an image column ({', '.join(IMAGE_COLUMNS)}) "
                            "and --protocol to take the labels from its dataset")
        by_key = {}
        if labels is not None and "label" not in cols:
            for key, value in labels.items():
                by_key.setdefault(_key(key), value)
                by_key.setdefault(_key(Path(key).name), value)
        rows: dict[int, list[list[float]]] = {i: [] for i in range(len(EMOTIONS))}
        out = ClassMeans()
        for line, row in enumerate(reader, start=2):
            success = row.get(cols.get("success", ""), "1")
            if success is not None and success.strip() in ("0", "0.0"):
                out.left_out["no face (success = 0)"] = out.left_out.get("no face (success = 0)", 0) + 1
                continue
            if "label" in cols:
                try:
                    label = parse_label(row[cols["label"]] or "")
                except ValueError as exc:
                    raise UserError(f"{path}:{line}: label: {exc}") from exc
            else:
                image = (row.get(image_col) or "").strip() if image_col else ""
                label = by_key.get(_key(image), by_key.get(_key(Path(image).name)))
                if label is None:
                    out.left_out["not in the dataset"] = out.left_out.get("not in the dataset", 0) + 1
                    continue
            try:
                values = [float(row[cols[f"{au}_r"]]) for au in AUS]
            except (TypeError, ValueError) as exc:
                raise UserError(f"{path}:{line}: AU intensities must be numbers ({exc})") from exc
            if not all(math.isfinite(v) for v in values):
                raise UserError(f"{path}:{line}: AU intensities must be finite numbers")
            rows[label].append(values)
    rng = np.random.default_rng(seed)
    for index, name in enumerate(EMOTIONS):
        have = rows[index]
        out.available[name] = len(have)
        if not have:
            continue
        chosen = np.asarray(have) if len(have) <= per_class else \
            np.asarray(have)[np.sort(rng.choice(len(have), per_class, replace=False))]
        out.values[name] = [float(v) for v in chosen.mean(axis=0)]
        out.counts[name] = len(chosen)
    if not out.values:
        raise UserError(f"{path}: no usable row (left out: {out.left_out or 'none'})")
    return out


def write_targets(means: ClassMeans, path: str | Path) -> Path:
    """One row per class (``label, n, AU01_r …``), the file ``ganimation`` takes as ``au_csv``."""
    path = Path(path)
    with atomic_file(path, "w") as fh:
        writer = csv.writer(fh)
        writer.writerow(["label", "n"] + [f"{au}_r" for au in AUS])
        for name in EMOTIONS:
            if name in means.values:
                writer.writerow([name, means.counts[name]] + [f"{v:.6f}" for v in means.values[name]])
    return path

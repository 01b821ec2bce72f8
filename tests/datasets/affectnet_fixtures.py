"""Tiny AffectNet releases in each real layout, made from the London originals.

Each face is a London Set photo (shared data) shrunk to 256 px with its 68-point landmarks (from
its ``.tem`` template, tests/faces/tem.py). The CSV release pastes it on a blue canvas at the row's
face box, so a crop in the wrong place shows canvas; the npy release stores 224 px face crops with
``_exp/_val/_aro/_lnd.npy`` beside them, as AffectNet ships it today.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from emobench.datasets.affectnet import COLUMNS
from tests.faces.tem import ibug68_from_tem, read_tem, templated_photos

HEADER = ",".join(COLUMNS)
CANVAS = (40, 90, 160)  # the canvas colour around every CSV face
CANVAS_SIZE = 320
BOX = (30, 20, 256, 256)  # where the 256 px face sits in its canvas


@dataclass(frozen=True)
class Face:
    """A 256 px face photo and its 68 landmarks in its own pixels."""

    path: Path
    landmarks: np.ndarray


MARGIN = 0.08  # of the landmark box, on each side: a crop 20 px off reaches the canvas


def make_faces(shared_data: Path, out: Path) -> list[Face]:
    """The 12 London originals cut to their landmark box plus a margin, at 256 px, with landmarks."""
    faces = []
    for photo in templated_photos(shared_data / "london_orig" / "neutral_front"):
        points = ibug68_from_tem(read_tem(Path(photo).with_suffix(".tem")))
        centre, side = (points.min(0) + points.max(0)) / 2, (points.max(0) - points.min(0)).max() * (1 + 2 * MARGIN)
        x0, y0 = centre - side / 2
        with Image.open(photo) as img:
            face = img.convert("RGB").resize((256, 256), Image.Resampling.LANCZOS, box=(x0, y0, x0 + side, y0 + side))
        path = out / f"{Path(photo).stem}.png"
        face.save(path)
        faces.append(Face(path, (points - [x0, y0]) * (256 / side)))
    return faces


def _landmark_cell(points: np.ndarray) -> str:
    return ";".join(f"{v:.2f}" for v in points.reshape(-1))


def canvas(face: Face, out: Path) -> None:
    img = Image.new("RGB", (CANVAS_SIZE, CANVAS_SIZE), CANVAS)
    with Image.open(face.path) as f:
        img.paste(f.convert("RGB"), BOX[:2])
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out, quality=95)


def official(root: Path, faces: list[Face], *, per_class: int = 2, header: bool = True,
             images: str = "Manually_Annotated_Images", lists: str = "Manually_Annotated_file_lists",
             split: str = "validation") -> Path:
    """``root/<lists>/<split>.csv`` + images under ``root/<images>``, ``per_class`` rows of each code 0..10.

    Rows of codes 8..10 point at files that do not exist: they are left out before anyone looks.
    """
    lines = [HEADER] if header else []
    k = 0
    for code in range(11):
        for j in range(per_class):
            face = faces[k % len(faces)]
            rel = f"{100 + code}/{face.path.stem}_{j}.jpg"
            if code < 8:
                canvas(face, root / images / rel)
            k += 1
            marks = _landmark_cell(face.landmarks + BOX[:2])
            lines.append(f"{rel},{BOX[0]},{BOX[1]},{BOX[2]},{BOX[3]},{marks},{code},0.25,-0.5")
    (root / lists).mkdir(parents=True, exist_ok=True)
    (root / lists / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return root


def npy_release(root: Path, faces: list[Face], counts: dict[int, int], *, split_dir: str = "val_set") -> Path:
    """``root/<split_dir>/images/<n>.jpg`` (224 px face crops) + ``annotations/<n>_{exp,val,aro,lnd}.npy``
    with ``counts[code]`` images of each code, numbered as the release numbers them (not by class)."""
    images, notes = root / split_dir / "images", root / split_dir / "annotations"
    images.mkdir(parents=True, exist_ok=True)
    notes.mkdir(parents=True, exist_ok=True)
    n, k = 0, 0
    for code, count in counts.items():
        for _ in range(count):
            face = faces[k % len(faces)]
            k += 1
            with Image.open(face.path) as img:
                img.convert("RGB").resize((224, 224), Image.Resampling.LANCZOS).save(images / f"{n}.jpg", quality=95)
            scale = 224 / 256
            np.save(notes / f"{n}_exp.npy", np.array(str(code)))  # the release stores the code as text
            np.save(notes / f"{n}_val.npy", np.array("0.25"))
            np.save(notes / f"{n}_aro.npy", np.array("-0.5"))
            np.save(notes / f"{n}_lnd.npy", ((face.landmarks + 0.5) * scale - 0.5).reshape(-1))
            n += 1
    return root


def class_folders(root: Path, faces: list[Face], names: list[str], per_class: int = 2) -> Path:
    """``root/val_set/<name>/*.png`` with ``per_class`` face photos per folder."""
    for i, name in enumerate(names):
        for j in range(per_class):
            face = faces[(i * per_class + j) % len(faces)]
            (root / "val_set" / name).mkdir(parents=True, exist_ok=True)
            (root / "val_set" / name / face.path.name).write_bytes(face.path.read_bytes())
    return root

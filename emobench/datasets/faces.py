"""The ``align`` option shared by the image datasets (``affectnet``, ``folder``, ``london``).

``align``: ``none`` (the whole image, centre-squared), ``box`` (the data set's face box, then
centre-squared; only AffectNet's CSV has boxes), ``paper`` (the paper's crop from 68 landmarks:
FAN or the data set's own) or ``eyeline`` (YuNet, offline, the paper's mean framing); see
:mod:`emobench.faces.aligners`. ``landmarks`` (auto | fan | dataset) picks the paper's source;
``cache`` the folder of aligned faces (empty = ``$EMOBENCH_HOME/faces``). A photo is aligned once
per aligner, settings and size and read back from the cache afterwards.

Example:
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from emobench.imageio import save_png
    >>> p = Path(tempfile.mkdtemp()) / "a.png"; _ = save_png(torch.rand(3, 20, 30), p)
    >>> faces = FacePrep("none", "auto", "", has_boxes=False, has_landmarks=False, where="folder dataset")
    >>> faces.load(p, 16, FaceHints()).shape, faces.describe()["align"]
    (torch.Size([3, 16, 16]), 'none')
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emobench.datasets.base import DatasetError
from emobench.faces.aligners import AlignError, FaceHints, make_aligner
from emobench.faces.cache import CachedNoFace, FaceCache, default_root
from emobench.imageio import ImageReadError, load_image, square_resize, to_uint8

__all__ = ["FaceHints", "FacePrep"]

ALIGN_HELP = ("align: none (whole image) | box (the data set's face box) | paper (the paper's crop from 68 "
              "landmarks: FAN, or the data set's own) | eyeline (YuNet, offline)")



def _crop_box(image: torch.Tensor, box: tuple[int, int, int, int], where: str) -> torch.Tensor:
    _, h, w = image.shape
    x, y, bw, bh = box
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + bw, w), min(y + bh, h)
    if x1 - x0 < 8 or y1 - y0 < 8:
        raise ImageReadError(f"{where}: face box x={x} y={y} width={bw} height={bh} leaves "
                             f"{max(x1 - x0, 0)}x{max(y1 - y0, 0)} pixels of the {w}x{h} image; expected at least 8x8")
    return image[:, y0:y1, x0:x1]


class FacePrep:
    """Loads a dataset's photos as the ``align`` option says; counts aligned vs cached faces."""

    def __init__(self, align: str, landmarks: str, cache: str, *, has_boxes: bool, has_landmarks: bool,
                 where: str, device: str = "cpu"):
        if not isinstance(align, str) or not isinstance(landmarks, str) or not isinstance(cache, str):
            raise DatasetError(f"{where}: align, landmarks and cache must be strings; got {align!r}, {landmarks!r}, "
                               f"{cache!r}")
        try:
            self.aligner = make_aligner(align, landmarks=landmarks, dataset_landmarks=has_landmarks, device=device)
        except AlignError as exc:
            raise DatasetError(f"{where}: {exc}") from exc
        self.align = align
        self.where = where
        self.warnings: list[str] = []
        if align == "box" and not has_boxes:
            self.warnings.append(f"align=box: {where} has no face boxes; whole images were used (centre-squared)")
        self.used = "none" if align == "box" and not has_boxes else align
        self.cache = None
        if self.aligner is not None:
            self.cache = FaceCache(Path(cache).expanduser() if cache else default_root(), self.aligner.settings())
        self.aligned = 0  # faces aligned in this process (not read from the cache)
        self.failed = 0

    def describe(self) -> dict[str, Any]:
        """What was used, for the manifest: ``align`` and, for the face models, their settings and cache."""
        out: dict[str, Any] = {"align": self.used}
        if self.aligner is not None and self.cache is not None:
            out["aligner"] = self.aligner.settings()
            out["face_cache"] = str(self.cache.folder)
        return out

    def caption(self) -> str:
        """One line for captions: how the faces were cropped."""
        if self.aligner is None:
            return "Faces: CSV face box, centre-squared" if self.used == "box" else "Faces: whole images, centre-squared"
        s = self.aligner.settings()
        if s["align"] == "paper":
            source = "FAN (face-alignment), found twice" if s["landmarks"] == "fan" else "the data set's own landmarks"
            return f"Faces: the paper's crop (landmark box, square, eye line levelled) from {source}"
        return "Faces: eyeline (YuNet eyes on the paper's mean eye positions), not the paper's FAN crop"

    def stats(self) -> dict[str, int]:
        """``aligned`` (now), ``cached`` (read back), ``failed`` (no face) in this process."""
        return {"aligned": self.aligned, "cached": self.cache.hits if self.cache else 0, "failed": self.failed}

    def load(self, path: Path, resolution: int, hints: FaceHints, where: str | None = None) -> torch.Tensor:
        """``(3, resolution, resolution)`` float32 in [0, 1]; ``ValueError`` for no face (that sample's error)."""
        where = where or str(path)
        if self.aligner is None or self.cache is None:
            image = load_image(path)
            if self.used == "box" and hints.box is not None:
                image = _crop_box(image, hints.box, where)
            return square_resize(image, resolution)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ImageReadError(f"{where}: cannot read ({exc.strerror or exc})") from exc
        sha = hashlib.sha256(data).hexdigest()
        extra = ""
        if self.aligner.uses_hint_landmarks() and hints.landmarks is not None:
            extra = hashlib.sha256(np.asarray(hints.landmarks, np.float64).tobytes()).hexdigest()[:12]
        try:
            crop = self.cache.get(sha, resolution, extra)
        except CachedNoFace:
            self.failed += 1
            raise
        if crop is None:
            rgb = to_uint8(load_image(path))
            try:
                crop = self.aligner.align(rgb, hints, resolution, where)
            except ValueError as exc:
                self.failed += 1
                self.cache.put_noface(sha, resolution, str(exc), extra)
                raise
            self.cache.put(sha, resolution, crop, extra)
            self.aligned += 1
        return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float().div(255)

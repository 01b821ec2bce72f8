"""Aligners by name: how a dataset turns a photo into the face crop every method is given.

* ``paper`` — the paper's own crop (:func:`emobench.faces.paper.released_crop`) from 68 landmarks:
  FAN found twice as the released preprocessing did (``landmarks = "fan"``: needs face-alignment
  and its weights), or the landmarks the data set ships (``landmarks = "dataset"``: AffectNet's CSV
  ``facial_landmarks`` or the npy release's ``_lnd.npy``).
* ``eyeline`` — offline: YuNet's eye landmarks (averaged over scales and a mirror), the eye line
  levelled and the eyes put where the paper's crop puts them on average
  (:data:`emobench.faces.align.PAPER_EYES_128`), reflect padding. One similarity per face, so
  faces keep their aspect ratio; the paper's crop scales each face by its own landmark box.

``none`` and ``box`` (the data set's face box) are the two ways without a face model; datasets
handle them. A face that cannot be found raises :class:`~emobench.faces.detect.NoFaceError` (or
:class:`~emobench.faces.paper.LandmarkError`), both ``ValueError``: that sample's error.

Example:
    >>> make_aligner("eyeline", landmarks="auto", dataset_landmarks=False).name  # doctest: +SKIP
    'eyeline'
    >>> make_aligner("dlib", landmarks="auto", dataset_landmarks=False)
    Traceback (most recent call last):
    ...
    emobench.faces.aligners.AlignError: align must be one of none, box, paper, eyeline; got 'dlib'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

ALIGNS = ("none", "box", "paper", "eyeline")
LANDMARK_SOURCES = ("auto", "fan", "dataset")


class AlignError(ValueError):
    """An ``align`` / ``landmarks`` choice that cannot work here (says why and what to use instead)."""


@dataclass(frozen=True, eq=False)
class FaceHints:
    """What a data set knows of one photo's face: its box ``(x, y, width, height)`` and 68 landmarks
    ``(68, 2)``, both in the photo's pixels; ``None`` where it knows nothing."""

    box: tuple[int, int, int, int] | None = None
    landmarks: np.ndarray | None = None


class Aligner(ABC):
    """Photo (``(H, W, 3)`` uint8 RGB) in, ``(size, size, 3)`` uint8 face crop out."""

    name: ClassVar[str] = ""

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """JSON-able: everything that changes the crop (the cache key and the manifest entry)."""

    @abstractmethod
    def align(self, rgb: np.ndarray, hints: FaceHints, size: int, where: str) -> np.ndarray:
        """The crop; ``ValueError`` (``NoFaceError``/``LandmarkError``) when there is no face."""

    def uses_hint_landmarks(self) -> bool:
        """Whether the crop depends on the data set's landmarks (then they are part of the cache key)."""
        return False


class PaperAligner(Aligner):
    """The released preprocessing: landmark box, square, 224 px, eye line levelled, protocol size."""

    name = "paper"

    def __init__(self, landmarks: str, device: str = "cpu"):
        self.landmarks = landmarks
        self.device = device
        self._fan = None

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"align": "paper", "landmarks": self.landmarks, "version": 1}
        if self.landmarks == "fan":
            import face_alignment

            out["face_alignment"] = getattr(face_alignment, "__version__", "unknown")
        return out

    def uses_hint_landmarks(self) -> bool:
        return self.landmarks == "dataset"

    def align(self, rgb: np.ndarray, hints: FaceHints, size: int, where: str) -> np.ndarray:
        from emobench.faces.paper import LandmarkError, released_crop

        if self.landmarks == "fan":
            if self._fan is None:
                from emobench.faces.fan import FANLandmarker

                self._fan = FANLandmarker.create(self.device)
            return released_crop(rgb, None, size=size, relandmark=self._fan, where=where).image
        if hints.landmarks is None:
            raise LandmarkError(f"{where}: the data set gives no landmarks for this image (align=paper with "
                                "landmarks=dataset)")
        return released_crop(rgb, hints.landmarks, size=size, where=where).image


class EyelineAligner(Aligner):
    """YuNet eyes → the paper's mean eye positions, one similarity, reflect padding."""

    name = "eyeline"
    SCALES = (1.0, 0.75, 0.5)  # landmark averaging over scales and a mirror (YuNetDetector.refine)

    def __init__(self):
        from emobench.faces.detect import YuNetDetector
        from emobench.weights import sha256_file

        self._detector = YuNetDetector.from_weights()
        self._sha = sha256_file(self._detector.model_path)

    def settings(self) -> dict[str, Any]:
        from emobench.faces.align import PAPER_EYES_128

        return {"align": "eyeline", "detector": "yunet", "weights_sha256": self._sha, "scales": list(self.SCALES),
                "eyes_128": PAPER_EYES_128.tolist(), "policy": "largest", "version": 1}

    def align(self, rgb: np.ndarray, hints: FaceHints, size: int, where: str) -> np.ndarray:
        from emobench.faces.align import PAPER_EYES_128, eye_line_align
        from emobench.faces.face import choose_face

        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        face = choose_face(self._detector.detect(bgr), "largest", where)
        face = self._detector.refine(bgr, face, self.SCALES)
        return eye_line_align(rgb, face.landmarks, size, PAPER_EYES_128)


ALIGNERS: dict[str, type[Aligner]] = {"paper": PaperAligner, "eyeline": EyelineAligner}


def make_aligner(align: str, *, landmarks: str, dataset_landmarks: bool, device: str = "cpu") -> Aligner | None:
    """The aligner for ``align`` (``None`` for ``none``/``box``); ``landmarks`` picks the paper's source:
    ``auto`` = FAN when it can run here, else the data set's own landmarks when it has them.

    Raises :class:`AlignError` saying what is missing and what would work.
    """
    if align not in ALIGNS:
        raise AlignError(f"align must be one of {', '.join(ALIGNS)}; got {align!r}")
    if landmarks not in LANDMARK_SOURCES:
        raise AlignError(f"landmarks must be one of {', '.join(LANDMARK_SOURCES)}; got {landmarks!r}")
    if align in ("none", "box"):
        return None
    if align == "eyeline":
        return EyelineAligner()
    from emobench.faces.fan import fan_unavailable

    why_not_fan = fan_unavailable()
    if landmarks == "fan" or (landmarks == "auto" and why_not_fan is None):
        if why_not_fan is not None:
            raise AlignError(f"align=paper with landmarks=fan: {why_not_fan}")
        return PaperAligner("fan", device)
    if not dataset_landmarks:
        reason = "this data set has no landmarks of its own" + ("" if landmarks == "dataset" else f", and FAN cannot "
                                                                  f"run: {why_not_fan}")
        raise AlignError(f"align=paper needs 68 landmarks per face: {reason}. Use --set dataset.align=eyeline "
                         "(YuNet, offline, the paper's mean framing) or install face-alignment with its weights")
    return PaperAligner("dataset")

"""One call from a photo to an aligned face: detect, pick a face, (refine), warp.

``align_face`` aligns one photo: a loose eye-line crop
(``method="paper"``: eye line horizontal, eyes on ``EYE_TEMPLATE_128``, reflect padding) or the ArcFace
5-point crop (``method="arcface"``). No face, or several under ``policy="error"``, raises
:class:`~emobench.faces.detect.NoFaceError` naming the image; ``policy="largest"`` takes
the largest face. Datasets align through :mod:`emobench.faces.aligners` (the paper's own crop is
:mod:`emobench.faces.paper`).

Example:
    >>> import torch
    >>> align_face(torch.zeros(3, 64, 64), where="blank.png")  # doctest: +SKIP
    Traceback (most recent call last):
    ...
    emobench.faces.detect.NoFaceError: blank.png: no face found
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from emobench.faces.align import arcface_align, eye_line_align
from emobench.faces.face import Face, choose_face

METHODS = ("paper", "arcface")


@dataclass(frozen=True)
class AlignedFace:
    """The aligned ``(3, size, size)`` float [0,1] RGB image and the detection it came from."""

    image: torch.Tensor
    face: Face


def align_face(image: torch.Tensor, *, size: int = 128, method: str = "paper", policy: str = "largest",
               detector=None, refine: bool = True, where: str = "image") -> AlignedFace:
    """Detect, choose and align one face of a ``(3, H, W)`` float RGB image in [0, 1].

    ``detector``: anything with ``detect(bgr_uint8) -> list[Face]`` (default: YuNet from the
    weights manager); ``refine`` averages YuNet landmarks over scales and a mirror.
    """
    from emobench.imageio import to_uint8

    if method not in METHODS:
        raise ValueError(f"alignment method must be one of {', '.join(METHODS)}, got {method!r}")
    if policy not in ("largest", "error"):
        raise ValueError(f"face policy must be 'largest' or 'error', got {policy!r}")
    if detector is None:
        from emobench.faces.detect import YuNetDetector

        detector = YuNetDetector.from_weights()
    rgb = to_uint8(image)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    face = choose_face(detector.detect(bgr), policy, where)
    if refine and hasattr(detector, "refine"):
        face = detector.refine(bgr, face)
    warp = eye_line_align if method == "paper" else arcface_align
    out = warp(rgb, face.landmarks, size)
    tensor = torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1).float().div(255)
    return AlignedFace(tensor, face)

"""What every face detector returns and every aligner reads: one :class:`Face`, and how one is chosen.

Example:
    >>> import numpy as np
    >>> f = Face((0, 0, 10, 10), np.zeros((5, 2)), 0.9)
    >>> f.area, choose_face([f], "largest") is f
    (100, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class NoFaceError(ValueError):
    """No face (or, under the ``error`` policy, more than one) was found in an image."""


@dataclass(frozen=True)
class Face:
    """A detection: ``box`` (x, y, w, h) in pixels, ``landmarks`` (5, 2) x/y in pixels, ``score``."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]


def choose_face(faces: list[Face], policy: str, where: str = "image") -> Face:
    """Pick one face: ``largest`` (default policy) or ``error`` when there is not exactly one.

    Example:
        >>> f = Face((0, 0, 10, 10), np.zeros((5, 2)), 0.9)
        >>> choose_face([f], "error") is f
        True
    """
    if not faces:
        raise NoFaceError(f"{where}: no face found")
    if policy == "largest":
        return max(faces, key=lambda f: f.area)
    if policy == "error":
        if len(faces) > 1:
            raise NoFaceError(f"{where}: {len(faces)} faces found, expected one (policy 'error'; use 'largest')")
        return faces[0]
    raise ValueError(f"face policy must be 'largest' or 'error', got {policy!r}")

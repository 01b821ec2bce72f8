"""The paper's face crop, step by step as its released preprocessing (``align/align.py``) makes it.

From 68 iBUG landmarks of a photo (FAN in the paper; any 68-point source here):

1. the whole photo resized to 256 × 256 (not aspect-preserving), landmarks found on that copy;
2. the landmarks' bounding box (ints), squared by growing its short side by half the difference on
   each side (clamped at 0 like the released slicing), cut out and resized to 224 × 224;
3. landmarks found again on the 224 px face; the eye centres (means of points 36–41 and 42–47, as
   ints) give the angle that levels the eye line; the face is rotated by it, scale 1, reflect padding,
   as ``scipy.ndimage.affine_transform`` applies the released matrix (output → input, in row/column
   order: the rotation turns about the eye centre with x and y swapped, a quirk kept here because
   the paper's crops have it);
4. the 224 px face resized to the protocol size (the released loader's ``SmallestMaxSize`` +
   ``CenterCrop`` on a square, bilinear).

Where the landmarks come from a file rather than a detector, steps 1 and 3 map them through the
same resizes instead of finding them again (``relandmark=None``). :func:`released_crop` also
returns the whole warp as one 2×3 matrix (photo → crop), so a test can map ground-truth points.
The framing is tight — eyebrows to chin, ear to ear — with the eyes at about (35, 25) and (93, 25)
of a 128 px crop (:data:`emobench.faces.align.PAPER_EYES_128`).

Example:
    >>> import numpy as np
    >>> pts = np.zeros((68, 2)); pts[:, 0] = np.linspace(60, 200, 68); pts[:, 1] = np.linspace(70, 230, 68)
    >>> pts[36:42] = [100, 120]; pts[42:48] = [160, 120]
    >>> crop = released_crop(np.zeros((300, 300, 3), np.uint8), pts, size=128)
    >>> crop.image.shape, crop.eyes.round(1).tolist()
    ((128, 128, 3), [[40.4, 40.4], [88.2, 40.4]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

# The released code's working sizes: the first landmark pass runs on a 256 px copy of the photo,
# the face is cut and resized to 224 px, the loader resizes that to the model's 128.
FIRST_PASS = 256
FACE_SIZE = 224
_RIGHT_EYE, _LEFT_EYE = slice(36, 42), slice(42, 48)  # iBUG: 36-41 the image-left eye

Relandmark = Callable[[np.ndarray], Optional[np.ndarray]]


class LandmarkError(ValueError):
    """Landmarks that cannot make a crop (wrong shape, no area, eyes on top of each other)."""


@dataclass(frozen=True)
class PaperCrop:
    """``image`` (size × size × 3 uint8), ``matrix`` (2×3, photo pixel → crop pixel) and ``eyes``
    (2×2, the eye centres the crop was levelled on, in crop pixels; image-left eye first)."""

    image: np.ndarray
    matrix: np.ndarray
    eyes: np.ndarray


def _check(points: np.ndarray | None, where: str) -> np.ndarray:
    if points is None:
        raise LandmarkError(f"{where}: no face found")
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (68, 2) or not np.isfinite(points).all():
        raise LandmarkError(f"{where}: expected 68 finite (x, y) landmarks, got shape {points.shape}")
    return points


def _resize_matrix(sx: float, sy: float) -> np.ndarray:
    """3×3 map of pixel centres under a resize by (sx, sy): x' = (x + 0.5)·sx − 0.5."""
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])


def _apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ m[:2, :2].T + m[:2, 2]


def _resize(cv2, image: np.ndarray, width: int, height: int, *, linear: bool = False) -> np.ndarray:
    h, w = image.shape[:2]
    shrink = width < w or height < h
    flag = cv2.INTER_LINEAR if linear or not shrink else cv2.INTER_AREA
    return cv2.resize(image, (width, height), interpolation=flag)


def square_box(points: np.ndarray) -> tuple[int, int, int, int]:
    """The released square around landmarks: their int bounding box, the short side grown by
    ``(long − short) // 2`` on each side (the low edge clamped at 0), as ``(x1, y1, x2, y2)``.

    Example:
        >>> square_box(np.array([[10.7, 20.2], [50.1, 40.9]]))
        (10, 10, 50, 50)
    """
    x1, y1 = (max(int(v), 0) for v in points.min(0))
    x2, y2 = (max(int(v), 0) for v in points.max(0))
    offset = (max(x2 - x1, y2 - y1) - min(x2 - x1, y2 - y1)) // 2
    if x2 - x1 < y2 - y1:
        x1, x2 = max(x1 - offset, 0), x2 + offset
    elif x2 - x1 > y2 - y1:
        y1, y2 = max(y1 - offset, 0), y2 + offset
    return x1, y1, x2, y2


def level_matrix(points224: np.ndarray) -> np.ndarray:
    """3×3 forward map of the released eye-line rotation in the 224 px face (see the module doc).

    The released code builds ``cv2.getRotationMatrix2D(eye_centre, angle, 1)`` and hands it to
    ``scipy.ndimage.affine_transform``, which reads it as an output → input map over (row, column).
    Written back in (x, y) that is the inverse map below; its inverse is the forward map.

    Example:
        >>> pts = np.zeros((68, 2)); pts[36:42] = [80, 100]; pts[42:48] = [140, 100]
        >>> np.allclose(level_matrix(pts), np.eye(3))
        True
    """
    import cv2

    right = points224[_RIGHT_EYE].mean(0).astype(int)
    left = points224[_LEFT_EYE].mean(0).astype(int)
    d_y, d_x = right[1] - left[1], right[0] - left[0]
    if d_x == 0 and d_y == 0:
        raise LandmarkError("the two eye centres coincide; cannot level the eye line")
    angle = float(np.degrees(np.arctan2(d_y, d_x)) - 180)
    centre = (float((left[0] + right[0]) // 2), float((left[1] + right[1]) // 2))
    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    inverse = np.array([[m[1, 1], m[1, 0], m[1, 2]], [m[0, 1], m[0, 0], m[0, 2]], [0, 0, 1.0]])
    return np.linalg.inv(inverse)


def released_crop(image: np.ndarray, landmarks: np.ndarray | None, *, size: int = 128,
                  relandmark: Relandmark | None = None, where: str = "image") -> PaperCrop:
    """The paper's crop of an ``(H, W, 3)`` uint8 RGB photo.

    ``landmarks``: 68 points in the photo's pixels (ignored when ``relandmark`` is given: then the
    landmarks are found by ``relandmark(rgb_uint8) -> (68, 2) | None`` on the 256 px copy and again
    on the 224 px face, as the paper did with FAN). Raises :class:`LandmarkError` when there is no face.
    """
    import cv2

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"{where}: expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    h, w = image.shape[:2]
    to_256 = _resize_matrix(FIRST_PASS / w, FIRST_PASS / h)
    copy = _resize(cv2, image, FIRST_PASS, FIRST_PASS)
    if relandmark is not None:
        points = _check(relandmark(copy), f"{where} (first landmark pass, {FIRST_PASS} px copy)")
    else:
        points = _apply(to_256, _check(landmarks, where))
    x1, y1, x2, y2 = square_box(points)
    # Slicing clamps at the copy's far edges, as the released numpy slicing does.
    x2, y2 = min(x2, FIRST_PASS), min(y2, FIRST_PASS)
    if x2 - x1 < 2 or y2 - y1 < 2:
        raise LandmarkError(f"{where}: the landmarks' box ({x1}, {y1})-({x2}, {y2}) in the {FIRST_PASS} px copy "
                            "has no area")
    shift = np.array([[1, 0, -x1], [0, 1, -y1], [0, 0, 1.0]])
    to_224 = _resize_matrix(FACE_SIZE / (x2 - x1), FACE_SIZE / (y2 - y1)) @ shift
    face = _resize(cv2, copy[y1:y2, x1:x2], FACE_SIZE, FACE_SIZE)
    if relandmark is not None:
        points224 = _check(relandmark(face), f"{where} (second landmark pass, {FACE_SIZE} px face)")
    else:
        points224 = _apply(to_224, points)
    level = level_matrix(points224)
    # The released rotation: cubic spline, reflect padding (scipy's 'reflect' is OpenCV's BORDER_REFLECT).
    levelled = cv2.warpAffine(face, np.linalg.inv(level)[:2], (FACE_SIZE, FACE_SIZE),
                              flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
    # albumentations' SmallestMaxSize defaults to bilinear.
    out = levelled if size == FACE_SIZE else _resize(cv2, levelled, size, size, linear=True)
    to_out = _resize_matrix(size / FACE_SIZE, size / FACE_SIZE)
    eyes224 = np.stack([points224[_RIGHT_EYE].mean(0), points224[_LEFT_EYE].mean(0)])
    total = to_out @ level @ to_224 @ to_256
    return PaperCrop(np.ascontiguousarray(out), total[:2], _apply(to_out @ level, eyes224))

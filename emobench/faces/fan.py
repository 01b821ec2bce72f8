"""Optional face-alignment (FAN) backend — the detector/landmarker the paper's preprocessing used.

Needs the ``face-alignment`` package (``pip install face-alignment``, part of the ``paper``
extra); without it :func:`FANDetector.create` raises an ``ImportError`` that says so. FAN's 68
iBUG landmarks are reduced to the 5 points the rest of emobench uses (eye centres, nose
tip, mouth corners), in YuNet's order, so every aligner works with either backend.

Example:
    >>> import numpy as np
    >>> pts = np.zeros((68, 2)); pts[36:42] = [10, 20]; pts[42:48] = [30, 20]
    >>> five_from_68(pts)[:2].tolist()
    [[10.0, 20.0], [30.0, 20.0]]
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from emobench.faces.face import Face
from emobench.weights import MissingWeightError, get_asset, locate, missing_message, offline, torch_hub_dir

FAN_ASSETS = ("fan-2dfan4", "fan-s3fd")

# iBUG-68 indices: 36-41 right eye (image left), 42-47 left eye, 30 nose tip, 48/54 mouth corners.
_RIGHT_EYE, _LEFT_EYE, _NOSE, _MOUTH_R, _MOUTH_L = slice(36, 42), slice(42, 48), 30, 48, 54


def five_from_68(points: np.ndarray) -> np.ndarray:
    """``(68, 2)`` iBUG landmarks → ``(5, 2)``: image-left eye, image-right eye, nose, mouth corners."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"expected (68, 2) iBUG landmarks, got shape {points.shape}")
    return np.stack([points[_RIGHT_EYE].mean(0), points[_LEFT_EYE].mean(0), points[_NOSE],
                     points[_MOUTH_R], points[_MOUTH_L]])


class FANDetector:
    """face-alignment's SFD detector + 2-D FAN landmarks, exposed like :class:`YuNetDetector`."""

    def __init__(self, model):
        self._fa = model

    @classmethod
    def create(cls, device: str = "cpu") -> "FANDetector":
        try:
            import face_alignment
        except ImportError as exc:
            raise ImportError("the 'fan' face backend needs the face-alignment package: "
                              "pip install face-alignment (or pip install 'emobench[paper]'); "
                              "the default backend 'yunet' needs nothing extra") from exc
        kind = getattr(face_alignment.LandmarksType, "TWO_D", None) or face_alignment.LandmarksType._2D
        with fan_weights():
            try:
                return cls(face_alignment.FaceAlignment(kind, device=device, face_detector="sfd"))
            except OSError as exc:  # face-alignment's own download failed (no network, blocked URL)
                raise MissingWeightError(f"face-alignment could not fetch its weights ({type(exc).__name__}: "
                                         f"{exc}).\n" + "\n".join(missing_message(get_asset(n)) for n in FAN_ASSETS)
                                         ) from None

    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        """Every face in an ``(H, W, 3)`` uint8 BGR image, best score first."""
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 BGR image, got {image_bgr.shape} {image_bgr.dtype}")
        rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
        landmarks, scores, boxes = self._fa.get_landmarks_from_image(rgb, return_bboxes=True,
                                                                      return_landmark_score=True)
        if not landmarks:
            return []
        faces = []
        for pts, score, box in zip(landmarks, scores, boxes):
            x0, y0, x1, y1 = (float(v) for v in box[:4])
            conf = float(box[4]) if len(box) > 4 else float(np.mean(score))
            faces.append(Face((x0, y0, x1 - x0, y1 - y0), five_from_68(pts), conf))
        return sorted(faces, key=lambda f: -f.score)


@contextlib.contextmanager
def fan_weights() -> Iterator[None]:
    """Make face-alignment find its two files without a download where they already are.

    face-alignment loads them from torch hub's checkpoint folder (downloading when absent). Found there:
    nothing to do. Found in ``$EMOBENCH_WEIGHTS`` or the emobench cache: torch hub is pointed, for this
    block only, at a temporary folder linking to them. Missing with ``EMOBENCH_OFFLINE=1``: one clear error
    instead of face-alignment's download attempt.
    """
    found = {name: locate(name) for name in FAN_ASSETS}
    missing = [name for name, path in found.items() if path is None]
    hub = torch_hub_dir() / "checkpoints"
    if missing:
        if offline():
            raise MissingWeightError("\n".join(missing_message(get_asset(n)) for n in missing))
        yield  # face-alignment downloads what it lacks itself (its official URLs)
        return
    if all(path.parent == hub for path in found.values()):
        yield
        return
    import torch.hub

    previous = torch.hub.get_dir()
    with tempfile.TemporaryDirectory(prefix="emobench-fan-") as tmp:
        (Path(tmp) / "checkpoints").mkdir()
        for path in found.values():
            (Path(tmp) / "checkpoints" / path.name).symlink_to(path.resolve())
        torch.hub.set_dir(tmp)
        try:
            yield
        finally:
            torch.hub.set_dir(previous)


def fan_unavailable() -> str | None:
    """Why FAN cannot run here (``None`` when it can): face-alignment missing, or, offline, its weights.

    The weights are the assets ``fan-2dfan4`` and ``fan-s3fd`` (torch hub's cache, ``$EMOBENCH_WEIGHTS`` or
    the emobench cache, see :func:`fan_weights`); face-alignment downloads them itself unless
    ``EMOBENCH_OFFLINE=1``.

    Example:
        >>> isinstance(fan_unavailable(), (str, type(None)))
        True
    """
    try:
        import face_alignment  # noqa: F401
    except ImportError:
        return "the face-alignment package is not installed (pip install face-alignment, or 'emobench[paper]')"
    missing = [name for name in FAN_ASSETS if locate(name) is None]
    if missing and offline():
        return ("FAN weights are absent (" + "; ".join(missing_message(get_asset(n)).splitlines()[0] for n in missing)
                + ") and EMOBENCH_OFFLINE=1 forbids downloading them")
    return None


class FANLandmarker:
    """68 iBUG landmarks of the first face FAN finds (as the released preprocessing takes ``[0]``)."""

    def __init__(self, model):
        self._fa = model

    @classmethod
    def create(cls, device: str = "cpu") -> "FANLandmarker":
        return cls(FANDetector.create(device)._fa)

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        found = self._fa.get_landmarks_from_image(np.ascontiguousarray(rgb))
        if not found:
            return None
        return np.asarray(found[0], dtype=np.float64)[:, :2]

"""Face detection with 5 landmarks: YuNet through ``cv2.FaceDetectorYN`` (offline default).

Landmark order (YuNet's): right eye, left eye (from the viewer: the eye on the image's
left first), nose tip, right mouth corner, left mouth corner — the ArcFace template order.

Example:
    >>> import numpy as np
    >>> det = YuNetDetector.from_weights()  # doctest: +SKIP
    >>> det.detect(np.zeros((128, 128, 3), np.uint8))  # doctest: +SKIP
    []
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emobench.faces.face import Face
from emobench.weights import resolve


class YuNetDetector:
    """YuNet (OpenCV Zoo, 2023mar int8) face detector."""

    def __init__(self, model_path: Path, score_threshold: float = 0.6, nms_threshold: float = 0.3):
        import cv2

        # OpenCV's DNN logs "[ WARN:0@…] setPreferableTarget …" on stderr for every YuNet it builds: a message
        # about its own graph engine that users cannot act on. Errors still show.
        from cv2.utils import logging as cv_logging

        cv_logging.setLogLevel(cv_logging.LOG_LEVEL_ERROR)
        self._cv2 = cv2
        self.model_path = Path(model_path)
        self._net = cv2.FaceDetectorYN.create(str(model_path), "", (320, 320), score_threshold, nms_threshold, 50)

    @classmethod
    def create(cls, device: str = "cpu") -> "YuNetDetector":
        """The registry's constructor (``device`` unused: OpenCV runs on the CPU)."""
        return cls.from_weights()

    @classmethod
    def from_weights(cls, score_threshold: float = 0.6) -> "YuNetDetector":
        """The detector from the weights manager (asset ``yunet``)."""
        return cls(resolve("yunet"), score_threshold)

    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        """Every face in an ``(H, W, 3)`` uint8 BGR image, best score first."""
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 BGR image, got {image_bgr.shape} {image_bgr.dtype}")
        h, w = image_bgr.shape[:2]
        self._net.setInputSize((w, h))
        _, rows = self._net.detect(np.ascontiguousarray(image_bgr))
        if rows is None:
            return []
        faces = [Face(tuple(map(float, r[:4])), r[4:14].reshape(5, 2).astype(np.float64), float(r[14])) for r in rows]
        return sorted(faces, key=lambda f: -f.score)

    def refine(self, image_bgr: np.ndarray, face: Face, scales: tuple[float, ...] = (1.0, 0.75, 0.5)) -> Face:
        """Average ``face``'s landmarks over rescaled and mirrored copies of the image.

        The int8 YuNet's landmarks jitter by a few pixels; test-time averaging over scales and
        a horizontal flip roughly halves the eye error on the London photos.
        """
        cv2 = self._cv2
        estimates = []
        centre = np.array([face.box[0] + face.box[2] / 2, face.box[1] + face.box[3] / 2])
        for scale in scales:
            scaled = image_bgr if scale == 1.0 else cv2.resize(image_bgr, None, fx=scale, fy=scale,
                                                               interpolation=cv2.INTER_AREA)
            for flip in (False, True):
                view = np.ascontiguousarray(scaled[:, ::-1]) if flip else scaled
                found = self.detect(view)
                if not found:
                    continue
                marks = [f.landmarks.copy() for f in found]
                boxes = [np.array([f.box[0] + f.box[2] / 2, f.box[1] + f.box[3] / 2]) for f in found]
                if flip:
                    for m, b in zip(marks, boxes):
                        m[:, 0] = view.shape[1] - 1 - m[:, 0]
                        b[0] = view.shape[1] - 1 - b[0]
                    marks = [m[[1, 0, 2, 4, 3]] for m in marks]  # mirrored: left/right swap
                # The same person: the detection whose centre is nearest the original face.
                best = int(np.argmin([np.linalg.norm(b / scale - centre) for b in boxes]))
                estimates.append(marks[best] / scale)
        if not estimates:
            return face
        return Face(face.box, np.mean(estimates, axis=0), face.score)

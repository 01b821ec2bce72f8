"""Face alignment: ArcFace-style 5-point similarity warp, and the paper's eye-line crop.

Example:
    >>> import numpy as np
    >>> img = np.zeros((200, 200, 3), np.uint8)
    >>> arcface_align(img, ARCFACE_TEMPLATE * 1.5 + 20).shape
    (112, 112, 3)
"""

from __future__ import annotations

import numpy as np

# The standard 112×112 ArcFace/InsightFace landmark template (eyes, nose tip, mouth corners).
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def similarity_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2×3 least-squares similarity transform (rotation, uniform scale, shift) mapping src → dst.

    Umeyama's closed form; no RANSAC, so five clean landmarks always give the same answer.

    Example:
        >>> m = similarity_matrix(np.array([[0., 0], [1, 0]]), np.array([[0., 0], [0, 2]]))
        >>> np.round(m, 6).tolist()
        [[0.0, -2.0, 0.0], [2.0, 0.0, 0.0]]
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    scale = (sig * sign).sum() / (s ** 2).sum(1).mean()
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def arcface_align(image: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """Warp an ``(H, W, C)`` image so its 5 landmarks land on the ArcFace template (scaled to ``size``)."""
    import cv2

    m = similarity_matrix(landmarks, ARCFACE_TEMPLATE * (size / 112.0))
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


# Eye centres of a loose 128 px crop (eye line horizontal, the face about half the frame). Not the
# paper's framing, which is twice as tight: see PAPER_EYES_128.
EYE_TEMPLATE_128 = np.array([[49.0, 54.0], [79.0, 54.0]])

# Where the paper's crop (emobench.faces.paper.released_crop: landmark box, square, 224 px, eye
# line levelled, 128 px) puts the eyes: the mean over the 12 London originals with their
# landmark templates (tests/faces/test_paper_crop.py measures it; per face the spread is about
# ±3 px, as the released crop scales each face by its own landmark box).
PAPER_EYES_128 = np.array([[35.2, 24.0], [92.6, 24.0]])


def eye_line_matrix(landmarks: np.ndarray, size: int = 128, template: np.ndarray = EYE_TEMPLATE_128) -> np.ndarray:
    """The 2×3 warp that levels the eyes and puts them on ``template`` (given at 128 px, scaled to ``size``).

    Example:
        >>> m = eye_line_matrix(np.array([[35.2, 24.0], [92.6, 24.0]]), 256, PAPER_EYES_128)
        >>> np.round(m, 6).tolist()
        [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    """
    return similarity_matrix(np.asarray(landmarks)[:2], np.asarray(template) * (size / 128.0))


def eye_line_align(image: np.ndarray, landmarks: np.ndarray, size: int = 128,
                   template: np.ndarray = EYE_TEMPLATE_128) -> np.ndarray:
    """Eye line horizontal, eyes on ``template`` (reflect padding), square crop at ``size``.

    Example:
        >>> img = np.zeros((300, 300, 3), np.uint8)
        >>> eye_line_align(img, np.array([[100., 120], [160, 110], [0, 0], [0, 0], [0, 0]])).shape
        (128, 128, 3)
    """
    import cv2

    m = eye_line_matrix(landmarks, size, template)
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)

"""The paper's crop (emobench.faces.paper) against the released steps run literally, and on real photos.

The London originals and lisa_cc0 come with landmark templates (``.tem``); a 68-point stand-in made
from them (tests/faces/tem.py) drives the crop as a data set's own landmarks would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emobench.faces.align import PAPER_EYES_128
from emobench.faces.fan import fan_unavailable
from emobench.faces.paper import LandmarkError, level_matrix, released_crop, square_box
from tests.faces.tem import ibug68_from_tem, read_tem, templated_photos


def _photos(shared_data: Path) -> list[str]:
    photos = (templated_photos(shared_data / "london_orig" / "neutral_front")
              + templated_photos(shared_data / "lisa_cc0"))
    assert len(photos) == 16, "expected 12 London originals and 4 lisa_cc0 photos with .tem files"
    return photos


def _rgb(photo: str) -> np.ndarray:
    import cv2

    return np.ascontiguousarray(cv2.imread(photo)[:, :, ::-1])


def test_released_rotation_step_matches_scipy_as_the_released_code_calls_it():
    """``cv2.getRotationMatrix2D`` handed to ``scipy.ndimage.affine_transform`` (row/column order,
    output → input, reflect), written out as the released code does, against our warp."""
    import cv2
    from scipy import ndimage

    rng = np.random.default_rng(0)
    face = cv2.GaussianBlur(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8), (0, 0), 3)
    pts = np.zeros((68, 2))
    pts[36:42], pts[42:48] = [70.4, 96.2], [150.9, 80.7]  # a tilted eye line
    right, left = pts[36:42].mean(0).astype(int), pts[42:48].mean(0).astype(int)
    angle = np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])) - 180
    centre = (float((left[0] + right[0]) // 2), float((left[1] + right[1]) // 2))
    m = cv2.getRotationMatrix2D(centre, float(angle), scale=1.0)
    matrix = np.eye(3)
    matrix[:2, :2] = m[:, :2]
    offset = np.array([m[0, 2], m[1, 2], 0])
    reference = ndimage.affine_transform(face, matrix, offset, mode="reflect")
    forward = level_matrix(pts)
    ours = cv2.warpAffine(face, np.linalg.inv(forward)[:2], (224, 224),
                          flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
    assert np.abs(ours.astype(float) - reference.astype(float)).mean() < 0.5  # measured 0.07 (cubic vs spline)
    # A plain cv2 rotation about the eye centre is not what the released code does (6.3 here).
    plain = cv2.warpAffine(face, m, (224, 224), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    assert np.abs(plain.astype(float) - reference.astype(float)).mean() > 3
    eyes = np.stack([right, left]).astype(float) @ forward[:2, :2].T + forward[:2, 2]
    assert abs(eyes[0, 1] - eyes[1, 1]) < 1e-6  # the eye line comes out level


def test_square_box_as_released():
    assert square_box(np.array([[10.0, 5.0], [30.0, 45.0]])) == (0, 5, 40, 45)  # narrow: grown sideways, clamped at 0
    assert square_box(np.array([[10.0, 20.0], [50.0, 30.0]])) == (10, 5, 50, 45)  # wide: grown up and down
    with pytest.raises(LandmarkError, match="expected 68 finite"):
        released_crop(np.zeros((64, 64, 3), np.uint8), np.zeros((5, 2)))
    with pytest.raises(LandmarkError, match="no face found"):
        released_crop(np.zeros((64, 64, 3), np.uint8), None, relandmark=lambda rgb: None)
    with pytest.raises(LandmarkError, match="eye centres coincide"):
        released_crop(np.zeros((64, 64, 3), np.uint8), np.tile([[5.0, 5.0], [50.0, 60.0]], (34, 1)))


def test_paper_crop_from_landmarks_on_the_shared_photos(shared_data):
    """Eyes level, the ground-truth pupils where the crop says, and the London mean is PAPER_EYES_128."""
    london = []
    for photo in _photos(shared_data):
        tem = read_tem(Path(photo).with_suffix(".tem"))
        crop = released_crop(_rgb(photo), ibug68_from_tem(tem), size=128, where=photo)
        assert crop.image.shape == (128, 128, 3)
        truth = tem[:2] @ crop.matrix[:, :2].T + crop.matrix[:, 2]
        assert np.abs(truth - crop.eyes).max() < 1e-6
        assert abs(truth[0, 1] - truth[1, 1]) < 1.0, f"{photo}: eye line not level ({truth.round(2)})"
        assert 45 < truth[1, 0] - truth[0, 0] < 70, f"{photo}: {truth.round(1)}"  # the tight, ear-to-ear framing
        if "london_orig" in photo:
            london.append(truth)
    assert np.abs(np.mean(london, axis=0) - PAPER_EYES_128).max() < 0.1


def test_paper_crop_with_fan_puts_eyes_on_its_template(shared_data):
    """FAN found twice, as the released preprocessing: the true pupils within 2 px of the eye line the crop
    was levelled on."""
    reason = fan_unavailable()
    if reason is not None:
        pytest.skip(f"align=paper with FAN: {reason}")
    from emobench.faces.fan import FANLandmarker

    fan = FANLandmarker.create("cpu")
    for photo in _photos(shared_data):
        crop = released_crop(_rgb(photo), None, size=128, relandmark=fan, where=photo)
        truth = read_tem(Path(photo).with_suffix(".tem"))[:2]
        err = np.linalg.norm(truth @ crop.matrix[:, :2].T + crop.matrix[:, 2] - crop.eyes, axis=1)
        assert err.max() < 2.0, f"{photo}: eyes land {err.round(2)} px from the crop's eye line"

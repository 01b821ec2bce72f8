"""The ``align`` option of the image datasets: eyeline on real photos, the disk cache, no-face errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from emobench.datasets import DATASETS
from emobench.datasets.base import DatasetError
from emobench.faces.align import PAPER_EYES_128, eye_line_matrix
from emobench.faces.cache import CachedNoFace
from emobench.faces.detect import YuNetDetector
from emobench.faces.face import NoFaceError, choose_face
from emobench.faces.aligners import EyelineAligner
from emobench.imageio import save_png
from tests.faces.tem import read_tem, templated_photos


def _eyeline_errors(det: YuNetDetector, photo: str) -> np.ndarray:
    """Pixel distance, in the 128 px eyeline crop, between the template's pupils and PAPER_EYES_128."""
    import cv2

    image = cv2.imread(photo)
    face = det.refine(image, choose_face(det.detect(image), "largest", photo), EyelineAligner.SCALES)
    m = eye_line_matrix(face.landmarks, 128, PAPER_EYES_128)
    truth = read_tem(Path(photo).with_suffix(".tem"))[:2]
    return np.linalg.norm(truth @ m[:, :2].T + m[:, 2] - PAPER_EYES_128, axis=1)


def test_eyeline_puts_eyes_on_the_paper_template(shared_data):
    """London originals (12 people, full size) and lisa_cc0 (one person rotated and scaled).

    The paper's framing is tight (58 px between the eyes at 128 px): YuNet's landmark error, ~6% of
    that, is up to 3.5 px here (mean 1.8); on the looser EYE_TEMPLATE_128 the same detections are < 2 px.
    """
    det = YuNetDetector.from_weights()
    photos = (templated_photos(shared_data / "london_orig" / "neutral_front")
              + templated_photos(shared_data / "lisa_cc0"))
    assert len(photos) == 16
    errors = np.array([_eyeline_errors(det, photo) for photo in photos])
    assert errors.max() < 4.0, errors.round(2)
    assert errors.mean() < 2.0, errors.mean()


def _folder(tmp_path: Path, shared_data: Path, n: int = 2) -> Path:
    root = tmp_path / "faces"
    (root / "neutral").mkdir(parents=True)
    for photo in templated_photos(shared_data / "lisa_cc0")[:n]:
        shutil.copy(photo, root / "neutral" / Path(photo).name)
    return root


def test_second_run_reads_the_cache_without_detecting(tmp_path, shared_data, monkeypatch):
    root = _folder(tmp_path, shared_data)
    save_png(torch.full((3, 96, 96), 0.5), root / "neutral" / "blank.png")
    options = {"root": str(root), "align": "eyeline", "cache": str(tmp_path / "cache")}
    first = DATASETS.get("folder").from_config(options)
    faces = [s for s in first.samples() if s.path.stem != "blank"]
    blank = next(s for s in first.samples() if s.path.stem == "blank")
    crops = [first.load(s, 64) for s in faces]
    assert all(c.shape == (3, 64, 64) for c in crops)
    with pytest.raises(NoFaceError, match="blank.png: no face found"):  # that sample's error, not a centre crop
        first.load(blank, 64)
    assert first.face_stats() == {"aligned": 2, "cached": 0, "failed": 1}
    pngs = sorted((tmp_path / "cache").rglob("*.png"))
    assert len(pngs) == 2 and (pngs[0].parent.parent.parent / "settings.json").is_file()
    info = first.describe()
    assert info["align"] == "eyeline" and info["aligner"]["detector"] == "yunet"

    def no_detection(*args, **kwargs):
        raise AssertionError("detected again although the faces are cached")

    monkeypatch.setattr(YuNetDetector, "detect", no_detection)
    second = DATASETS.get("folder").from_config(options)
    again = [second.load(s, 64) for s in faces]
    assert all(torch.equal(a, b) for a, b in zip(crops, again))  # lossless PNG round trip
    with pytest.raises(CachedNoFace, match="no face found .*cached"):
        second.load(blank, 64)
    assert second.face_stats() == {"aligned": 0, "cached": 3, "failed": 1}
    # another size is another crop (aligned from the photo, so it needs the detector: here it fails)
    with pytest.raises(AssertionError, match="detected again"):
        second.load(faces[0], 32)


def test_align_option_errors(tmp_path, shared_data):
    root = _folder(tmp_path, shared_data, n=1)
    with pytest.raises(DatasetError, match=r"align must be one of none, box, paper, eyeline; got 'fan'"):
        DATASETS.get("folder").from_config({"root": str(root), "align": "fan"})
    with pytest.raises(DatasetError, match=r"landmarks must be one of auto, fan, dataset"):
        DATASETS.get("folder").from_config({"root": str(root), "align": "paper", "landmarks": "dlib"})
    with pytest.raises(DatasetError, match=r"align=paper needs 68 landmarks per face: this data set has no landmarks "
                                           r"of its own.*--set dataset.align=eyeline"):
        DATASETS.get("folder").from_config({"root": str(root), "align": "paper", "landmarks": "dataset"})
    ds = DATASETS.get("folder").from_config({"root": str(root), "align": "box"})
    assert ds.describe()["align"] == "none" and "has no face boxes" in ds.describe()["warnings"][0]


def test_london_aligns_sources_and_references_alike(tmp_path, shared_data):
    root = tmp_path / "london"
    for kind, folder in (("neutral", "neutral_front"), ("happy", "smiling_front")):
        (root / kind).mkdir(parents=True)
        photo = sorted((shared_data / "london_orig" / folder).glob("001_*.jpg"))[0]
        shutil.copy(photo, root / kind / "001.jpg")
    ds = DATASETS.get("london").from_config({"root": str(root), "align": "eyeline", "cache": str(tmp_path / "c")})
    (sample,) = ds.samples()
    src, ref = ds.load(sample, 64), ds.reference(sample, 1, 64)
    assert src.shape == ref.shape == (3, 64, 64)
    assert ds.face_stats()["aligned"] == 2 and ds.describe()["align"] == "eyeline"

"""Identity (CSIM) on the London set, YuNet + alignment on full-size photos, insightface ONNX signature."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pytest
import torch

from emobench.evaluators import EVALUATORS
from emobench.evaluators.base import EvalBatch
from emobench.faces.align import ARCFACE_TEMPLATE, EYE_TEMPLATE_128, eye_line_matrix, similarity_matrix
from emobench.faces.detect import YuNetDetector
from emobench.faces.face import NoFaceError, choose_face
from emobench.imageio import load_image


def read_tem(path: Path) -> np.ndarray:
    """Points of a Webmorph/Psychomorph .tem file (first line = count, then 'x y')."""
    lines = path.read_text().split("\n")
    n = int(lines[0])
    return np.array([[float(v) for v in line.split()] for line in lines[1:n + 1]])


def test_london_same_person_beats_different_person(shared_dir):
    """All 80 London people: neutral vs smiling of the same person beats every different-person pair ≥ 95%.

    Distributions: ``python tests/evaluators/data/london_identity_stats.py ../shared`` (docs/evaluators.md).
    """
    from tests.evaluators.data.london_identity_stats import london_csim

    sims, ids = london_csim(shared_dir)
    assert len(ids) == 80
    same = np.diag(sims)
    off = ~np.eye(len(ids), dtype=bool)
    ordered = (same[:, None] > sims)[off].mean()
    assert ordered >= 0.95, f"same {same.mean():.3f} vs different {sims[off].mean():.3f}"
    assert same.mean() - sims[off].mean() > 0.5


def test_identity_evaluator_self_similarity_and_cache():
    ev = EVALUATORS.get("identity").from_config({"on_no_face": "center"})  # the old behaviour, by name
    x = torch.rand(2, 3, 64, 64)
    batch = EvalBatch(x, x, torch.zeros(2, dtype=torch.long), torch.ones(2, dtype=torch.long), source_keys=["a", "b"])
    cols = ev.evaluate(batch)
    assert np.allclose(cols["csim"], 1.0, atol=1e-5)
    assert cols["face_detected"].tolist() == [0.0, 0.0]  # noise: no face, centre-crop policy
    assert cols["source_face_detected"].tolist() == [0.0, 0.0]
    assert len(ev.cache) == 2 and ev.cache.misses == 2
    again = ev.evaluate(batch)  # second pass: sources (and their detection flags) come from the cache
    assert ev.cache.hits == 2 and again["source_face_detected"].tolist() == [0.0, 0.0]
    for policy in ("exclude", "nan"):  # the default, and its older name: no CSIM without a face on both sides
        excluded = EVALUATORS.get("identity").from_config({"on_no_face": policy})
        assert np.isnan(excluded.evaluate(batch)["csim"]).all()
    assert EVALUATORS.get("identity").from_config({}).options.on_no_face == "exclude"
    with pytest.raises(ValueError, match="on_no_face must be one of exclude, center, nan, got 'drop'"):
        EVALUATORS.get("identity").from_config({"on_no_face": "drop"})


def test_csim_only_where_both_sides_are_aligned(shared_data):
    """A real face against a blank: that pair's CSIM is NaN (and its flags say why); aligned pairs keep theirs."""
    from emobench.imageio import load_image

    face = load_image(shared_data / "london_256" / "neutral" / "001.jpg")
    smile = load_image(shared_data / "london_256" / "happy" / "001.jpg")
    blank = torch.full_like(face, 0.5)
    sources = torch.stack([face, face, blank])
    edits = torch.stack([smile, blank, smile])
    batch = EvalBatch(sources, edits, torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long))
    cols = EVALUATORS.get("identity").from_config({}).evaluate(batch)
    assert cols["source_face_detected"].tolist() == [1.0, 1.0, 0.0]
    assert cols["face_detected"].tolist() == [1.0, 0.0, 1.0]
    assert cols["csim"][0] > 0.7 and np.isnan(cols["csim"][1:]).all()
    old = EVALUATORS.get("identity").from_config({"on_no_face": "center"}).evaluate(batch)
    assert np.isfinite(old["csim"]).all() and old["csim"][0] == pytest.approx(cols["csim"][0])


def test_synthetic_id_sees_rendered_faces():
    """The synthetic world's own identity net: same person across expressions vs other people, no detection."""
    from emobench.synthetic import Expression, identities, render_batch

    people = identities("test", 6)
    neutral = render_batch(people, [Expression.prototype("neutral")] * 6, 128)
    happy = render_batch(people, [Expression.prototype("happy")] * 6, 128)
    ev = EVALUATORS.get("identity").from_config({"backend": "synthetic-id"})
    same = ev.evaluate(EvalBatch(neutral, happy, torch.zeros(6, dtype=torch.long), torch.ones(6, dtype=torch.long)))
    other = ev.evaluate(EvalBatch(neutral, happy.roll(1, 0), torch.zeros(6, dtype=torch.long),
                                  torch.ones(6, dtype=torch.long)))
    assert same["csim"].min() > 0.9 and other["csim"].max() < 0.6
    assert np.isnan(same["face_detected"]).all() and np.isnan(same["source_face_detected"]).all()
    info = ev.info()
    assert info.backend == "synthetic-id" and info.settings["detect"] is False
    assert list(info.weights_sha256) == ["synthetic_identity.safetensors"]


def _templated_photos(folder):
    return [p for p in sorted(glob.glob(str(folder / "*.jpg"))) if Path(p).with_suffix(".tem").is_file()]


def _eye_errors(det, photo):
    """Pixel distance, in the 128-px paper crop, between the template's pupils and the crop's eye positions."""
    import cv2

    image = cv2.imread(photo)
    face = det.refine(image, choose_face(det.detect(image), "largest", photo))
    m = eye_line_matrix(face.landmarks, 128)
    truth = read_tem(Path(photo).with_suffix(".tem"))[:2]  # points 0, 1 of the 189-point template: the pupils
    return np.linalg.norm(truth @ m[:, :2].T + m[:, 2] - EYE_TEMPLATE_128, axis=1)


def test_paper_alignment_puts_eyes_on_the_template(shared_data):
    det = YuNetDetector.from_weights()
    photos = _templated_photos(shared_data / "london_orig" / "neutral_front")
    assert len(photos) == 12
    for photo in photos:
        err = _eye_errors(det, photo)
        assert err.max() < 2.0, f"{photo}: eyes land {err.round(2)} px from the template"


def test_alignment_is_stable_across_rotation_and_scale(shared_data):
    det = YuNetDetector.from_weights()
    for photo in _templated_photos(shared_data / "lisa_cc0"):
        err = _eye_errors(det, photo)
        assert err.max() < 2.0, f"{photo}: {err.round(2)}"


def test_face_policies():
    det = YuNetDetector.from_weights()
    assert det.detect(np.zeros((96, 96, 3), np.uint8)) == []
    with pytest.raises(NoFaceError, match="no face found"):
        choose_face([], "largest", "blank.png")
    with pytest.raises(ValueError, match="expected an \\(H, W, 3\\) uint8 BGR image"):
        det.detect(np.zeros((96, 96), np.uint8))


def test_insightface_backend_with_an_arcface_signature_onnx(tmp_path, monkeypatch):
    onnx = pytest.importorskip("onnx")

    class TinyArc(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 8, stride=8)
            self.fc = torch.nn.Linear(8 * 14 * 14, 512)

        def forward(self, x):
            return self.fc(self.conv(x).flatten(1))

    path = tmp_path / "w600k_tiny.onnx"
    torch.manual_seed(0)
    torch.onnx.export(TinyArc(), torch.zeros(1, 3, 112, 112), str(path), input_names=["input.1"],
                      output_names=["embedding"], dynamic_axes={"input.1": {0: "None"}}, dynamo=False)
    onnx.checker.check_model(onnx.load(str(path)))
    ev = EVALUATORS.get("identity").from_config({"backend": "insightface", "model": str(path), "detect": False})
    x = torch.rand(3, 3, 128, 128)
    y = x.clone()
    y[2] = torch.rand(3, 128, 128)
    cols = ev.evaluate(EvalBatch(x, y, torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long)))
    assert np.allclose(cols["csim"][:2], 1.0, atol=1e-5) and cols["csim"][2] < 0.999
    assert ev.info().backend == "insightface"
    # No model: insightface's default pack, looked for where insightface itself unpacks it.
    import shutil

    from emobench.weights import MissingWeightError

    home = path.parent / "home"
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(MissingWeightError, match=r"\.insightface/models/buffalo_l/w600k_r50\.onnx"):
        EVALUATORS.get("identity").from_config({"backend": "insightface", "detect": False})
    pack = home / ".insightface" / "models" / "buffalo_l"
    pack.mkdir(parents=True)
    shutil.copy(path, pack / "w600k_r50.onnx")
    ev = EVALUATORS.get("identity").from_config({"backend": "insightface", "detect": False})
    assert ev.model_path == pack / "w600k_r50.onnx"


def test_disk_cache_survives_a_new_evaluator_and_is_keyed_by_weights(tmp_path, monkeypatch):
    from emobench.evaluators.cache import FeatureCache, features_root

    monkeypatch.setenv("EMOBENCH_HOME", str(tmp_path))
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    batch = EvalBatch(x, x.flip(-1), torch.zeros(2, dtype=torch.long), torch.ones(2, dtype=torch.long),
                      source_keys=["k0", "k1"])
    first = EVALUATORS.get("identity").from_config({"disk_cache": True}).evaluate(batch)
    files = sorted(p.name for p in features_root().rglob("*.npy"))
    assert files == ["k0.npy", "k1.npy"]
    again = EVALUATORS.get("identity").from_config({"disk_cache": True})
    second = again.evaluate(batch)
    assert again.cache.hits == 2 and again.cache.misses == 0
    np.testing.assert_allclose(first["csim"], second["csim"])
    # another weights sha → another directory, never the old features
    other = FeatureCache(again.cache.backend, "0" * 64, disk=True)
    assert other.get("k0") is None
    # a torn file is recomputed, not trusted
    torn = next(features_root().rglob("k0.npy"))
    torn.write_bytes(b"\x93NUMPY")
    assert FeatureCache(again.cache.backend, again.cache.weights_sha256, disk=True).get("k0") is None


def test_fan_backend_is_optional_with_a_clear_error(monkeypatch):
    import sys

    from emobench.faces import make_detector
    from emobench.faces.fan import FANDetector, five_from_68

    monkeypatch.setitem(sys.modules, "face_alignment", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install face-alignment"):
        make_detector("fan")
    from emobench.registry import UnknownNameError

    with pytest.raises(UnknownNameError, match="unknown face detector 'dlib'"):
        make_detector("dlib")
    pts = np.arange(136, dtype=float).reshape(68, 2)
    five = five_from_68(pts)
    assert five.shape == (5, 2) and five[2].tolist() == pts[30].tolist()
    with pytest.raises(ValueError, match="68, 2"):
        five_from_68(np.zeros((5, 2)))

    class FakeFA:  # face-alignment's return layout: landmarks, scores, boxes (x0, y0, x1, y1, conf)
        def get_landmarks_from_image(self, rgb, return_bboxes, return_landmark_score):
            return [pts], [np.ones(68)], [np.array([1.0, 2.0, 11.0, 22.0, 0.9])]

    (face,) = FANDetector(FakeFA()).detect(np.zeros((32, 32, 3), np.uint8))
    assert face.box == (1.0, 2.0, 10.0, 20.0) and face.score == 0.9


def test_align_face_pipeline_on_a_full_photo(shared_data):
    from emobench.faces.pipeline import align_face

    det = YuNetDetector.from_weights()
    photo = _templated_photos(shared_data / "london_orig" / "neutral_front")[0]
    image = load_image(photo)
    image = torch.nn.functional.interpolate(image[None], scale_factor=0.4, mode="area")[0]  # keep it quick
    out = align_face(image, size=128, detector=det, refine=False, where=photo)
    assert out.image.shape == (3, 128, 128) and 0 <= out.image.min() and out.image.max() <= 1
    # the eyes of the aligned crop are level: re-detect and compare heights
    again = det.detect(np.ascontiguousarray((out.image.permute(1, 2, 0).numpy()[:, :, ::-1] * 255).astype(np.uint8)))
    assert again and abs(again[0].landmarks[0, 1] - again[0].landmarks[1, 1]) < 3
    arc = align_face(image, size=112, method="arcface", detector=det, refine=False)
    assert arc.image.shape == (3, 112, 112)
    with pytest.raises(NoFaceError, match="blank.png: no face found"):
        align_face(torch.zeros(3, 96, 96), detector=det, where="blank.png")
    with pytest.raises(ValueError, match="alignment method"):
        align_face(image, method="dlib", detector=det)


def test_several_faces_policy(shared_data):
    from emobench.faces.pipeline import align_face

    det = YuNetDetector.from_weights()
    small = load_image(shared_data / "london_256" / "neutral" / "001.jpg")
    big = torch.nn.functional.interpolate(small[None], scale_factor=1.5, mode="bilinear")[0].clamp(0, 1)
    canvas = torch.zeros(3, 384, 640)
    canvas[:, 64:320, 0:256] = small
    canvas[:, :384, 256:640] = big[:, :384, :384]
    with pytest.raises(NoFaceError, match="2 faces found, expected one"):
        align_face(canvas, detector=det, refine=False, policy="error", where="pair.png")
    out = align_face(canvas, detector=det, refine=False, policy="largest")
    assert out.face.box[0] > 256  # the larger (right) face


def test_mtcnn_backend_puts_eyes_on_the_template(shared_data):
    """MTCNN (facenet-pytorch weights, our torch cascade) on a quarter-size copy of each photo."""
    import cv2

    from emobench.faces import make_detector

    det = make_detector("mtcnn")
    photos = (_templated_photos(shared_data / "london_orig" / "neutral_front")
              + _templated_photos(shared_data / "lisa_cc0"))
    assert len(photos) == 16
    for photo in photos:
        image = cv2.imread(photo)
        scale = 0.25 if image.shape[0] > 1000 else 1.0
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        face = choose_face(det.detect(small), "largest", photo)
        assert face.score > 0.9
        m = eye_line_matrix(face.landmarks / scale, 128)
        truth = read_tem(Path(photo).with_suffix(".tem"))[:2]
        err = np.linalg.norm(truth @ m[:, :2].T + m[:, 2] - EYE_TEMPLATE_128, axis=1)
        assert err.max() < 2.0, f"{photo}: eyes land {err.round(2)} px from the template"
    assert det.detect(np.zeros((96, 96, 3), np.uint8)) == []
    ev = EVALUATORS.get("identity").from_config({"face_backend": "mtcnn"})
    assert "mtcnn/onet.pt" in ev.info().weights_sha256

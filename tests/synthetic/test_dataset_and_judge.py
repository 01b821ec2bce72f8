"""The synthetic dataset and the packaged synthetic judge."""

from __future__ import annotations

import pytest
import torch

from emobench.datasets import DATASETS
from emobench.datasets.base import DatasetError
from emobench.evaluators import EMOTION_BACKENDS
from emobench.labels import EMOTIONS
from emobench.synthetic import Expression, identities, render_batch
from emobench.synthetic.dataset import SyntheticTrainingSet
from emobench.weights import MissingWeightError


def test_registered_dataset_samples_and_references():
    ds = DATASETS.get("synthetic").from_config({"identities": 2})
    samples = ds.samples()
    assert len(samples) == 2 * len(EMOTIONS)
    assert samples[1].id == "test-0000-happy" and samples[1].person == "test-0000" and samples[1].label == 1
    neutral = samples[0]
    ref = ds.reference(neutral, 1, 32)
    assert torch.equal(ref, ds.load(samples[1], 32))  # the true edit is the same person smiling
    assert not torch.equal(ref, ds.load(neutral, 32))


def test_dataset_options_are_strict():
    with pytest.raises(TypeError, match="unknown option\\(s\\) people"):
        DATASETS.get("synthetic").from_config({"people": 3})
    with pytest.raises(DatasetError, match="split must be one of"):
        DATASETS.get("synthetic").from_config({"split": "val"})
    with pytest.raises(DatasetError, match="unknown emotion label 'hapy'"):
        DATASETS.get("synthetic").from_config({"classes": ["hapy"]})


def test_training_set_batch_matches_items():
    ts = SyntheticTrainingSet("train", n_identities=3, resolution=24, per_identity=4)
    images, labels = ts.batch([0, 5])
    assert torch.allclose(images[1], ts[5][0], atol=1e-6) and int(labels[1]) == ts[5][1]


def test_judge_recognises_held_out_faces():
    judge = EMOTION_BACKENDS.get("synthetic-judge").from_config({})
    people = identities("test", 6)
    pairs = [(p, c) for p in people for c in range(len(EMOTIONS))]
    faces = render_batch([p for p, _ in pairs], [Expression.prototype(c) for _, c in pairs], 128)
    probs = judge.predict_proba(faces)
    assert probs.shape == (len(pairs), 8)
    assert torch.allclose(probs.sum(1), torch.ones(len(pairs)), atol=1e-4)
    accuracy = float((probs.argmax(1) == torch.tensor([c for _, c in pairs])).float().mean())
    assert accuracy >= 0.9
    info = judge.info()
    assert info.backend == "synthetic-judge" and len(next(iter(info.weights_sha256.values()))) == 64


def test_judge_missing_weights_is_clear(tmp_path):
    with pytest.raises(MissingWeightError, match="emobench train judge"):
        EMOTION_BACKENDS.get("synthetic-judge").from_config({"weights": str(tmp_path / "nope.safetensors")})


@pytest.mark.parametrize("stage", ["judge", "standin", "identity"])
def test_synthetic_world_trainers_run_under_emobench_train(stage, tmp_path, capsys):
    from emobench.cli import main

    out = tmp_path / f"{stage}.safetensors"
    assert main(["train", stage, "--steps", "2", "--identities", "2", "--per-identity", "2", "--out", str(out)]) == 0
    assert out.is_file() and f"wrote {out}" in capsys.readouterr().out

"""Evaluator throughput at batch 32, 128 px, next to the libraries' own per-image paths.

Run (the numbers in docs/evaluators.md come from this command):
    python -m pytest benchmarks/test_evaluators_bench.py --benchmark-enable -q \
        --benchmark-columns=mean,rounds --benchmark-sort=name
images/s = 32 / mean. One torch thread (DESIGN §10). The ``hsemotion`` rows use a randomly
initialised timm EfficientNet-B2 with the HSEmotion architecture and input size (260 px):
speed depends on the architecture, not the weights, and the real files are not obtainable here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from emobench.evaluators import EVALUATORS
from emobench.evaluators.base import EvalBatch

N, SIZE = 32, 128
REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EMOBENCH_SHARED", REPO.parent / "shared")).resolve()
if (SHARED / "weights").is_dir():
    os.environ.setdefault("EMOBENCH_WEIGHTS", str(SHARED / "weights"))


@pytest.fixture(scope="module")
def shared_data():
    if not (SHARED / "data").is_dir():
        pytest.skip(f"shared data not found at {SHARED} (set EMOBENCH_SHARED)")
    return SHARED / "data"


@pytest.fixture(scope="module")
def batch(shared_data):
    torch.set_num_threads(1)
    from emobench.imageio import load_image

    files = sorted((shared_data / "london_256").glob("*/*.jpg"))[:N]
    faces = torch.nn.functional.interpolate(torch.stack([load_image(f) for f in files]), size=(SIZE, SIZE),
                                            mode="bilinear", antialias=True).clamp(0, 1)
    edits = (faces + 0.03 * torch.randn(faces.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    return EvalBatch(faces, edits, torch.zeros(N, dtype=torch.long), torch.ones(N, dtype=torch.long),
                     source_keys=[f"k{i}" for i in range(N)], references=faces.flip(-1))


def _run(benchmark, fn, rounds=3):
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("name,options", [
    ("quality", {"lpips": False}), ("quality", {}), ("quality", {"lpips_net": "vgg"}), ("paired", {}),
    ("emotion", {"backend": "fer-minixception"}), ("identity", {"cache_size": 0}), ("identity", {}),
], ids=["psnr+ssim", "quality-alex", "quality-vgg", "paired", "emotion-fer", "identity-sface-nocache",
        "identity-sface-cached"])
def test_evaluator_batch32(benchmark, batch, name, options):
    ev = EVALUATORS.get(name).from_config(options)
    out = _run(benchmark, lambda: ev.evaluate(batch))
    assert all(len(v) == N for v in out.values())


def test_piq_per_image_psnr_ssim(benchmark, batch):
    """piq called once per image (how per-image scores are often computed)."""
    import piq

    def once():
        return [(piq.psnr(e[None], s[None], data_range=1.0), piq.ssim(e[None], s[None], data_range=1.0))
                for e, s in zip(batch.edits, batch.sources)]

    _run(benchmark, once)


def test_lpips_per_image_alex(benchmark, batch):
    """lpips' own model called once per image."""
    from emobench.evaluators.lpips_net import build_lpips

    net = build_lpips("alex")

    def once():
        with torch.no_grad():
            return [net(e[None], s[None], normalize=True) for e, s in zip(batch.edits, batch.sources)]

    _run(benchmark, once)


@pytest.fixture(scope="module")
def hsemotion_b2(tmp_path_factory):
    timm = pytest.importorskip("timm")
    path = tmp_path_factory.mktemp("hse") / "enet_b2_8.pt"
    torch.save(timm.create_model("efficientnet_b2", num_classes=8), path)
    return path


def test_hsemotion_batched(benchmark, batch, hsemotion_b2):
    from emobench.evaluators.hsemotion import HSEmotionClassifier

    clf = HSEmotionClassifier.from_config({"model": "enet_b2_8", "path": str(hsemotion_b2)})
    _run(benchmark, lambda: clf.predict_proba(batch.edits), rounds=2)


def test_hsemotion_package_style_per_image(benchmark, batch, hsemotion_b2):
    """The hsemotion package's path: PIL image → torchvision Resize/ToTensor/Normalize → model, one at a time."""
    from torchvision import transforms

    from emobench.evaluators.hsemotion import load_whole_model
    from emobench.imageio import to_uint8

    model = load_whole_model(hsemotion_b2).eval()
    tf = transforms.Compose([transforms.Resize((260, 260)), transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    arrays = [to_uint8(img) for img in batch.edits]

    def once():
        with torch.no_grad():
            return [model(tf(Image.fromarray(a))[None]).softmax(1) for a in arrays]

    _run(benchmark, once, rounds=2)
    assert np.isfinite(once()[0].numpy()).all()

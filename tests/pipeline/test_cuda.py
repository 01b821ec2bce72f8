"""The CUDA paths: marked ``gpu``, skipped without CUDA (tests/conftest.py).

Run on a lent GPU by ``benchmarks/gpu_check.sh`` (prepared here by ``scripts/device_prepare.sh``);
docs/performance.md says what they measured. The released-code fixture is the reference for the
edit; run-to-run and overlap comparisons allow cuDNN's run-to-run rounding (1e-4 on metrics).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from emobench.building import resolve_device
from emobench.cards import apply_overrides, load_method, load_protocol
from emobench.editors.ldm.ddim import ddim_invert, ddim_sample
from emobench.editors.ldm.editor import LDMEditor
from emobench.editors.ldm.loading import load_ldm
from emobench.editors.ldm.schedule import ddim_timesteps
from emobench.runner import RunOptions, auto_batch_size, run
from emobench.store import read_manifest, read_run
from tests.released_match import assert_decodes_like_released

pytestmark = pytest.mark.gpu


@pytest.fixture()
def strict_fp32():
    """cuDNN convolutions and matmuls in full fp32 (PyTorch lets cuDNN use TF32 by default)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def test_cuda_edit_is_the_released_edit_in_strict_fp32(shared_dir, strict_fp32):
    ref = shared_dir / "reference" / "paper_ldm"
    if not (ref / "tiny.ckpt").is_file():
        pytest.skip(f"released-code LDM reference data not found in {ref}")
    inputs, expected = dict(np.load(ref / "inputs.npz")), dict(np.load(ref / "expected.npz"))
    model = load_ldm(ref / "tiny.ckpt", weights="ema", config=ref / "tiny_config.yaml").to("cuda").eval()
    x = torch.from_numpy(inputs["images"]).cuda()
    src = torch.from_numpy(inputs["source_labels"]).long().cuda()
    tgt = torch.from_numpy(inputs["target_labels_a"]).long().cuda()
    ts = ddim_timesteps(0.5, 40)
    with torch.no_grad():
        z0 = ddim_sample(model, ddim_invert(model, model.encode_images(x), src, ts, 3.0), tgt, ts, 3.0)
    assert_decodes_like_released(model.cpu(), z0.cpu(), expected["z0_g3_a"], expected["images_g3_a"],
                                 expected["codes_g3_a"])


def test_auto_batch_rows_are_measured_and_such_a_batch_runs():
    editor = LDMEditor.from_config({"checkpoint": "demo"}, device="cuda")
    rows = auto_batch_size(editor, "cuda")
    assert rows >= 1
    n = min(rows, 96)
    out = editor.edit(torch.rand(n, 3, 128, 128), [0] * n, [1] * n, ddim_steps=4)
    assert out.images.shape == (n, 3, 128, 128) and bool(torch.isfinite(out.images).all())


def test_device_auto_gives_this_process_its_gpu(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert resolve_device("auto") == "cuda:0"


def _close(a: dict, b: dict) -> bool:
    for key in (a.keys() | b.keys()) - {"runtime_s", "output_sha256"}:
        x, y = a.get(key), b.get(key)
        if isinstance(x, float) and isinstance(y, float):
            if not (math.isclose(x, y, rel_tol=1e-4, abs_tol=1e-4) or (math.isnan(x) and math.isnan(y))):
                return False
        elif x != y:
            return False
    return True


def test_overlapped_cuda_run_gives_the_serial_records(tmp_path):
    method, protocol = apply_overrides(load_method("ldm"), load_protocol("synthetic"),
                                       ["params.ddim_steps=6", "dataset.identities=2"])
    runs = {mode: run(method, protocol, RunOptions(out=tmp_path / mode, device="cuda", quiet=True, limit=20,
                                                   overlap=mode)) for mode in ("off", "on")}
    serial, overlapped = (read_run(runs[m].run_dir) for m in ("off", "on"))
    assert [r["request_id"] for r in overlapped] == [r["request_id"] for r in serial] and len(serial) == 20
    assert all(r["status"] == "ok" for r in serial + overlapped)
    assert all(_close(a, b) for a, b in zip(serial, overlapped))
    manifest = read_manifest(runs["on"].run_dir)
    assert manifest["timing"]["overlap"] is True and manifest["batch_size"] >= 1

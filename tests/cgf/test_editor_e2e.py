"""``ldm-cgf``: tuned U-Net lookup, shared inversion, equality with ``ldm`` for an untouched U-Net, CLI end to end."""

from __future__ import annotations

import json

import pytest
import torch

from emobench.cgf.config import CGFConfig
from emobench.editors.ldm.cgf_editor import CGFEditor
from emobench.train.cgf import save_tuned
from emobench.cli import main
from emobench.editors.ldm.editor import LDMEditor
from emobench.editors.ldm.model import checkpoint_sha256, load_checkpoint
from emobench.evaluators.base import EvaluatorInfo
from emobench.leakage import leakage_warnings

from .conftest import micro_model


def _tune_copy(model, out, target: str, sha: str, lambda_dir: float = 1.0, name: str | None = None):
    """A 'tuned' U-Net file that holds the base weights (so ldm-cgf must equal ldm)."""
    cfg = CGFConfig(target=target, lambda_dir=lambda_dir)
    path = out / (name or f"cgf-{target}.safetensors")
    save_tuned(model, path, cfg, sha, {"direction": {"backend": "standin", "weights_sha256": {"s.safetensors": "11" * 32},
                                                     "note": "STAND-IN for CLIP"}, "identity": None}, 0)
    return path


def test_errors_name_what_is_missing(tmp_path, micro_checkpoint):
    with pytest.raises(FileNotFoundError, match="emobench train cgf"):
        CGFEditor.from_config({"checkpoint": str(micro_checkpoint)})
    (tmp_path / "tuned").mkdir()
    with pytest.raises(FileNotFoundError, match="no CGF checkpoints"):
        CGFEditor.from_config({"checkpoint": str(micro_checkpoint), "tuned": str(tmp_path / "tuned")})
    _tune_copy(micro_model(), tmp_path / "tuned", "happy", "ff" * 32)
    with pytest.raises(ValueError, match="tuned from base checkpoint ffffffffffff"):
        CGFEditor.from_config({"checkpoint": str(micro_checkpoint), "tuned": str(tmp_path / "tuned")})


def test_same_weights_give_the_ldm_edit_and_one_inversion_is_shared(tmp_path, micro_checkpoint):
    sha = checkpoint_sha256(micro_checkpoint)
    base = load_checkpoint(micro_checkpoint, weights="raw")
    for t in ("happy", "sad"):
        _tune_copy(base, tmp_path, t, sha)
    cgf = CGFEditor.from_config({"checkpoint": str(micro_checkpoint), "tuned": str(tmp_path)})
    ldm = LDMEditor.from_config({"checkpoint": str(micro_checkpoint), "weights": "raw"})
    images = torch.rand(2, 3, 32, 32)
    params = dict(ddim_steps=4, t0=300, guidance=1.0, cfg_in_inversion=False)
    calls = []
    original = cgf.invert
    cgf.invert = lambda *a, **k: calls.append(1) or original(*a, **k)
    out = cgf.edit_many(images, [0, 2], [[1, 2], [1]], seeds=[0, 1, 2], **params)
    ref = ldm.edit_many(images, [0, 2], [[1, 2], [1]], seeds=[0, 1, 2], **params)
    assert len(calls) == 1  # every target sampled from one inversion
    assert torch.allclose(out.images, ref.images, atol=1e-5)
    assert [u["tuned"] for u in out.used] == ["cgf-happy.safetensors", "cgf-sad.safetensors", "cgf-happy.safetensors"]
    with pytest.raises(ValueError, match="no tuned U-Net for fear"):
        cgf.edit(images[:1], [0], [4], **params)


def test_tuned_weights_change_only_their_target(tmp_path, micro_checkpoint):
    sha = checkpoint_sha256(micro_checkpoint)
    base = load_checkpoint(micro_checkpoint, weights="raw")
    _tune_copy(base, tmp_path, "sad", sha)
    with torch.no_grad():
        for p in base.unet.parameters():
            p.add_(0.05 * torch.randn_like(p))
    _tune_copy(base, tmp_path, "happy", sha)
    cgf = CGFEditor.from_config({"checkpoint": str(micro_checkpoint), "tuned": str(tmp_path)})
    ldm = LDMEditor.from_config({"checkpoint": str(micro_checkpoint), "weights": "raw"})
    images = torch.rand(1, 3, 32, 32)
    params = dict(ddim_steps=4, t0=300, guidance=1.0, cfg_in_inversion=False)
    a = cgf.edit_many(images, [0], [[1, 2]], **params).images
    b = ldm.edit_many(images, [0], [[1, 2]], **params).images
    assert not torch.allclose(a[0], b[0], atol=1e-4)  # happy: tuned weights
    assert torch.allclose(a[1], b[1], atol=1e-5)  # sad: base weights copy


def test_lambda_dir_selects_among_tunings(tmp_path, micro_checkpoint):
    sha = checkpoint_sha256(micro_checkpoint)
    base = load_checkpoint(micro_checkpoint, weights="raw")
    for lam in (0.0, 2.0):
        _tune_copy(base, tmp_path, "happy", sha, lambda_dir=lam, name=f"happy-l{lam:g}.safetensors")
    cgf = CGFEditor.from_config({"checkpoint": str(micro_checkpoint), "tuned": str(tmp_path)})
    assert cgf.tuned_for(1, 2.0).path.name == "happy-l2.safetensors"
    with pytest.raises(ValueError, match="several tuned U-Nets for happy"):
        cgf.tuned_for(1, -1.0)
    with pytest.raises(ValueError, match="lambda_dir=3"):
        cgf.tuned_for(1, 3.0)
    # A grid value no tuning has is refused when the run is planned, not once per request.
    with pytest.raises(ValueError, match=r"no tuned U-Net .* has lambda_dir=3 \(have: 0, 2\)"):
        cgf.parse_params({"lambda_dir": 3.0})
    assert cgf.parse_params({"lambda_dir": 2.0}).lambda_dir == 2.0


def test_leakage_guard_names_shared_weights(tmp_path, micro_checkpoint):
    sha = checkpoint_sha256(micro_checkpoint)
    _tune_copy(load_checkpoint(micro_checkpoint, weights="raw"), tmp_path, "happy", sha)
    identity = CGFEditor.from_config({"checkpoint": str(micro_checkpoint), "tuned": str(tmp_path)}).identity()
    same = EvaluatorInfo("emotion", "synthetic-judge", {"j.safetensors": "11" * 32})
    other = EvaluatorInfo("emotion", "synthetic-judge", {"j.safetensors": "22" * 32})
    warn = leakage_warnings(identity, [same])
    assert any(w.startswith("LEAKAGE: the editor was tuned with its direction loss network standin") for w in warn)
    assert not any(w.startswith("LEAKAGE") for w in leakage_warnings(identity, [other]))
    assert any("STAND-IN for CLIP" in w for w in leakage_warnings(identity, [other]))


def test_precompute_finetune_run_end_to_end(tmp_path, micro_checkpoint, micro_standin, monkeypatch, capsys):
    """CI's end-to-end: precompute → tune one target a few steps → run ldm-cgf on synthetic → records."""
    monkeypatch.setenv("EMOBENCH_HOME", str(tmp_path / "home"))
    cfg = tmp_path / "cgf.toml"
    cfg.write_text(f"""[cgf]
checkpoint = "{micro_checkpoint}"
per_class = 2
ddim_steps = 4
n_latents = 8
tune_steps = 3
batch_size = 2
max_steps = 2
lr = 1e-3
scale_lr = false
direction = "standin:{micro_standin}"
identity = "standin:{micro_standin}"
[data]
dataset = "synthetic"
split = "train"
identities = 2
per_identity = 8
""")
    tuned = tmp_path / "tuned"
    assert main(["train", "cgf", "--config", str(cfg), "--target", "happy", "--out", str(tuned), "--quiet"]) == 0
    assert (tuned / "cgf-happy-ldir1.safetensors").is_file()
    runs = tmp_path / "runs"
    code = main(["run", "--quiet", "--method", "ldm-cgf", "--protocol", "synthetic", "--out", str(runs),
                 "--set", f"checkpoint={micro_checkpoint}", "--set", f"tuned={tuned}", "--set", "targets=happy",
                 "--set", "ddim_steps=4", "--set", "dataset.identities=1", "--limit", "3"])
    assert code == 0
    run_dir = next((runs / "synthetic" / "ldm-cgf").iterdir())
    rows = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(r["status"] == "ok" for r in rows)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert any("STAND-IN" in w for w in manifest["warnings"])
    assert manifest["config"]["method"]["identity"]["tuned"][0]["target"] == "happy"

"""Latent precomputation (cache, resume, plan check) and the finetuning loop (resume, checkpoint metadata)."""

from __future__ import annotations

import json

import pytest
import torch

from emobench.cgf.config import CGFConfig
from emobench.cgf.encoders import build_direction, build_identity
from emobench.train.cgf_latents import latent_key, precompute
from emobench.cgf.losses import CGFLoss
from emobench.train.cgf import finetune, subset_indices
from emobench.train import cgf as train_mod
from emobench.train.data import TrainingData

from .conftest import micro_model

DATA = {"dataset": "synthetic", "split": "train", "identities": 2, "per_identity": 8}


def _cfg(**kw) -> CGFConfig:
    base = dict(per_class=2, ddim_steps=4, n_latents=6, tune_steps=3, batch_size=2, max_steps=2, lr=1e-3,
                scale_lr=False, direction="standin", identity="standin", log_every=1, data=DATA)
    return CGFConfig(**{**base, **kw})


def _data():
    return TrainingData.from_config(DATA, 32)


def test_precompute_shards_resume_and_plan_check(tmp_path):
    model = micro_model()
    cfg = _cfg()
    data = _data()
    lat = precompute(model, "ab" * 32, cfg, data, tmp_path, shard_size=4, quiet=True)
    n = len(lat)
    assert lat.z.shape == (n, 3, 8, 8) and lat.recon.shape == (n, 3, 32, 32)
    assert lat.recon.min() >= 0 and lat.recon.max() <= 1
    shards = sorted(lat.directory.glob("shard-*.safetensors"))
    assert len(shards) == (n + 3) // 4
    # A killed run left the last shard unwritten: only that one is recomputed, the rest is reused as is.
    first_mtime = shards[0].stat().st_mtime_ns
    shards[-1].unlink()
    again = precompute(model, "ab" * 32, cfg, data, tmp_path, shard_size=4, quiet=True)
    assert shards[0].stat().st_mtime_ns == first_mtime
    assert torch.allclose(again.z, lat.z, atol=1e-5) and again.ids == lat.ids
    # The cache key ignores the target but not the checkpoint or the settings.
    assert latent_key("ab" * 32, cfg) == latent_key("ab" * 32, _cfg(target="sad"))
    assert latent_key("ab" * 32, cfg) != latent_key("cd" * 32, cfg)
    assert latent_key("ab" * 32, cfg) != latent_key("ab" * 32, _cfg(t0=400))
    # Same folder, another plan (e.g. a changed shard size): refuse instead of mixing.
    with pytest.raises(ValueError, match="another plan"):
        precompute(model, "ab" * 32, cfg, data, tmp_path, shard_size=2, quiet=True)


def test_subset_draws_from_all_classes_or_excludes_the_target():
    labels = torch.tensor([1, 1, 0, 2, 3, 1, 4])
    idx = subset_indices(labels, _cfg(n_latents=3, subset="non_target"), target_label=1)
    assert len(idx) == 3 and all(int(labels[i]) != 1 for i in idx)
    # The released loader: random.sample over all precomputed latents, the target's class included.
    assert subset_indices(labels, _cfg(n_latents=7), target_label=1) == list(range(7))


def test_validation_latents_are_held_out_and_select_the_best_step(tmp_path, tuned_setup):
    from emobench.train.cgf import validation_indices
    from safetensors import safe_open

    model, cfg, lat, loss = tuned_setup
    tuning = subset_indices(lat.labels, cfg, 1)
    val = validation_indices(lat.labels, tuning, cfg, 1)
    assert val and not set(val) & set(tuning)
    lines: list[str] = []
    path = finetune(model, lat, _cfg(direction=cfg.direction, identity=cfg.identity, max_steps=3, val_every=1),
                    loss, tmp_path / "sel", "ab" * 32, log=lines.append)
    with safe_open(str(path), framework="pt") as fh:
        selection = json.loads(fh.metadata()["selection"])
    losses = [v for _, v in selection["validation"]]
    assert selection["select"] == "val_loss" and len(losses) == 3
    assert selection["selected_step"] == 1 + losses.index(min(losses))
    with pytest.raises(ValueError, match="held-out latents"):
        finetune(model, lat, _cfg(direction=cfg.direction, identity=cfg.identity, n_latents=10**6), loss,
                 tmp_path / "none", "ab" * 32, log=lambda s: None)


@pytest.fixture()
def tuned_setup(tmp_path, micro_standin):
    model = micro_model()
    cfg = _cfg(direction=f"standin:{micro_standin}", identity=f"standin:{micro_standin}")
    lat = precompute(model, "ab" * 32, cfg, _data(), tmp_path / "cache", quiet=True)
    loss = CGFLoss(cfg.loss_weights, build_direction(cfg.direction), build_identity(cfg.identity))
    return model, cfg, lat, loss


def test_finetune_writes_a_tuned_unet_with_its_provenance(tmp_path, tuned_setup):
    model, cfg, lat, loss = tuned_setup
    before = {k: v.clone() for k, v in model.unet.state_dict().items()}
    path = finetune(model, lat, cfg, loss, tmp_path / "out", "ab" * 32, log=lambda s: None)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
        keys = list(fh.keys())
    assert path.name == "cgf-happy-ldir1.safetensors" and all(k.startswith("unet.") for k in keys)
    assert meta["format"] == "emobench-cgf" and meta["base_checkpoint_sha256"] == "ab" * 32
    assert json.loads(meta["cgf_config"])["target"] == "happy" and meta["steps"] == "2"
    assert json.loads(meta["loss_networks"])["direction"]["backend"] == "standin"
    changed = any(not torch.equal(before[k], v) for k, v in model.unet.state_dict().items())
    assert changed
    # The first stage and the label embedder are frozen.
    assert all(not p.requires_grad for p in model.first_stage.parameters())
    assert all(not p.requires_grad for p in model.cond.parameters())


def test_finetune_resumes_after_a_kill(tmp_path, tuned_setup, monkeypatch):
    model, cfg, lat, loss = tuned_setup
    out = tmp_path / "out"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed before the final checkpoint")

    monkeypatch.setattr(train_mod, "save_tuned", killed)
    with pytest.raises(KeyboardInterrupt):
        finetune(model, lat, cfg, loss, out, "ab" * 32, log=lambda s: None)
    assert (out / "cgf-happy-ldir1.state.pt").is_file()
    monkeypatch.undo()
    lines: list[str] = []
    finetune(model, lat, _cfg(direction=cfg.direction, identity=cfg.identity, max_steps=3), loss, out, "ab" * 32,
             resume=True, log=lines.append)
    assert lines[0] == "resumed happy at step 2/3"
    assert sum("step 3/3" in s for s in lines) == 1 and not (out / "cgf-happy-ldir1.state.pt").exists()

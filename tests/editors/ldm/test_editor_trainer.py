"""The ldm editor's contract and the trainers (tiny sizes, CPU)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from emobench.editors import EDITORS
from emobench.train.ldm import TrainConfig, diffusion_loss, train_ldm, train_vqgan
from tests.editors.ldm.conftest import micro_model

FAST = {"ddim_steps": 4, "t0": 300}


@pytest.fixture()
def editor(micro_checkpoint):
    return EDITORS.get("ldm").from_config({"checkpoint": str(micro_checkpoint)})


def test_edit_shapes_range_and_determinism(editor):
    x = torch.rand(2, 3, 48, 48)
    a = editor.edit(x, [0, 2], [1, 3], seeds=[1, 2], **FAST)
    b = editor.edit(x, [0, 2], [1, 3], seeds=[1, 2], **FAST)
    assert a.images.shape == x.shape and a.images.dtype == torch.float32
    assert float(a.images.min()) >= 0 and float(a.images.max()) <= 1
    assert torch.equal(a.images, b.images)
    assert a.used[0]["target_label"] == 1 and a.used[1]["source_label"] == 2


def test_batch_invariance(editor):
    x = torch.rand(4, 3, 32, 32)
    src, tgt = [0, 1, 2, 7], [1, 2, 3, 4]
    batch = editor.edit(x, src, tgt, seeds=[0, 1, 2, 3], **FAST).images
    for i in range(4):
        one = editor.edit(x[i:i + 1], [src[i]], [tgt[i]], seeds=[i], **FAST).images
        assert torch.allclose(batch[i], one[0], atol=1e-5)


def test_shared_inversion_equals_per_target_inversion(editor):
    x = torch.rand(2, 3, 32, 32)
    targets = [[1, 2, 3], [4, 6]]
    shared = editor.edit_many(x, [0, 5], targets, **FAST).images
    rows = [(i, t) for i, ts in enumerate(targets) for t in ts]
    for k, (i, t) in enumerate(rows):
        single = editor.edit(x[i:i + 1], [[0, 5][i]], [t], seeds=[k], **FAST).images
        assert torch.allclose(shared[k], single[0], atol=1e-5)


def test_eta_uses_per_sample_seeds(editor):
    x = torch.rand(1, 3, 32, 32).repeat(2, 1, 1, 1)
    out = editor.edit(x, [0, 0], [1, 1], seeds=[3, 4], eta=1.0, **FAST).images
    assert not torch.equal(out[0], out[1])


def test_bad_params_and_inputs(editor):
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(TypeError, match="unknown option\\(s\\) gamma; accepted: ddim_steps=40, t0=500, guidance=3.0"):
        editor.edit(x, [0], [1], gamma=2)
    with pytest.raises(ValueError, match="t0 must be in 1..1000"):
        editor.edit(x, [0], [1], t0=0)
    with pytest.raises(ValueError, match="expected values in \\[0, 1\\]"):
        editor.edit(x * 3, [0], [1])
    with pytest.raises(FileNotFoundError, match="not found"):
        EDITORS.get("ldm").from_config({"checkpoint": "/nonexistent.safetensors"})


def test_identity_records_the_checkpoint_sha(editor, micro_checkpoint):
    from emobench.weights import sha256_file

    assert editor.identity()["checkpoint_sha256"] == sha256_file(micro_checkpoint)


def test_a_trainer_step_lowers_the_loss_on_a_fixed_batch():
    m = micro_model().train()
    z0, y = torch.randn(8, 3, 8, 8), torch.randint(0, 8, (8,))
    opt = torch.optim.AdamW(list(m.unet.parameters()) + list(m.cond.parameters()), lr=1e-3)
    first = None
    for _ in range(12):
        loss = diffusion_loss(m, z0, y, torch.Generator().manual_seed(0))
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert diffusion_loss(m, z0, y, torch.Generator().manual_seed(0)).item() < first


def _tiny_cfg(**kw) -> TrainConfig:
    overrides = {"first_stage_config": {"resolution": 32, "ch": 8, "ch_mult": [1, 1, 2], "num_res_blocks": 1,
                                        "attn_resolutions": [], "n_embed": 32},
                 "unet": {"model_channels": 16, "channel_mult": [1, 2], "num_res_blocks": 1,
                          "attention_levels": [1], "num_head_channels": 8, "context_dim": 32}}
    base = TrainConfig(steps=2, batch_size=4, lr=1e-3, log_every=1, val_every=2, ckpt_every=2, val_size=8,
                       lpips_weight=0.0, data={"dataset": "synthetic", "split": "train", "identities": 2,
                                               "per_identity": 4}, overrides=overrides)
    return replace(base, **kw)


def test_vqgan_then_ldm_training_resume_continues_the_step_count(tmp_path):
    lines: list[str] = []
    stage = train_vqgan(_tiny_cfg(), tmp_path / "vq", log=lines.append)
    assert (tmp_path / "vq" / "recon_0000002.png").is_file()
    ldm_dir = tmp_path / "ldm"
    train_ldm(_tiny_cfg(first_stage=str(stage)), ldm_dir, log=lines.append)
    assert (ldm_dir / "samples_0000002.png").is_file()
    lines.clear()
    ck = train_ldm(_tiny_cfg(first_stage=str(stage), steps=3, val_every=100, ckpt_every=100), ldm_dir, resume=True,
                   log=lines.append)
    assert lines[0] == "resumed at step 2" and any("step 3/3" in l for l in lines)
    # a resumed leg runs at the config's lr, not the saved optimizer's (so a second leg can anneal)
    train_vqgan(_tiny_cfg(steps=3, lr=1e-4, scale_lr=False, val_every=100, ckpt_every=1), tmp_path / "vq", resume=True,
                log=lines.append)
    saved = torch.load(tmp_path / "vq" / "last.optim.pt", weights_only=True)
    assert {g["lr"] for g in saved["opt"]["param_groups"] + saved["opt_d"]["param_groups"]} == {1e-4}
    from emobench.editors.ldm.model import read_metadata

    assert read_metadata(ck)["step"] == "3"
    ed = EDITORS.get("ldm").from_config({"checkpoint": str(ck)})
    assert ed.edit(torch.rand(1, 3, 32, 32), [0], [1], **FAST).images.shape == (1, 3, 32, 32)


def test_train_config_rejects_unknown_keys(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[train]\nstepz = 3\n")
    with pytest.raises(ValueError, match="unknown \\[train\\] key\\(s\\) stepz"):
        TrainConfig.from_toml(cfg)


def test_ldm_trainer_uses_the_released_lr_rule_weight_decay_and_litema(tmp_path, monkeypatch):
    made: list[torch.optim.AdamW] = []

    class RecordingAdamW(torch.optim.AdamW):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    stage = train_vqgan(_tiny_cfg(steps=1, val_every=100), tmp_path / "vq", log=lambda line: None)
    monkeypatch.setattr(torch.optim, "AdamW", RecordingAdamW)
    decays: list[float] = []
    cfg = _tiny_cfg(first_stage=str(stage), steps=3, batch_size=4, grad_accum=2, val_every=100)
    assert cfg.weight_decay == 0.01 and cfg.scale_lr  # the released defaults
    lines: list[str] = []
    ck = train_ldm(cfg, tmp_path / "ldm", log=lines.append,
                   on_step=lambda step, model: decays.append(model.ema_decay_at(model.ema_updates)))
    group = made[0].param_groups[0]
    assert group["lr"] == pytest.approx(1e-6 * 4 * 2 * 1)  # base_lr × batch × grad_accum × GPUs
    assert group["weight_decay"] == 0.01
    assert decays == pytest.approx([2 / 11, 3 / 12, 4 / 13])  # LitEma: min(decay, (1+n)/(10+n))
    from emobench.editors.ldm.model import read_metadata

    assert float(read_metadata(ck)["lr"]) == pytest.approx(8e-6) and read_metadata(ck)["ema_updates"] == "3"
    assert any("EMA" in line and "no label dropout" in line for line in lines)


def test_lr_as_given_when_scaling_is_off():
    cfg = TrainConfig(scale_lr=False, lr=3e-4, batch_size=64, grad_accum=2)
    assert cfg.effective_lr(world_size=4) == 3e-4
    assert TrainConfig(batch_size=24).effective_lr() == pytest.approx(2.4e-5)  # DESIGN §4: 2.4e-5 at batch 24


def test_validation_loss_has_no_label_dropout():
    from emobench.train.ldm import draw_loss_inputs

    m = micro_model()
    z0 = torch.randn(64, 3, 8, 8)
    # With p = 1 every training batch is dropped; validation (dropout=False) never is.
    m.config = replace(m.config, diffusion=replace(m.config.diffusion, label_dropout=1.0))
    assert draw_loss_inputs(m, z0, torch.Generator().manual_seed(5))[2].all()
    assert not draw_loss_inputs(m, z0, torch.Generator().manual_seed(5), dropout=False)[2].any()


@pytest.mark.parametrize("name", ["paper_vqgan", "paper_ldm", "demo_vqgan", "demo_ldm"])
def test_shipped_training_configs_parse(name):
    cfg = TrainConfig.from_toml(Path(__file__).resolve().parents[3] / "configs" / f"{name}.toml")
    model = cfg.ldm_config()
    if name.startswith("paper"):
        assert cfg.model == "paper" and model.unet.model_channels == 160 and cfg.scale_lr
    if name == "paper_ldm":
        assert cfg.effective_lr() == pytest.approx(2.4e-5) and cfg.weight_decay == 0.01 and model.diffusion.ema_warmup

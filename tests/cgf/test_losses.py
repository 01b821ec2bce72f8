"""CGF losses: the two direction forms, a tiny open_clip backend, gradients reach only the U-Net."""

from __future__ import annotations

import pytest
import torch

from emobench.cgf.encoders import OpenCLIPDirection, build_direction, build_identity
from emobench.cgf.losses import CGFLoss, LossWeights, direction_loss
from emobench.editors.ldm.ddim import ddim_sample

from .conftest import micro_model


def test_direction_loss_forms():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    for form in ("log_mean", "mean_log", "cosine"):
        assert float(direction_loss(a, a, form)) == pytest.approx(0.0, abs=1e-6)
    orth = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert float(direction_loss(a, orth, "mean_log")) == pytest.approx(-torch.log(torch.tensor(0.5)).item())
    assert float(direction_loss(a, orth, "cosine")) == pytest.approx(1.0)
    assert torch.isfinite(direction_loss(a, -a, "mean_log"))  # opposite directions stay finite (clamped)
    # log_mean (released): the log of the batch mean, not the mean of per-sample logs.
    mixed = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # cos 1 and 0
    assert float(direction_loss(*mixed, "log_mean")) == pytest.approx(-torch.log(torch.tensor(0.75)).item())
    assert float(direction_loss(*mixed, "mean_log")) == pytest.approx(-torch.log(torch.tensor(0.5)).item() / 2)
    with pytest.raises(ValueError, match="one of"):
        direction_loss(a, a, "l1")


def test_open_clip_refuses_random_weights():
    with pytest.raises(ValueError, match="pretrained tag or checkpoint file is required"):
        OpenCLIPDirection.load("ViT-B-16", "")


def test_unknown_backends_suggest():
    with pytest.raises(ValueError, match="did you mean 'standin'"):
        build_direction("standn")
    with pytest.raises(ValueError, match="expected one of"):
        build_identity("arcface-x")
    assert build_identity("none") is None


def _tune_step_setup(tiny_clip, micro_standin, weights: LossWeights):
    model_clip, tokenizer = tiny_clip
    direction = OpenCLIPDirection(model_clip, tokenizer, "emobench-tiny-test", "random (test)")
    identity = build_identity(f"standin:{micro_standin}")
    model = micro_model()
    model.requires_grad_(False)
    model.unet.requires_grad_(True)
    torch.manual_seed(1)
    z = torch.randn(2, 3, 8, 8)
    ref = model.decode_latents(torch.randn(2, 3, 8, 8)).detach()
    src = torch.tensor([0, 2])
    tgt = torch.tensor([1, 1])
    return model, CGFLoss(weights, direction, identity), z, ref, src, tgt


def test_loss_is_finite_and_gradients_reach_only_the_unet(tiny_clip, micro_standin):
    model, loss, z, ref, src, tgt = _tune_step_setup(tiny_clip, micro_standin, LossWeights())
    z0 = ddim_sample(model, z, tgt, [1, 100, 200], 1.0, checkpoint_grad=True)
    terms = loss(model.decode_latents(z0, clamp=False), ref, src, tgt)
    assert torch.isfinite(terms.total)
    assert set(terms.parts) == {"dir", "id", "l2", "total"}
    terms.total.backward()
    unet_grads = [p.grad for p in model.unet.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in unet_grads)
    for module in (model.first_stage, model.cond):
        assert all(p.grad is None for p in module.parameters())
    assert all(p.grad is None for p in loss.direction.model.parameters())
    assert all(p.grad is None for p in loss.identity.net.parameters())


def test_direction_loss_decreases_on_a_fixed_batch(tiny_clip, micro_standin):
    model, loss, z, ref, src, tgt = _tune_step_setup(tiny_clip, micro_standin,
                                                     LossWeights(direction=1.0, identity=0.0, l2=0.0))
    opt = torch.optim.AdamW(model.unet.parameters(), lr=2e-3)
    values = []
    for _ in range(8):
        z0 = ddim_sample(model, z, tgt, [1, 100, 200], 1.0, checkpoint_grad=True)
        terms = loss(model.decode_latents(z0), ref, src, tgt)
        opt.zero_grad()
        terms.total.backward()
        opt.step()
        values.append(terms.parts["dir"])
    assert values[-1] < values[0], values


def test_prompts_follow_the_released_code(tiny_clip):
    from emobench.cgf.losses import source_prompt_labels

    model_clip, tokenizer = tiny_clip
    enc = OpenCLIPDirection(model_clip, tokenizer, "emobench-tiny-test", "random (test)")
    assert len(enc.templates) == 79 and "a photo of many {}." not in enc.templates
    # Released: the source's own class prompt; "face" for neutral, contempt and the target's own class.
    labels = source_prompt_labels([0, 6, 1, 7], target=1, mode="released")
    assert labels == [None, 6, None, None]
    dirs = enc.text_directions(labels, 1, "per_template")
    assert dirs.shape == (4, 32) and torch.allclose(dirs.norm(dim=1), torch.ones(4), atol=1e-5)
    assert torch.equal(dirs[0], dirs[2]) and torch.equal(dirs[0], dirs[3]) and not torch.equal(dirs[0], dirs[1])
    assert set(enc._text_cache) == {"face", "happy face", "angry face"}
    assert source_prompt_labels([0, 6], 1, "generic") == [None, None]

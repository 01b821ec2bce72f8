"""CGF against the paper's released ``LatentDiffusionCLIP`` (GiannisPikoulis/dsml-thesis, face_reenactment/).

Every expected array was produced by the released code itself on the tiny model of
``../shared/reference/paper_ldm`` with a random tiny open_clip CLIP (``../shared/reference/paper_cgf``,
README there): one tuning step (losses, text directions, x̂, image features, named U-Net gradients),
the U-Net after one released AdamW step, and the released tuned inference. Tolerances are that
README's: losses rtol 1e-5, x̂ atol 1e-4, text directions / features atol 1e-5, gradients relative
L2 1e-4, tuned images ≥ 100 dB PSNR.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emobench.cgf.config import CGFConfig
from emobench.cgf.losses import CGFLoss, source_prompt_labels
from emobench.train.cgf import tuning_loss
from emobench.editors.ldm.ddim import ddim_sample
from emobench.editors.ldm.loading import load_ldm
from emobench.editors.ldm.schedule import ddim_timesteps
from tests.released_match import assert_decodes_like_released

open_clip = pytest.importorskip("open_clip", reason="the CGF reference needs open_clip (the [clip] extra)")

PREFIX = "model.diffusion_model."


@pytest.fixture(scope="module")
def refs(shared_dir):
    ldm, cgf = shared_dir / "reference" / "paper_ldm", shared_dir / "reference" / "paper_cgf"
    if not (cgf / "step_expected.npz").is_file() or not (ldm / "tiny.ckpt").is_file():
        pytest.skip(f"released-code CGF reference data not found in {cgf}")
    return ldm, cgf


@pytest.fixture(scope="module")
def data(refs):
    _, cgf = refs
    return (dict(np.load(cgf / "step_inputs.npz")), dict(np.load(cgf / "step_expected.npz")),
            dict(np.load(cgf / "tuned_expected.npz")))


@pytest.fixture(scope="module")
def direction(refs):
    from emobench.cgf.encoders import OpenCLIPDirection

    _, cgf = refs
    open_clip.add_model_config(str(cgf / "clip_tiny.json"))  # registers "clip_tiny" (the file stem)
    model = open_clip.create_model("clip_tiny", pretrained=str(cgf / "clip_tiny.safetensors")).float().eval()
    return OpenCLIPDirection(model, open_clip.get_tokenizer("ViT-B-16"), "clip_tiny", str(cgf / "clip_tiny.safetensors"))


def _base(refs):
    ldm, _ = refs
    # The released training step tunes the raw U-Net (model.diffusion_model), not its EMA.
    return load_ldm(ldm / "tiny.ckpt", weights="raw", config=ldm / "tiny_config.yaml")


def _cfg(**kw) -> CGFConfig:
    # The released CGF yaml: λ_dir = λ_l2 = 1 (λ_id = 0 here: IR-SE50 is not part of the fixture), γ = 1, 6 steps.
    return CGFConfig(lambda_id=0.0, identity="none", grad_checkpoint=False, **kw)


def _step(refs, data, direction, lambda_l2: float):
    inputs, _, _ = data
    model = _base(refs)
    model.requires_grad_(False)
    model.unet.requires_grad_(True)
    cfg = _cfg(lambda_l2=lambda_l2)
    loss = CGFLoss(cfg.loss_weights, direction, None)
    ts = ddim_timesteps(cfg.t0 / 1000, cfg.tune_steps)
    z = torch.from_numpy(inputs["z_t0"])
    ref01 = (torch.from_numpy(inputs["original_m11"]) + 1) / 2
    src = torch.from_numpy(inputs["source_labels"]).long()
    terms = tuning_loss(model, z, ref01, src, int(inputs["target_label"]), ts, cfg, loss)
    terms.total.backward()
    return model, cfg, terms


def _rel_l2(a: torch.Tensor, b: np.ndarray) -> float:
    """Relative L2 error; a reference that is exactly 0 (e.g. attn2.to_k with a one-token context, whose
    softmax is constant) is compared in absolute terms, since float noise of ~1e-11 is all there is."""
    b = torch.from_numpy(b).double()
    if float(b.norm()) == 0:
        return float(a.double().norm()) * 1e4
    return float((a.double() - b).norm() / b.norm())


def test_defaults_are_the_released_configuration(data):
    _, expected, _ = data
    cfg = CGFConfig()
    assert cfg.effective_lr == pytest.approx(float(expected["full/lr"]))  # 1e-6 × batch 4
    assert ddim_timesteps(cfg.t0 / 1000, cfg.tune_steps) == expected["full/train_timesteps"].tolist()
    assert (cfg.source_prompt, cfg.direction_form, cfg.text_direction, cfg.templates, cfg.clamp, cfg.chain_end) == \
        ("released", "log_mean", "per_template", "imagenet", "identity", "alpha0")
    assert (cfg.contempt_source, cfg.subset, cfg.recon_uint8, cfg.weight_decay) == ("contempt", "all", "truncate", 0.01)


def test_text_directions_match(data, direction):
    inputs, expected, _ = data
    src = inputs["source_labels"].tolist()
    target = int(inputs["target_label"])
    labels = source_prompt_labels(src, target, "released")
    got = direction.text_directions(labels, target, "per_template")
    np.testing.assert_allclose(got.numpy(), expected["full/text_directions"], atol=1e-5)
    assert labels == [None, 2, None, None]  # "face", "sad face", "face" (the target), "face" (contempt)


@pytest.mark.parametrize("prefix,lambda_l2", [("full/", 1.0), ("dir_only/", 0.0)])
def test_one_tuning_step_matches_losses_and_gradients(refs, data, direction, prefix, lambda_l2):
    _, expected, _ = data
    model, _, terms = _step(refs, data, direction, lambda_l2)
    assert terms.parts["total"] == pytest.approx(float(expected[f"{prefix}total_loss"]), rel=1e-5)
    assert terms.parts["dir"] == pytest.approx(float(expected[f"{prefix}L_dir"]), rel=1e-5)
    if lambda_l2:
        assert terms.parts["l2"] == pytest.approx(float(expected[f"{prefix}L2"]), rel=1e-5)
    params = dict(model.unet.named_parameters())
    for name in expected["full/grad_names"].tolist():
        g = params[name[len(PREFIX):]].grad
        assert _rel_l2(g, expected[f"{prefix}grad/{name}"]) <= 1e-4, name
    names = [n[len(PREFIX):] for n in expected["full/all_grad_names"].tolist()]
    assert names == list(params)  # same tensors, same order
    norms = torch.tensor([float(params[n].grad.double().norm()) for n in names], dtype=torch.float64)
    want = torch.from_numpy(expected[f"{prefix}all_grad_norms"])
    # Tensors whose gradient is ~0 in exact arithmetic (cross-attention keys over one token) carry only noise:
    # an absolute floor of 1e-6 of the largest norm covers them.
    assert bool(((norms - want).abs() <= 1e-4 * want + 1e-6 * want.max()).all())
    assert all(p.grad is None for p in model.first_stage.parameters())
    assert all(p.grad is None for p in model.cond.parameters())


def test_unclamped_x_hat_and_image_features_match(refs, data, direction):
    inputs, expected, _ = data
    model = _base(refs)
    ts = ddim_timesteps(0.5, 6)
    with torch.no_grad():
        z0 = ddim_sample(model, torch.from_numpy(inputs["z_t0"]), torch.ones(4, dtype=torch.long), ts, 1.0)
        x01 = model.decode_latents(z0, clamp=False)
        np.testing.assert_allclose((x01 * 2 - 1).numpy(), expected["full/x_hat"], atol=1e-4)
        assert float(x01.min()) < 0 and float(x01.max()) > 1  # the released losses see it unclamped
        np.testing.assert_allclose(direction.image_embeddings(x01).numpy(), expected["full/img_feat_edit"], atol=1e-5)
        ref01 = (torch.from_numpy(inputs["original_m11"]) + 1) / 2
        np.testing.assert_allclose(direction.image_embeddings(ref01).numpy(), expected["full/img_feat_src"], atol=1e-5)


def test_one_adamw_step_moves_the_unet_as_the_released_optimizer(refs, data, direction):
    from safetensors.torch import load_file

    _, cgf = refs
    model, cfg, _ = _step(refs, data, direction, 1.0)
    before = {k: v.detach().clone() for k, v in model.unet.state_dict().items()}
    opt = torch.optim.AdamW(model.unet.parameters(), lr=cfg.effective_lr, weight_decay=cfg.weight_decay)
    opt.step()
    released = load_file(str(cgf / "tuned_unet.safetensors"))
    ours, theirs = [], []
    for k, v in model.unet.state_dict().items():
        ours.append((v - before[k]).flatten())
        theirs.append((released[PREFIX + k] - before[k]).flatten())
    ours_d, theirs_d = torch.cat(ours), torch.cat(theirs)
    # Adam's first step is ≈ −lr·sign(g): compare update signs (README: gradients near 0 flip across threads).
    agree = float((torch.sign(ours_d) == torch.sign(theirs_d)).double().mean())
    assert agree >= 0.98
    assert float((ours_d - theirs_d).norm() / theirs_d.norm()) < 0.1


@pytest.mark.parametrize("guidance,key", [(1.0, "g1"), (3.0, "g3")])
def test_tuned_inference_matches_the_released_output(refs, data, guidance, key):
    from safetensors.torch import load_file

    from emobench.editors.ldm.cgf_editor import CGFParams

    _, cgf = refs
    inputs, _, tuned_expected = data
    model = _base(refs)
    tuned = load_file(str(cgf / "tuned_unet.safetensors"))
    model.unet.load_state_dict({k[len(PREFIX):]: v for k, v in tuned.items()}, strict=True)
    p = CGFParams(guidance=guidance)
    ts = ddim_timesteps(p.t0 / 1000, p.ddim_steps)
    assert ts == tuned_expected["timesteps"].tolist()
    with torch.no_grad():
        z0 = ddim_sample(model, torch.from_numpy(inputs["z_t0"]), torch.ones(4, dtype=torch.long), ts, guidance,
                         p.eta, chain_end=p.chain_end)
        assert_decodes_like_released(model, z0, tuned_expected[f"z0_{key}"], tuned_expected[f"images_{key}"])


def test_precompute_inverts_contempt_as_contempt_and_truncates_the_l2_target(refs, data, tmp_path):
    from emobench.train.cgf_latents import precompute
    from emobench.train.data import TrainingData

    inputs, _, _ = data
    images = torch.from_numpy(inputs["images"])
    labels = inputs["source_labels"].tolist()  # [0, 2, 1, 7]
    source = TrainingData(lambda idx: (images[idx], torch.tensor([labels[i] for i in idx])), labels, {"test": True})
    model = _base(refs)  # raw weights: the `noema` precompute
    cfg = CGFConfig(per_class=1, precompute_batch=4)
    lat = precompute(model, "ref", cfg, source, tmp_path, quiet=True)
    order = [int(i.split("-")[1]) for i in lat.ids]
    assert sorted(order) == [0, 1, 2, 3] and lat.labels.tolist() == [labels[i] for i in order]  # 7 stays 7
    np.testing.assert_allclose(lat.z.numpy(), inputs["z_t0_raw"][order], atol=1e-3)
    want = ((torch.from_numpy(inputs["original_m11"][order]) + 1) * 127.5).round()  # the released uint8 levels
    flips = int((lat.recon.float() * 255 - want).abs().gt(0.5).sum())
    assert flips <= 10  # README: a few values sit on a truncation boundary (3 of 49152 across thread counts)

"""Model sizes at the paper's configuration, schedule rules, CFG, DDIM inversion, checkpoints."""

from __future__ import annotations

import pytest
import torch

from emobench.editors.ldm.config import LDMConfig, UNetConfig, VQGANConfig
from emobench.editors.ldm.ddim import ddim_invert, ddim_sample
from emobench.editors.ldm.model import CheckpointError, LatentDiffusion, load_checkpoint
from emobench.editors.ldm.schedule import NoiseSchedule, ddim_timesteps
from emobench.editors.ldm.unet import UNet
from emobench.editors.ldm.vqgan import VQGAN
from tests.editors.ldm.conftest import micro_model


def _count(module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def test_paper_unet_has_156_76m_parameters():
    with torch.device("meta"):
        unet = UNet(UNetConfig.paper())
    assert _count(unet) == pytest.approx(156.76, abs=0.1)


def test_paper_vqgan_sizes_and_latent_shape():
    with torch.device("meta"):
        vq = VQGAN(VQGANConfig.paper())
        z = vq.encode(torch.zeros(1, 3, 128, 128, device="meta"))
    assert _count(vq.encoder) == pytest.approx(24.4, abs=0.1)
    assert _count(vq.decoder) == pytest.approx(36.1, abs=0.1)
    assert tuple(z.shape) == (1, 3, 32, 32) and vq.quantize.embedding.weight.shape == (16384, 3)


def test_schedule_and_timestep_rule():
    s = NoiseSchedule(LDMConfig.paper().diffusion)
    assert float(s.betas[0]) == pytest.approx(0.0015) and float(s.betas[-1]) == pytest.approx(0.0205)
    ts = ddim_timesteps(0.5, 40)
    assert ts[:3] == [1, 12, 25] and ts[-1] == 500 and len(ts) == 40
    with pytest.raises(ValueError, match="strength must be in"):
        ddim_timesteps(1.5, 40)


def test_cfg_gamma_one_is_the_conditional_model_and_branches_share_a_forward():
    m = micro_model()
    z, t, y = torch.randn(3, 3, 8, 8), torch.tensor([5, 200, 900]), torch.tensor([0, 1, 6])
    with torch.no_grad():
        cond = m.unet(z, t, m.cond(y))
        assert torch.equal(m.eps(z, t, y, 1.0), cond)
        uncond = m.unet(z, t, m.cond.null(3))
        assert torch.allclose(m.eps(z, t, y, 3.0), uncond + 3.0 * (cond - uncond), atol=1e-5)


@pytest.mark.parametrize("convention,bound", [("next", 0.02), ("current", 0.05)])
def test_inversion_then_sampling_reconstructs_the_latent(convention, bound):
    m = micro_model()
    z0 = torch.randn(2, 3, 8, 8)
    y = torch.tensor([0, 4])
    ts = ddim_timesteps(0.5, 40)
    with torch.inference_mode():
        zt = ddim_invert(m, z0, y, ts, 1.0, convention)
        rec = ddim_sample(m, zt, y, ts, 1.0)
    err = float((rec - z0).abs().max() / z0.abs().max())
    assert err < bound, f"{convention}: relative max error {err:.4f}"
    assert not torch.allclose(zt, z0)  # the latent really moved to t0


def test_ema_update_and_checkpoint_round_trip(tmp_path):
    m = micro_model()
    with torch.no_grad():
        m.unet.out[2].weight.add_(1.0)
    m.update_ema(0.5)
    path = tmp_path / "ck.safetensors"
    m.save_checkpoint(path, {"note": "x"})
    both = load_checkpoint(path, weights="both")
    for a, b in zip(m.state_dict().values(), both.state_dict().values()):
        assert torch.equal(a, b)
    ema = load_checkpoint(path, weights="ema")
    assert torch.equal(ema.unet.out[2].weight, m.ema["unet"].out[2].weight)
    assert not torch.equal(ema.unet.out[2].weight, m.unet.out[2].weight)


def test_foreign_files_fail_clearly(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(1)}, str(path))
    with pytest.raises(CheckpointError, match="not an emobench LDM checkpoint"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_checkpoint(tmp_path / "none.safetensors")


def test_ema_follows_litema_decay_sequence_and_covers_the_unet_only():
    # latent-diffusion's LitEma (ldm/modules/ema.py): num_updates += 1, then
    # decay = min(decay, (1 + num_updates) / (10 + num_updates)); shadow -= (1 - decay) * (shadow - param).
    m = micro_model()
    assert set(m.ema) == {"unet"}
    shadow = {k: v.clone() for k, v in m.ema["unet"].state_dict().items()}
    decays = []
    for n in range(1, 6):
        with torch.no_grad():
            for p in m.unet.parameters():
                p.add_(0.01)
        decays.append(m.update_ema())
        want = min(0.9, (1 + n) / (10 + n))  # MICRO's ema_decay is 0.9
        for k, p in m.unet.state_dict().items():
            shadow[k] = shadow[k] - (1 - want) * (shadow[k] - p)
    assert decays == pytest.approx([min(0.9, (1 + n) / (10 + n)) for n in range(1, 6)])
    for k, v in m.ema["unet"].state_dict().items():
        assert torch.allclose(v, shadow[k], atol=1e-6), k
    assert m.ema_updates == 5

"""A micro LDM (same code, smallest sizes) saved as a checkpoint for editor tests."""

from __future__ import annotations

import pytest
import torch

from emobench.editors.ldm.config import DiffusionConfig, LDMConfig, UNetConfig, VQGANConfig
from emobench.editors.ldm.model import LatentDiffusion

MICRO = LDMConfig(
    VQGANConfig(resolution=32, ch=16, ch_mult=(1, 1, 2), num_res_blocks=1, attn_resolutions=(), n_embed=64),
    UNetConfig(model_channels=16, channel_mult=(1, 2), num_res_blocks=1, attention_levels=(1,),
               num_head_channels=8, context_dim=32),
    DiffusionConfig(ema_decay=0.9),
)


def micro_model(seed: int = 0) -> LatentDiffusion:
    """A random micro model whose zero-initialised output layers are perturbed so ε is not identically 0."""
    torch.manual_seed(seed)
    model = LatentDiffusion(MICRO)
    with torch.no_grad():
        for name, p in model.unet.named_parameters():
            if name.startswith("out.2") or "out_layers.3" in name or "proj_out" in name:
                p.normal_(0, 0.02)
    model.init_ema()
    return model.eval()


@pytest.fixture()
def micro_checkpoint(tmp_path):
    path = tmp_path / "micro.safetensors"
    micro_model().save_checkpoint(path)
    return path

"""CGF speed: one tuning step (6-step differentiable DDIM, decode, stand-in losses, AdamW) of the demo LDM,
with and without gradient checkpointing, and the FLOPs of one paper-size tuning step.

Run (slow; not part of the default test run)::

    python -m pytest benchmarks/test_cgf_bench.py -m slow --benchmark-enable -q -s
"""

from __future__ import annotations

import os

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from emobench.cgf.encoders import build_direction, build_identity
from emobench.cgf.losses import CGFLoss, LossWeights
from emobench.editors.ldm.config import LDMConfig
from emobench.editors.ldm.ddim import ddim_sample
from emobench.editors.ldm.editor import DEMO_CHECKPOINT
from emobench.editors.ldm.model import LatentDiffusion, load_checkpoint
from emobench.editors.ldm.schedule import ddim_timesteps

pytestmark = pytest.mark.slow
THREADS = int(os.environ.get("EMOBENCH_BENCH_THREADS", "2"))
BATCH = 4
TS = ddim_timesteps(0.5, 6)


def _step(model, loss, opt, z, ref, src, tgt, checkpointed: bool) -> float:
    z0 = ddim_sample(model, z, tgt, TS, 1.0, checkpoint_grad=checkpointed)
    terms = loss(model.decode_latents(z0), ref, src, tgt)
    opt.zero_grad(set_to_none=True)
    terms.total.backward()
    opt.step()
    return terms.parts["total"]


@pytest.mark.parametrize("checkpointed", [True, False], ids=["grad-checkpoint", "no-checkpoint"])
def test_demo_tuning_step(benchmark, checkpointed):
    torch.set_num_threads(THREADS)
    model = load_checkpoint(DEMO_CHECKPOINT, weights="raw")
    model.requires_grad_(False)
    model.unet.requires_grad_(True)
    try:
        loss = CGFLoss(LossWeights(), build_direction("standin"), build_identity("standin"))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    opt = torch.optim.AdamW(model.unet.parameters(), lr=1e-5)
    z = torch.randn(BATCH, 3, 16, 16)
    ref = torch.rand(BATCH, 3, 64, 64)
    src, tgt = torch.zeros(BATCH, dtype=torch.long), torch.ones(BATCH, dtype=torch.long)
    benchmark.pedantic(_step, args=(model, loss, opt, z, ref, src, tgt, checkpointed), rounds=3, iterations=1)
    print(f"\ndemo CGF step (batch {BATCH}, {'with' if checkpointed else 'without'} gradient checkpointing): "
          f"{benchmark.stats['mean']:.2f} s")


def test_paper_tuning_step_flops():
    """Forward FLOPs of one paper-size tuning step (6 U-Net calls at γ=1 + decode), counted on the meta device."""
    with torch.device("meta"):
        model = LatentDiffusion(LDMConfig.paper()).eval()
    z = torch.empty(BATCH, 3, 32, 32, device="meta")
    tgt = torch.ones(BATCH, dtype=torch.long, device="meta")
    with FlopCounterMode(display=False) as counter:
        model.decode_latents(ddim_sample(model, z, tgt, TS, 1.0))
    flops = counter.get_total_flops()
    print(f"\npaper CGF step forward (batch {BATCH}): {flops / 1e12:.2f} TFLOP "
          f"(backward ≈ 2x, plus one recomputed forward with gradient checkpointing)")
    assert flops > 0

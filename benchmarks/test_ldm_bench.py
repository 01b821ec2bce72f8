"""LDM speed next to its FLOPs: paper-size U-Net forward, paper-size VQGAN, edits/s (paper settings).

Run (slow; not part of the default test run)::

    python -m pytest benchmarks/test_ldm_bench.py -m slow --benchmark-enable -q -s

One paper edit (T_DDIM=40, t0=500, γ=3, CFG in inversion) of one image toward one target costs
1 VQGAN encode, 40 inversion + 40 sampling U-Net calls on a batch of 2 (conditional +
unconditional in one forward) and 1 decode. ``edit_flops`` counts exactly that
with ``torch.utils.flop_counter.FlopCounterMode``; the edits/s line is measured, not derived.
"""

from __future__ import annotations

import os

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from emobench.editors.ldm.config import LDMConfig
from emobench.editors.ldm.editor import LDMEditor
from emobench.editors.ldm.model import LatentDiffusion

pytestmark = pytest.mark.slow
THREADS = int(os.environ.get("EMOBENCH_BENCH_THREADS", "2"))


@pytest.fixture(scope="module")
def paper_model() -> LatentDiffusion:
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    return LatentDiffusion(LDMConfig.paper()).eval()


def meta_flops(fn_of_device) -> int:
    """FLOPs of ``fn_of_device("meta")`` counted without computing anything."""
    with FlopCounterMode(display=False) as counter:
        fn_of_device("meta")
    return counter.get_total_flops()


@pytest.fixture(scope="module")
def flop_table() -> dict[str, int]:
    """FLOPs of the pieces of one paper edit (1 image, 1 target, 40 steps, CFG in both passes)."""
    with torch.device("meta"):
        model = LatentDiffusion(LDMConfig.paper()).eval()
    z = torch.empty(1, 3, 32, 32, device="meta")
    t = torch.full((1,), 500, dtype=torch.long, device="meta")
    y = torch.zeros(1, dtype=torch.long, device="meta")
    x = torch.empty(1, 3, 128, 128, device="meta")
    table = {
        "unet_cfg_call": meta_flops(lambda d: model.eps(z, t, y, 3.0)),
        "vq_encode": meta_flops(lambda d: model.first_stage.encode(x)),
        "vq_decode": meta_flops(lambda d: model.first_stage.decoder(model.first_stage.post_quant_conv(z))),
    }
    table["edit_40_steps"] = 80 * table["unet_cfg_call"] + table["vq_encode"] + table["vq_decode"]
    return table


def unet_call(model: LatentDiffusion, batch: int):
    z = torch.randn(batch, 3, 32, 32)
    t = torch.full((batch,), 500, dtype=torch.long)
    y = torch.zeros(batch, dtype=torch.long)

    def call():
        with torch.inference_mode():
            return model.eps(z, t, y, 3.0)  # CFG: one forward on 2×batch
    return call


@pytest.mark.parametrize("batch", [1, 8])
def test_paper_unet_cfg_forward(benchmark, paper_model, flop_table, batch):
    call = unet_call(paper_model, batch)
    f = flop_table["unet_cfg_call"] * batch
    benchmark.pedantic(call, rounds=3, warmup_rounds=1)
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info.update({"flops_per_call": f, "threads": THREADS, "achieved_gflops_per_s": f / seconds / 1e9})
    print(f"\nU-Net CFG forward, batch {batch} (= {2 * batch} U-Net rows): {seconds:.3f} s, "
          f"{f / 1e9:.1f} GFLOP, {f / seconds / 1e9:.1f} GFLOP/s")


def test_paper_vqgan_encode_decode(benchmark, paper_model, flop_table):
    x = torch.rand(1, 3, 128, 128)

    def call():
        with torch.inference_mode():
            return paper_model.decode_latents(paper_model.encode_images(x))
    f = flop_table["vq_encode"] + flop_table["vq_decode"]
    benchmark.pedantic(call, rounds=2, warmup_rounds=1)
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info.update({"flops": f, "achieved_gflops_per_s": f / seconds / 1e9})
    print(f"\nVQGAN encode+decode 128 px: {seconds:.3f} s, {f / 1e9:.1f} GFLOP, {f / seconds / 1e9:.1f} GFLOP/s")


def test_paper_edits_per_second(benchmark, paper_model, flop_table):
    """Paper-setting edits of 1 image toward 6 targets (shared inversion) at ``ddim_steps=4``.

    Time is linear in the step count; the 40-step figure is extrapolated from the U-Net share.
    """
    editor = LDMEditor.from_model(paper_model)
    x = torch.rand(1, 3, 128, 128)
    out = benchmark.pedantic(lambda: editor.edit_many(x, [0], [[1, 2, 3, 4, 5, 6]], ddim_steps=4),
                             rounds=1, warmup_rounds=0)
    assert out.images.shape == (6, 3, 128, 128)
    seconds = benchmark.stats.stats.mean
    f40 = flop_table["edit_40_steps"]
    benchmark.extra_info.update({"edits_per_s_4_steps": 6 / seconds, "flops_per_edit_40_steps": f40})
    print(f"\n6 edits (shared inversion) at 4 DDIM steps: {seconds:.1f} s = {6 / seconds:.3f} edits/s; "
          f"one 40-step paper edit = {f40 / 1e12:.2f} TFLOP")

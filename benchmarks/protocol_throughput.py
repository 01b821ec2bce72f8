"""Throughput of a protocol run as the runner does it: edits/s, U-Net rows/s, FLOP/s, device wait.

An ``affectnet-val``-shaped workload: the paper-size LDM (random weights: speed does not depend on
them), synthetic 128-px faces edited toward the six targets, scored by ``affectnet-val``'s evaluators
(quality, identity by YuNet + SFace, emotion ``auto``). The same command runs on CPU and on one GPU;
each overlap mode (and each extra option given) runs in this one process, side by side, so the
figures compare as ratios. docs/performance.md records them.

Run (CPU here, a few minutes with the paper U-Net at 4 DDIM steps)::

    python benchmarks/protocol_throughput.py --edits 12 --ddim-steps 4
    python benchmarks/protocol_throughput.py --device cuda --edits 600          # one GPU, paper settings
    python benchmarks/protocol_throughput.py --model demo --edits 96            # the packaged demo LDM
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from emobench.building import resolve_device
from emobench.cards import apply_overrides, load_method, load_protocol
from emobench.editors.ldm.config import LDMConfig
from emobench.editors.ldm.editor import LDMEditor, LDMInit
from emobench.editors.ldm.model import LatentDiffusion
from emobench.runner import RunOptions, Timing, auto_batch_size, execute, plan, resolve_overlap


def build_plan(args: argparse.Namespace, device: str, precision: str, memory_format: str):
    method = load_method("ldm")
    protocol = load_protocol("synthetic")
    sets = [f"params.ddim_steps={args.ddim_steps}", f"init.precision={precision!r}".replace("'", '"'),
            f'init.memory_format="{memory_format}"', f"dataset.identities={args.identities}",
            'protocol.evaluators=["quality", "identity", "emotion"]', 'evaluators.identity.backend="sface"',
            'evaluators.emotion.backend="auto"']
    method, protocol = apply_overrides(method, protocol, sets)
    p = plan(method, protocol, device, quiet=True)
    if args.model == "paper":
        torch.manual_seed(0)
        model = LatentDiffusion(LDMConfig.paper())
        init = LDMInit(checkpoint="<random paper-size>", precision=precision, memory_format=memory_format)
        p.editor = LDMEditor(model, init, "", device)
    return p


def unet_rows_and_flops(editor: LDMEditor) -> tuple[list[int], float]:
    """A counter of U-Net rows (a hook) and the FLOPs of one U-Net row (torch's FLOP counter)."""
    rows = [0]
    editor.model.unet.register_forward_hook(lambda mod, inp, out: rows.__setitem__(0, rows[0] + inp[0].shape[0]))
    cfg = editor.model.config
    z = torch.zeros(1, cfg.unet.in_channels, *editor.latent_size(), device=editor.device)
    ctx = editor.model.cond(torch.zeros(1, dtype=torch.long, device=editor.device))
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        editor.model.unet(z, torch.full((1,), 500, device=editor.device), ctx)
    rows[0] = 0
    return rows, float(counter.get_total_flops())


def measure(args: argparse.Namespace, device: str, overlap: str, precision: str, memory_format: str) -> dict:
    p = build_plan(args, device, precision, memory_format)
    rows, flops_per_row = unet_rows_and_flops(p.editor)
    batch = args.batch_size or auto_batch_size(p.editor, device)
    # One small edit first, so that no variant pays for the first-call set-up (kernels, allocator).
    res = p.editor.resolution
    p.editor.edit_many(torch.rand(1, 3, res, res), [0], [[1, 2]], ddim_steps=2)
    rows[0] = 0
    with tempfile.TemporaryDirectory() as tmp:
        options = RunOptions(run_dir=Path(tmp) / "run", limit=args.edits, batch_size=batch, device=device,
                             quiet=True, overlap=overlap)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = execute(p, options, device)
        wall = time.perf_counter() - start
    t: Timing = result.timing
    # Serial: the device idles while the CPU writes and scores. Overlapped: while editing waits on the worker.
    idle = t.wait_s if resolve_overlap(overlap, device) else t.finish_s
    return {"overlap": overlap, "precision": precision, "memory_format": memory_format, "batch": batch,
            "edits": result.written, "wall_s": wall, "edits_per_s": result.written / wall,
            "unet_rows_per_s": rows[0] / t.edit_s, "tflops": rows[0] * flops_per_row / t.edit_s / 1e12,
            "device_idle_fraction": idle / t.wall_s, "edit_s": t.edit_s, "finish_s": t.finish_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--model", choices=("paper", "demo"), default="paper")
    ap.add_argument("--edits", type=int, default=12, help="edits per measurement (default: 12)")
    ap.add_argument("--ddim-steps", type=int, default=40, help="T_DDIM (default: the paper's 40)")
    ap.add_argument("--identities", type=int, default=16, help="synthetic people in the protocol (default: 16)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the runner's auto")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--bf16", action="store_true", help="also measure precision=bf16")
    ap.add_argument("--channels-last", action="store_true", help="also measure memory_format=channels_last")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    variants = [("off", "fp32", "contiguous"), ("on", "fp32", "contiguous")]
    if args.bf16:
        variants.append(("auto", "bf16", "contiguous"))
    if args.channels_last:
        variants.append(("auto", "fp32", "channels_last"))
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.startswith('cuda') else 'CPU'}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, model {args.model}, "
          f"T_DDIM {args.ddim_steps}, {args.edits} edits per row")
    results = [measure(args, device, *v) for v in variants]
    base = results[0]["wall_s"]
    print("| overlap | precision | memory | batch | edits/s | U-Net rows/s | TFLOP/s | device idle | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['overlap']} | {r['precision']} | {r['memory_format']} | {r['batch']} | {r['edits_per_s']:.3f} | "
              f"{r['unet_rows_per_s']:.1f} | {r['tflops']:.3f} | {r['device_idle_fraction']:.1%} | "
              f"{base / r['wall_s']:.2f}x |")


if __name__ == "__main__":
    main()

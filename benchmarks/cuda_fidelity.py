"""How far an edit on this device is from the released code's: the paper_ldm fixture, three numerics.

For each of the fixture's γ = 3 and γ = 1 runs: the largest difference of the final latents from the
released ones, how many of the 768 VQ codes differ, and the PSNR of the edited images against the
released images. Numerics: ``fp32`` (TF32 off for cuDNN and matmuls), ``default`` (PyTorch's: cuDNN
may use TF32 on CUDA) and ``bf16`` (autocast, the ``precision = "bf16"`` option). docs/performance.md
records the figures.

Run::

    python benchmarks/cuda_fidelity.py --device cuda
    python benchmarks/cuda_fidelity.py --device cpu          # the same table on CPU
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

import numpy as np
import torch

from emobench.editors.ldm.ddim import ddim_invert, ddim_sample
from emobench.editors.ldm.editor import autocast_for
from emobench.editors.ldm.loading import load_ldm
from emobench.editors.ldm.schedule import ddim_timesteps

RUNS = {"g3_a": ("target_labels_a", 3.0), "g3_b": ("target_labels_b", 3.0), "g1_a": ("target_labels_a", 1.0)}


@contextlib.contextmanager
def numerics(name: str, device: torch.device):
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    if name == "fp32":
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with autocast_for(device, "bf16" if name == "bf16" else "fp32"):
            yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    shared = Path(os.environ.get("EMOBENCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("--reference", type=Path, default=shared / "reference" / "paper_ldm")
    args = ap.parse_args()
    device = torch.device(args.device)
    ref = args.reference
    inputs, expected = dict(np.load(ref / "inputs.npz")), dict(np.load(ref / "expected.npz"))
    model = load_ldm(ref / "tiny.ckpt", weights="ema", config=ref / "tiny_config.yaml").to(device).eval()
    x = torch.from_numpy(inputs["images"]).to(device)
    src = torch.from_numpy(inputs["source_labels"]).long().to(device)
    ts = ddim_timesteps(0.5, 40)
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}), "
          f"torch {torch.__version__}, reference {ref}")
    print("| numerics | run | max abs z0 diff | codes differing (of 768) | PSNR vs released (dB) |")
    print("|---|---|---|---|---|")
    for name in ("fp32", "default", "bf16"):
        for run, (key, guidance) in RUNS.items():
            tgt = torch.from_numpy(inputs[key]).long().to(device)
            with torch.no_grad(), numerics(name, device):
                z0 = ddim_sample(model, ddim_invert(model, model.encode_images(x), src, ts, guidance), tgt, ts,
                                 guidance).float()
                images = model.decode_latents(z0).float().cpu()
                codes = model.first_stage.quantize(z0 / model.config.diffusion.scale_factor)[2].cpu()
            diff = float((z0.cpu() - torch.from_numpy(expected[f"z0_{run}"])).abs().max())
            flips = int((codes != torch.from_numpy(expected[f"codes_{run}"])).sum())
            mse = float(((images.double() - torch.from_numpy(expected[f"images_{run}"]).double()) ** 2).mean())
            psnr = float("inf") if mse == 0 else 10 * np.log10(1 / mse)
            print(f"| {name} | {run} | {diff:.2e} | {flips} | {psnr:.1f} |", flush=True)


if __name__ == "__main__":
    main()

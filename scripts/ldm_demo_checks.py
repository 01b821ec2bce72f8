"""Reconstruction check of an LDM checkpoint on held-out synthetic faces (issue 4's bound).

Edits with source = target (every class, t0=500, 40 steps, γ=3 — the paper settings) should give
back the first-stage reconstruction: prints the PSNR of that round trip against ``decode(encode(x))``
per inversion convention. The accuracy/fidelity trends over γ and t0 come from the product itself:

    emobench run --method ldm --protocol synthetic-sweep && emobench report runs/synthetic-sweep

Usage::

    python scripts/ldm_demo_checks.py --checkpoint demo --identities 8
"""

from __future__ import annotations

import argparse

import torch

from emobench.editors.ldm.editor import LDMEditor
from emobench.evaluators.quality import psnr_ssim
from emobench.labels import EMOTIONS
from emobench.synthetic import Expression, identities, render_batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="demo")
    parser.add_argument("--identities", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    editor = LDMEditor.from_config({"checkpoint": args.checkpoint})
    res = editor.resolution
    people = identities("test", args.identities)
    labels = [c for c in range(len(EMOTIONS)) if EMOTIONS[c] != "contempt"]
    pairs = [(p, c) for p in people for c in labels]
    x = render_batch([p for p, _ in pairs], [Expression.prototype(c) for _, c in pairs], res)
    y = torch.tensor([c for _, c in pairs])
    with torch.inference_mode():
        recon = editor.model.decode_latents(editor.model.encode_images(x))
    print(f"first stage alone: PSNR {psnr_ssim(recon, x)[0].mean():.2f} dB vs the input ({res} px)")
    for chain_end in ("alpha0", "one"):
        for convention in ("next", "current"):
            out = editor.edit(x, y, y, inversion=convention, chain_end=chain_end).images
            psnr = psnr_ssim(out, recon)[0]
            print(f"source = target, t0=500, 40 steps, γ=3, ε at the {convention} timestep, chain end {chain_end}: "
                  f"PSNR {psnr.mean():.2f} dB (min {psnr.min():.2f}) vs the first-stage reconstruction")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

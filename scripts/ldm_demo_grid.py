"""The demo LDM's edit grid of docs/ldm.md: held-out synthetic people (rows), each shown as the source
(neutral, then happy: the source's own expression must go) and its edits to the six targets, at the
paper's settings (T_DDIM=40, t0=500, γ=3).

    python scripts/ldm_demo_grid.py --checkpoint demo --out docs/img/ldm_demo_grid.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image
from torchvision.utils import make_grid

from emobench.editors.ldm.editor import LDMEditor
from emobench.labels import EMOTIONS, TARGET_EMOTIONS
from emobench.synthetic import Expression, identities, render_batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="demo")
    parser.add_argument("--people", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    editor = LDMEditor.from_config({"checkpoint": args.checkpoint})
    people = identities("test", args.people)
    sources = ["neutral", "happy"]
    pairs = [(p, s) for p in people for s in sources]
    x = render_batch([p for p, _ in pairs], [Expression.prototype(s) for _, s in pairs], 128)
    targets = [EMOTIONS.index(t) for t in TARGET_EMOTIONS]
    out = editor.edit_many(x, [EMOTIONS.index(s) for _, s in pairs], [targets] * len(pairs)).images
    rows = []
    for i in range(len(pairs)):
        rows.append(x[i:i + 1])
        rows.append(out[i * len(targets):(i + 1) * len(targets)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    grid = make_grid(torch.cat(rows), nrow=1 + len(targets), padding=2, pad_value=1.0)
    pixels = grid.mul(255).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
    # A 256-colour palette PNG keeps the committed image small (docs images, not data).
    Image.fromarray(pixels).quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(args.out, optimize=True)
    print(f"{args.out}: columns source, {', '.join(TARGET_EMOTIONS)}; rows {len(pairs)} (person x source)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

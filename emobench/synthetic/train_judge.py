"""Train the ``synthetic-judge`` emotion classifier on the ``judge`` identity split.

Reproduce the packaged weights (CPU, one thread, a few minutes)::

    python -m emobench.synthetic.train_judge --out emobench/synthetic/weights/synthetic_judge.safetensors

Augmentations (shifts, scale, blur by down/up-sampling, noise, colour jitter, random
expression intensity) keep it from latching onto pixel-exact render details, since it
judges edits made by generative models.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from emobench.labels import EMOTIONS
from emobench.synthetic.dataset import SyntheticTrainingSet
from emobench.synthetic.faces import Expression, identities, render_batch
from emobench.synthetic.judge import JudgeConfig, JudgeNet, resize_for, save_judge


def augment(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random shift/scale, blur, colour jitter and noise on a batch in [0, 1]."""
    n, _, h, w = images.shape
    scale = 1 + (torch.rand(n, generator=gen) - 0.5) * 0.12
    shift = (torch.rand(n, 2, generator=gen) - 0.5) * 0.12
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    x = F.grid_sample(images, grid, padding_mode="border", align_corners=False)
    blur = torch.rand(n, generator=gen) < 0.5
    if blur.any():
        small = F.interpolate(x[blur], scale_factor=0.5, mode="bilinear", antialias=True, align_corners=False)
        x[blur] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    gain = 1 + (torch.rand(n, 3, 1, 1, generator=gen) - 0.5) * 0.3
    bias = (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.2
    x = x * gain + bias + torch.randn(x.shape, generator=gen) * 0.03 * torch.rand(n, 1, 1, 1, generator=gen)
    return x.clamp(0, 1)


@torch.no_grad()
def evaluate(net: JudgeNet, n_identities: int, intensity: float, size: int, split: str = "test") -> float:
    """Accuracy on prototype renders of a split at one intensity."""
    net.eval()
    people = identities(split, n_identities)
    pairs = [(p, c) for p in people for c in range(len(EMOTIONS))]
    images = render_batch([p for p, _ in pairs], [Expression.prototype(c, intensity) for _, c in pairs], size)
    pred = net(resize_for(images, net.config.input_size)).argmax(1)
    labels = torch.tensor([c for _, c in pairs])
    net.train()
    return float((pred == labels).float().mean())


def training_parser(description: str, split: str, identities: int, per_identity: int, steps: int
                    ) -> argparse.ArgumentParser:
    """The options every small synthetic-world trainer shares (judge, CGF stand-in encoder)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="safetensors file to write")
    parser.add_argument("--identities", type=int, default=identities, help=f"{split}-split people to train on")
    parser.add_argument("--per-identity", type=int, default=per_identity)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    return parser


def fit(params: Iterable[torch.nn.Parameter], loss_of: Callable[[list[int]], torch.Tensor], n_items: int,
        args: argparse.Namespace) -> None:
    """AdamW with a cosine schedule over ``args.steps`` random batches of item indices."""
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / args.steps, 1))))
    rng = np.random.default_rng(args.seed)
    start = time.time()
    for step in range(1, args.steps + 1):
        loss = loss_of(rng.integers(0, n_items, args.batch_size).tolist())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0 or step == args.steps:
            print(f"step {step} loss {loss.item():.4f} ({time.time() - start:.0f}s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = training_parser(__doc__, "judge", identities=300, per_identity=40, steps=1200)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    config = JudgeConfig()
    data = SyntheticTrainingSet("judge", args.identities, config.input_size, args.per_identity, seed=args.seed)
    net = JudgeNet(config)

    def loss_of(indices: list[int]) -> torch.Tensor:
        images, labels = data.batch(indices)
        return F.cross_entropy(net(augment(images, gen)), labels, label_smoothing=0.05)

    fit(net.parameters(), loss_of, len(data), args)
    net.eval()
    acc_full = evaluate(net, 32, 1.0, 128)
    acc_half = evaluate(net, 32, 0.5, 128)
    print(f"held-out test split accuracy: intensity 1.0 {acc_full:.3f}, intensity 0.5 {acc_half:.3f}")
    save_judge(net, args.out, {"trained_on": "synthetic split 'judge'", "identities": str(args.identities),
                               "steps": str(args.steps), "seed": str(args.seed),
                               "test_acc_intensity_1.0": f"{acc_full:.4f}", "test_acc_intensity_0.5": f"{acc_half:.4f}"})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

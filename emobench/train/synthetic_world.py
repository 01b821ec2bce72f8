"""What the small synthetic-world trainers share (the judge, the CGF stand-in encoder): augmentation and
one AdamW loop with a cosine schedule. Their options are read by ``emobench train judge|standin``.

Example:
    >>> import torch
    >>> augment(torch.rand(2, 3, 32, 32), torch.Generator().manual_seed(0)).shape
    torch.Size([2, 3, 32, 32])
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F


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



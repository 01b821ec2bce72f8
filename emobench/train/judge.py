"""Train the ``synthetic-judge`` emotion classifier on the ``judge`` identity split.

Reproduce the packaged weights (CPU, one thread, a few minutes)::

    emobench train judge --out emobench/synthetic/weights/synthetic_judge.safetensors

Augmentations (shifts, scale, blur by down/up-sampling, noise, colour jitter, random
expression intensity) keep it from latching onto pixel-exact render details, since it
judges edits made by generative models.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from emobench.labels import EMOTIONS
from emobench.synthetic.dataset import SyntheticTrainingSet
from emobench.synthetic.faces import Expression, identities, render_batch
from emobench.synthetic.judge import JudgeConfig, JudgeNet, resize_for, save_judge
from emobench.train.synthetic_world import augment, fit


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


def run(args: argparse.Namespace) -> int:
    """``emobench train judge``: train, report held-out accuracy, write ``args.out``."""
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


"""Train the ``synthetic-id`` identity embedding on the ``identity`` split.

Reproduce the packaged weights (CPU, one thread, about 6 minutes)::

    emobench train identity --out emobench/synthetic/weights/synthetic_identity.safetensors

Each person of the split is rendered with random expressions of all eight classes (random
intensity and jitter), so the embedding must keep a person's identity across expressions: what
CSIM asks of an edit. A cosine-softmax with a CosFace margin over the split's people, plus the
judge's augmentations (shift, scale, blur, colour, noise), so that it also holds on the slightly
blurred, colour-shifted renders a generative editor makes. Held-out scores on the ``test`` split
are written into the file's metadata.
"""

from __future__ import annotations

import argparse

import torch

from emobench.labels import EMOTIONS
from emobench.synthetic.dataset import SyntheticTrainingSet
from emobench.synthetic.faces import Expression, identities, render_batch
from emobench.synthetic.identity_net import TRAIN_COMMAND, IdentityNet, IdentityNetConfig, save_identity_net
from emobench.synthetic.judge import resize_for
from emobench.train.standin import cosface_loss
from emobench.train.synthetic_world import augment, fit


@torch.no_grad()
def evaluate(net: IdentityNet, split: str = "test", n_identities: int = 24, size: int = 128) -> dict[str, float]:
    """Scores over renders of ``n_identities`` people × the eight prototype expressions of a split.

    ``ranking``: fraction of (same person other expression, other person) pairs in which the same
    person is the more similar; ``same`` / ``other``: mean cosine of same-person (different
    expression) and of different-person pairs.
    """
    was_training = net.training
    net.eval()
    people = identities(split, n_identities)
    pairs = [(p, c) for p in range(len(people)) for c in range(len(EMOTIONS))]
    images = render_batch([people[p] for p, _ in pairs], [Expression.prototype(c, 1.0) for _, c in pairs], size)
    emb = net(resize_for(images, net.config.input_size))
    owner = torch.tensor([p for p, _ in pairs])
    sim = emb @ emb.T
    same = (owner[:, None] == owner[None, :]) & ~torch.eye(len(pairs), dtype=torch.bool)
    other = owner[:, None] != owner[None, :]
    s, d = sim[same], sim[other]
    ranking = float((s[:, None] > d[None, :]).float().mean())
    net.train(was_training)
    return {"ranking": ranking, "same": float(s.mean()), "other": float(d.mean())}


def run(args: argparse.Namespace) -> int:
    """``emobench train identity``: train, report held-out scores, write ``args.out``."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    config = IdentityNetConfig()
    data = SyntheticTrainingSet("identity", args.identities, config.input_size, args.per_identity, seed=args.seed)
    owners = torch.tensor([p for p, _, _ in data.items])
    net = IdentityNet(config)
    class_weights = torch.nn.Parameter(torch.randn(args.identities, config.dim) * 0.1)

    def loss_of(indices: list[int]) -> torch.Tensor:
        images, _ = data.batch(indices)
        return cosface_loss(net(augment(images, gen)), class_weights, owners[indices])

    fit(list(net.parameters()) + [class_weights], loss_of, len(data), args)
    net.eval()
    scores = evaluate(net)
    print(f"held-out test split: ranking {scores['ranking']:.4f}, same-person cos {scores['same']:.3f}, "
          f"other-person cos {scores['other']:.3f}")
    save_identity_net(net, args.out, {
        "trained_on": "synthetic split 'identity'", "identities": str(args.identities),
        "per_identity": str(args.per_identity), "steps": str(args.steps), "seed": str(args.seed),
        "command": TRAIN_COMMAND, **{f"test_{k}": f"{v:.4f}" for k, v in scores.items()}})
    print(f"wrote {args.out}")
    return 0

"""Train the CGF stand-in encoder (expression + identity embeddings) on the ``encoder`` split.

Reproduce the packaged weights (CPU, one thread, a few minutes)::

    emobench train standin --out emobench/cgf/weights/synthetic_standin_encoder.safetensors

Both heads are trained with a cosine-softmax (CosFace-style margin) over learned class weights:
8 expression classes (margin 0.1) and the encoder-split people (margin 0.2, half weight). The expression prototypes written with the
weights are the normalised mean embeddings of clean prototype renders of each class.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from emobench.labels import EMOTIONS
from emobench.synthetic.dataset import SyntheticTrainingSet
from emobench.synthetic.faces import Expression, identities, render_batch
from emobench.train.synthetic_world import augment, fit
from emobench.cgf.standin import StandInConfig, StandInNet, save_standin


def cosface_loss(embeddings: torch.Tensor, weights: torch.Tensor, labels: torch.Tensor,
                 scale: float = 16.0, margin: float = 0.2) -> torch.Tensor:
    """Cross-entropy over scaled cosines with the true class's cosine reduced by ``margin``."""
    cos = embeddings @ F.normalize(weights, dim=1).T
    cos = cos - margin * F.one_hot(labels, cos.shape[1])
    return F.cross_entropy(scale * cos, labels)


@torch.no_grad()
def class_prototypes(net: StandInNet, split: str, n_identities: int, size: int) -> torch.Tensor:
    """Normalised mean expression embedding per class over clean renders of a split."""
    people = identities(split, n_identities)
    protos = []
    for c in range(len(EMOTIONS)):
        images = render_batch(people, [Expression.prototype(c, 1.0)] * len(people), size)
        protos.append(F.normalize(net(images)[0].mean(0), dim=0))
    return torch.stack(protos)


@torch.no_grad()
def evaluate(net: StandInNet, split: str, n_identities: int, size: int) -> tuple[float, float]:
    """(expression accuracy by nearest prototype, same-vs-different identity accuracy) on a split."""
    people = identities(split, n_identities)
    pairs = [(p, c) for p in range(len(people)) for c in range(len(EMOTIONS))]
    images = render_batch([people[p] for p, _ in pairs], [Expression.prototype(c, 1.0) for _, c in pairs], size)
    expr, ident = net(images)
    labels = torch.tensor([c for _, c in pairs])
    expr_acc = float(((expr @ net.prototypes.T).argmax(1) == labels).float().mean())
    owner = torch.tensor([p for p, _ in pairs])
    sim = ident @ ident.T
    same = owner[:, None] == owner[None, :]
    off_diag = ~torch.eye(len(pairs), dtype=torch.bool)
    # Fraction of (same-person, other-person) pairs where the same person is more similar.
    s, d = sim[same & off_diag], sim[~same]
    id_acc = float((s[:, None] > d[None, :]).float().mean()) if len(s) and len(d) else float("nan")
    return expr_acc, id_acc


def run(args: argparse.Namespace) -> int:
    """``emobench train standin``: train, report held-out accuracies, write ``args.out``."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    config = StandInConfig()
    data = SyntheticTrainingSet("encoder", args.identities, config.input_size, args.per_identity, seed=args.seed)
    owners = torch.tensor([p for p, _, _ in data.items])
    net = StandInNet(config)
    expr_w = torch.nn.Parameter(torch.randn(len(EMOTIONS), config.dim) * 0.1)
    id_w = torch.nn.Parameter(torch.randn(args.identities, config.dim) * 0.1)

    def loss_of(indices: list[int]) -> torch.Tensor:
        images, labels = data.batch(indices)
        expr, ident = net(augment(images, gen))
        # Expression is the head CGF steers by: full weight; identity (for L_id) at half weight so the
        # easy identity cues (skin, hair) do not crowd the subtle expression cues out of the trunk.
        return (cosface_loss(expr, expr_w, labels, scale=16.0, margin=0.1)
                + 0.5 * cosface_loss(ident, id_w, owners[indices]))

    fit(list(net.parameters()) + [expr_w, id_w], loss_of, len(data), args)
    net.eval()
    net.prototypes.copy_(class_prototypes(net, "encoder", 64, config.input_size))
    expr_acc, id_acc = evaluate(net, "test", 24, 128)
    print(f"held-out test split: expression accuracy (nearest prototype) {expr_acc:.3f}, "
          f"identity ranking accuracy {id_acc:.3f}")
    save_standin(net, args.out, {"trained_on": "synthetic split 'encoder'", "identities": str(args.identities),
                                 "steps": str(args.steps), "seed": str(args.seed),
                                 "test_expression_acc": f"{expr_acc:.4f}", "test_identity_acc": f"{id_acc:.4f}"})
    print(f"wrote {args.out}")
    return 0


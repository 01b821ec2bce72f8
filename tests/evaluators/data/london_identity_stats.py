"""CSIM distributions on the London set: same person (neutral vs smiling) vs different people.

Command (from the repository root; numbers quoted in docs/evaluators.md):
    EMOBENCH_WEIGHTS=../shared/weights python tests/evaluators/data/london_identity_stats.py ../shared
"""

import sys
from pathlib import Path

import numpy as np
import torch

from emobench.evaluators import EVALUATORS
from emobench.imageio import load_image


def london_csim(shared: Path, options: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(80×80 similarity matrix neutral×happy, ids); the diagonal is the same person."""
    ev = EVALUATORS.get("identity").from_config(options or {})
    root = shared / "data" / "london_256"
    ids = sorted(p.stem for p in (root / "happy").glob("*.jpg") if (root / "neutral" / p.name).is_file())
    a, _ = ev.embed(torch.stack([load_image(root / "neutral" / f"{i}.jpg") for i in ids]))
    b, _ = ev.embed(torch.stack([load_image(root / "happy" / f"{i}.jpg") for i in ids]))
    return a @ b.T, np.array(ids)


def main(shared: Path) -> None:
    torch.set_num_threads(1)
    sims, ids = london_csim(shared)
    same = np.diag(sims)
    off = ~np.eye(len(ids), dtype=bool)
    diff = sims[off]
    q = lambda v: " ".join(f"{x:.3f}" for x in np.percentile(v, [5, 25, 50, 75, 95]))  # noqa: E731
    print(f"people: {len(ids)}; pairs: {len(same)} same, {len(diff)} different")
    print(f"same-person CSIM      mean {same.mean():.3f} sd {same.std():.3f}  p5/25/50/75/95 {q(same)}")
    print(f"different-person CSIM mean {diff.mean():.3f} sd {diff.std():.3f}  p5/25/50/75/95 {q(diff)}")
    print(f"P(same > different), over all (i, j≠i): {(same[:, None] > sims)[off].mean():.4f}")
    print(f"people whose same-person CSIM beats all 79 others (both directions): "
          f"{np.mean([(sims[i, i] > np.delete(sims[i], i)).all() and (sims[i, i] > np.delete(sims[:, i], i)).all() for i in range(len(ids))]):.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

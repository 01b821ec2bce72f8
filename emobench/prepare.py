"""Align a protocol's faces ahead of a run (``emobench prepare``): every source image (and every
reference image the dataset knows) goes through the dataset's ``align`` once and lands in the face
cache, so the run only reads PNGs. Shards split the images by a hash of their id; shards may run
at the same time (cache writes are atomic).

Example:
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from emobench.cards import apply_overrides, load_method, load_protocol
    >>> from emobench.imageio import save_png
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = save_png(torch.rand(3, 32, 32), root / "happy" / "p1.png")
    >>> _, proto = apply_overrides(load_method("identity"), load_protocol("folder"), [f"dataset.root={root}"])
    >>> prepare(proto, quiet=True)
    PrepareResult(images=1, aligned=0, cached=0, failed=0, errors=[], align='none')
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from tqdm import tqdm

from emobench.building import build_dataset
from emobench.cards import ProtocolCard
from emobench.imageio import ImageReadError
from emobench.labels import EMOTIONS
from emobench.protocol import select_samples

SHOWN = 5


@dataclass
class PrepareResult:
    """What one ``prepare`` did: images in this shard, faces aligned now / already cached / without a face."""

    images: int
    aligned: int
    cached: int
    failed: int
    errors: list[str] = field(default_factory=list)  # the first few, one line each
    align: str = "none"


def in_prepare_shard(sample_id: str, shard: int, num_shards: int) -> bool:
    """Whether an image belongs to shard ``shard`` of ``num_shards`` (by a hash of its id).

    Example:
        >>> sum(in_prepare_shard(str(i), s, 3) for i in range(7) for s in range(3))
        7
    """
    return int(hashlib.sha256(sample_id.encode()).hexdigest()[:12], 16) % num_shards == shard


def prepare(protocol: ProtocolCard, *, shard: int = 0, num_shards: int = 1, quiet: bool = False) -> PrepareResult:
    """Align the protocol's selected images (and their references) into the face cache."""
    dataset = build_dataset(protocol)
    samples = [s for s in select_samples(dataset.samples(), protocol.sources, protocol.per_class)
               if in_prepare_shard(s.id, shard, num_shards)]
    targets = [EMOTIONS.index(t) for t in protocol.targets]
    errors: list[str] = []
    failed = 0
    for sample in tqdm(samples, desc="aligning faces", disable=quiet, unit="image"):
        try:
            dataset.load(sample, protocol.resolution)
            for target in targets:
                dataset.reference(sample, target, protocol.resolution)
        except (ImageReadError, OSError, ValueError) as exc:
            failed += 1
            if len(errors) < SHOWN:
                errors.append(f"{sample.id}: {exc}")
    stats = dataset.face_stats() or {}
    align = str(dataset.describe().get("align", "none"))
    return PrepareResult(len(samples), stats.get("aligned", 0), stats.get("cached", 0), failed, errors, align)

"""Precomputed inverted latents for CGF: DDIM-invert N training images per class once, reuse per target.

Each image is inverted with its source label (contempt as contempt, as the released precompute;
``contempt_source = "neutral"`` maps it to neutral) to t0 and stored with its
first-stage reconstruction (the L2 and reference target) and id. Files live under
``<cache>/<key>/`` where the key hashes the base checkpoint's sha256 and every setting the
latents depend on, as safetensors shards written atomically (``shard-00000.safetensors`` …); a
killed precomputation resumes at the first missing shard and never writes a partial one.

Example:
    >>> from emobench.cgf.config import CGFConfig
    >>> latent_key("ab" * 32, CGFConfig()) == latent_key("ab" * 32, CGFConfig(target="sad"))  # target-free
    True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from emobench.atomic import atomic_path
from emobench.cgf.config import CGFConfig
from emobench.train.data import TrainingData
from emobench.editors.ldm.ddim import ddim_invert
from emobench.editors.ldm.model import LatentDiffusion
from emobench.editors.ldm.schedule import ddim_timesteps
from emobench.labels import NUM_CLASSES, editing_source


def latent_key(checkpoint_sha: str, cfg: CGFConfig) -> str:
    """Cache key of a latent set: base checkpoint sha + precompute settings (not the target)."""
    payload = json.dumps({"checkpoint_sha256": checkpoint_sha, **cfg.precompute_settings()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def default_cache() -> Path:
    """``$EMOBENCH_HOME/cache/cgf_latents`` (beside the weights and feature caches)."""
    from emobench import paths

    return paths.home("cache", "cgf_latents")


@dataclass
class LatentSet:
    """Inverted latents ``z`` at t0, reconstructions ``recon`` in [0, 1], source labels and ids."""

    z: torch.Tensor
    recon: torch.Tensor
    labels: torch.Tensor
    ids: list[str]
    directory: Path

    def __len__(self) -> int:
        return len(self.ids)


def select_indices(labels: list[int], per_class: int, seed: int) -> list[int]:
    """Up to ``per_class`` images of every class, drawn with ``seed``, in a fixed order."""
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    by_class = {c: [i for i, y in enumerate(labels) if y == c] for c in range(NUM_CLASSES)}
    for c in range(NUM_CLASSES):
        pool = by_class[c]
        if pool:
            take = rng.permutation(len(pool))[:per_class]
            chosen += [pool[int(j)] for j in sorted(take)]
    return chosen


def to_uint8(images01: torch.Tensor, mode: str = "truncate") -> torch.Tensor:
    """8-bit copy of images in [0, 1]: ``truncate`` as the released ``(255·x).astype(uint8)``, or ``round``.

    Example:
        >>> to_uint8(torch.tensor([0.5, 1.0])).tolist(), to_uint8(torch.tensor([0.5]), "round").tolist()
        ([127, 255], [128])
    """
    scaled = images01 * 255
    return (scaled.round() if mode == "round" else scaled.floor()).clamp(0, 255).to(torch.uint8)


def _shard_path(directory: Path, index: int) -> Path:
    return directory / f"shard-{index:05d}.safetensors"


def precompute(model: LatentDiffusion, checkpoint_sha: str, cfg: CGFConfig, data: TrainingData,
               cache: Path | None = None, device: torch.device | str = "cpu", shard_size: int = 256,
               log: Callable[[str], None] = print, quiet: bool = False) -> LatentSet:
    """Invert the selected training images (resuming at the first missing shard) and load the set."""
    from safetensors.torch import save_file

    directory = (cache or default_cache()) / latent_key(checkpoint_sha, cfg)
    directory.mkdir(parents=True, exist_ok=True)
    indices = select_indices(data.labels, cfg.per_class, cfg.seed)
    if not indices:
        raise ValueError(f"CGF precompute: the training data {data.description} has no labelled images")
    plan = {"checkpoint_sha256": checkpoint_sha, "settings": cfg.precompute_settings(), "count": len(indices),
            "shard_size": shard_size}
    plan_path = directory / "plan.json"
    if plan_path.is_file() and json.loads(plan_path.read_text()) != plan:
        raise ValueError(f"{directory}: holds latents of another plan; delete the folder to recompute")
    plan_path.write_text(json.dumps(plan, indent=1, sort_keys=True))
    ts = ddim_timesteps(cfg.t0 / model.config.diffusion.timesteps, cfg.ddim_steps, model.config.diffusion.timesteps)
    shards = [indices[i:i + shard_size] for i in range(0, len(indices), shard_size)]
    todo = [k for k in range(len(shards)) if not _shard_path(directory, k).is_file()]
    if todo:
        log(f"precomputing {sum(len(shards[k]) for k in todo)} inverted latents into {directory}")
    bar = tqdm(total=sum(len(shards[k]) for k in todo), desc="inverting", disable=quiet)
    for k in todo:
        zs, recons, labels = [], [], []
        for start in range(0, len(shards[k]), cfg.precompute_batch):
            chunk = shards[k][start:start + cfg.precompute_batch]
            images, y = data.batch(chunk)
            src = torch.tensor([int(v) if cfg.contempt_source == "contempt" else editing_source(int(v)) for v in y],
                               device=device)
            with torch.inference_mode():
                z0 = model.encode_images(images.to(device))
                recons.append(to_uint8(model.decode_latents(z0), cfg.recon_uint8).cpu())
                zs.append(ddim_invert(model, z0, src, ts, cfg.precompute_guidance, cfg.inversion,
                                          chain_end=cfg.chain_end).float().cpu())
            labels.append(src.cpu())
            bar.update(len(chunk))
        with atomic_path(_shard_path(directory, k)) as tmp:
            save_file({"z": torch.cat(zs), "recon": torch.cat(recons), "labels": torch.cat(labels)}, str(tmp),
                      metadata={"indices": json.dumps(shards[k])})
    bar.close()
    return load(directory, len(shards))


def load(directory: Path, n_shards: int | None = None) -> LatentSet:
    """Read every shard of a latent set (in order)."""
    from safetensors import safe_open

    paths = sorted(directory.glob("shard-*.safetensors"))
    if n_shards is not None and len(paths) != n_shards:
        raise ValueError(f"{directory}: expected {n_shards} latent shards, found {len(paths)}")
    z, recon, labels, ids = [], [], [], []
    for p in paths:
        with safe_open(str(p), framework="pt") as fh:  # one open per shard: tensors and ids
            ids += [f"train-{i}" for i in json.loads((fh.metadata() or {})["indices"])]
            z.append(fh.get_tensor("z"))
            recon.append(fh.get_tensor("recon"))
            labels.append(fh.get_tensor("labels"))
    return LatentSet(torch.cat(z), torch.cat(recon).float() / 255, torch.cat(labels), ids, directory)

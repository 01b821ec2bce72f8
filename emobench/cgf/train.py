"""``emobench train cgf``: CLIP-guided finetuning of the U-Net for one target emotion.

Each step takes a batch of precomputed inverted latents (:mod:`emobench.cgf.latents`), runs a
differentiable ``tune_steps``-step DDIM from t0 with the target label (each U-Net call
recomputed in the backward pass when ``grad_checkpoint``), decodes through the frozen first
stage and minimises ``λ_dir·L_dir + λ_id·L_id + λ_ℓ2·L2`` (:mod:`emobench.cgf.losses`) with
AdamW on the U-Net only. The result is ``OUT/cgf-<target>-ldir<λ_dir>.safetensors``: the tuned U-Net with
the run's config, the base checkpoint's sha256 and the loss networks in its metadata.

Example:
    >>> cfg = CGFConfig(target="happy", n_latents=8)
    >>> subset_indices(torch.tensor([0, 1, 2, 1, 0]), cfg, target_label=1)
    [0, 2, 4]
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from emobench.cgf.config import CGFConfig
from emobench.cgf.latents import LatentSet
from emobench.cgf.losses import CGFLoss
from emobench.editors.ldm.ddim import ddim_sample
from emobench.editors.ldm.model import LatentDiffusion
from emobench.editors.ldm.schedule import ddim_timesteps
from emobench.labels import parse_label

FORMAT = "emobench-cgf"

def tuned_stem(cfg: CGFConfig) -> str:
    """``cgf-<target>-ldir<λ_dir>``: tunings of one target with different λ_dir live side by side in one folder."""
    return f"cgf-{cfg.target}-ldir{cfg.lambda_dir:g}"


def tuned_path(out: Path, cfg: CGFConfig) -> Path:
    return out / f"{tuned_stem(cfg)}.safetensors"


def subset_indices(labels: torch.Tensor, cfg: CGFConfig, target_label: int) -> list[int]:
    """Up to ``n_latents`` latents whose source is not the target, drawn with the run's seed."""
    pool = [i for i, y in enumerate(labels.tolist()) if int(y) != target_label]
    rng = np.random.default_rng(cfg.seed + 1)
    take = rng.permutation(len(pool))[:cfg.n_latents]
    return [pool[int(j)] for j in sorted(take)]


def save_tuned(model: LatentDiffusion, path: Path, cfg: CGFConfig, base_sha: str, losses: dict[str, Any],
               steps: int) -> None:
    """The tuned U-Net (raw weights) with everything needed to use and audit it."""
    from safetensors.torch import save_file

    meta = {"format": FORMAT, "target": cfg.target, "base_checkpoint_sha256": base_sha,
            "cgf_config": json.dumps(cfg.to_dict(), sort_keys=True), "loss_networks": json.dumps(losses),
            "lambda_dir": repr(float(cfg.lambda_dir)), "tune_guidance": repr(float(cfg.guidance)),
            "steps": str(steps)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({f"unet.{k}": v.detach().cpu().contiguous() for k, v in model.unet.state_dict().items()}, str(tmp),
              metadata=meta)
    tmp.replace(path)


def finetune(model: LatentDiffusion, latents: LatentSet, cfg: CGFConfig, loss: CGFLoss, out: Path, base_sha: str,
             resume: bool = False, device: torch.device | str = "cpu",
             log: Callable[[str], None] = print) -> Path:
    """Tune ``model.unet`` for ``cfg.target``; returns the tuned checkpoint path."""
    device = torch.device(device)
    target = parse_label(cfg.target)
    model.to(device).eval()
    model.requires_grad_(False)
    model.unet.requires_grad_(True)
    opt = torch.optim.AdamW(model.unet.parameters(), lr=cfg.effective_lr, weight_decay=cfg.weight_decay)
    idx = subset_indices(latents.labels, cfg, target)
    if not idx:
        raise ValueError(f"no precomputed latents with a source other than {cfg.target!r}")
    per_epoch = (len(idx) + cfg.batch_size - 1) // cfg.batch_size
    total = per_epoch * cfg.epochs if cfg.max_steps <= 0 else min(cfg.max_steps, per_epoch * cfg.epochs)
    ts = ddim_timesteps(cfg.t0 / model.config.diffusion.timesteps, cfg.tune_steps, model.config.diffusion.timesteps)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / f"{tuned_stem(cfg)}.state.pt"
    step = 0
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location=device, weights_only=True)
        model.unet.load_state_dict(state["unet"])
        opt.load_state_dict(state["opt"])
        step = int(state["step"])
        log(f"resumed {cfg.target} at step {step}/{total}")
    losses_info = {"direction": loss.direction.info() if loss.direction else None,
                   "identity": loss.identity.info() if loss.identity else None}
    start = time.time()
    while step < total:
        epoch, k = divmod(step, per_epoch)
        order = np.random.default_rng([cfg.seed, epoch]).permutation(len(idx))
        batch = [idx[int(j)] for j in order[k * cfg.batch_size:(k + 1) * cfg.batch_size]]
        z = latents.z[batch].to(device)
        ref = latents.recon[batch].to(device)
        src = latents.labels[batch].to(device)
        tgt = torch.full_like(src, target)
        z0 = ddim_sample(model, z, tgt, ts, cfg.guidance, checkpoint_grad=cfg.grad_checkpoint,
                         chain_end=cfg.chain_end)
        edited = model.decode_latents(z0)
        terms = loss(edited, ref, src, tgt)
        opt.zero_grad(set_to_none=True)
        terms.total.backward()
        opt.step()
        step += 1
        if step % cfg.log_every == 0 or step == total:
            parts = " ".join(f"{k_} {v:.4f}" for k_, v in terms.parts.items())
            log(f"{cfg.target} step {step}/{total} epoch {epoch} {parts} ({time.time() - start:.0f}s)")
            torch.save({"unet": model.unet.state_dict(), "opt": opt.state_dict(), "step": step}, state_path)
    path = tuned_path(out, cfg)
    save_tuned(model, path, cfg, base_sha, losses_info, step)
    state_path.unlink(missing_ok=True)
    log(f"wrote {path}")
    return path

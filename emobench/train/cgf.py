"""``emobench train cgf``: CLIP-guided finetuning of the U-Net for one target emotion.

Each step takes a batch of precomputed inverted latents (:mod:`emobench.train.cgf_latents`), runs a
differentiable ``tune_steps``-step DDIM from t0 with the target label (each U-Net call
recomputed in the backward pass when ``grad_checkpoint``), decodes through the frozen first
stage and minimises ``λ_dir·L_dir + λ_id·L_id + λ_ℓ2·L2`` (:mod:`emobench.cgf.losses`) with
AdamW on the U-Net only. The result is ``OUT/cgf-<target>-ldir<λ_dir>.safetensors``: the tuned U-Net with
the run's config, the base checkpoint's sha256 and the loss networks in its metadata.

Example:
    >>> cfg = CGFConfig(target="happy", n_latents=8, subset="non_target")
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

from emobench.atomic import atomic_path
from emobench.cgf.config import CGFConfig
from emobench.train.cgf_latents import LatentSet
from emobench.cgf.losses import CGFLoss, LossTerms
from emobench.editors.ldm.cgf_editor import FORMAT  # the tuned file's format, read by ldm-cgf
from emobench.editors.ldm.ddim import ddim_sample
from emobench.editors.ldm.model import LatentDiffusion
from emobench.editors.ldm.schedule import ddim_timesteps
from emobench.labels import parse_label


def tuned_stem(cfg: CGFConfig) -> str:
    """``cgf-<target>-ldir<λ_dir>``: tunings of one target with different λ_dir live side by side in one folder."""
    return f"cgf-{cfg.target}-ldir{cfg.lambda_dir:g}"


def tuned_path(out: Path, cfg: CGFConfig) -> Path:
    return out / f"{tuned_stem(cfg)}.safetensors"


def subset_indices(labels: torch.Tensor, cfg: CGFConfig, target_label: int) -> list[int]:
    """Up to ``n_latents`` latents drawn with the run's seed: from every class (``subset = "all"``, the
    released ``random.sample`` over all precomputed latents) or only sources other than the target."""
    pool = [i for i, y in enumerate(labels.tolist()) if cfg.subset == "all" or int(y) != target_label]
    rng = np.random.default_rng(cfg.seed + 1)
    take = rng.permutation(len(pool))[:cfg.n_latents]
    return [pool[int(j)] for j in sorted(take)]


def validation_indices(labels: torch.Tensor, tuning: list[int], cfg: CGFConfig, target_label: int) -> list[int]:
    """Up to ``val_latents`` held-out latents: precomputed like the tuning ones, never in the tuning subset."""
    taken = set(tuning)
    pool = [i for i, y in enumerate(labels.tolist()) if i not in taken
            and (cfg.subset == "all" or int(y) != target_label)]
    rng = np.random.default_rng(cfg.seed + 2)
    return [pool[int(j)] for j in sorted(rng.permutation(len(pool))[:cfg.val_latents])]


def tuning_loss(model: LatentDiffusion, z: torch.Tensor, reference: torch.Tensor, sources: torch.Tensor,
                target: int, timesteps: list[int], cfg: CGFConfig, loss: CGFLoss) -> LossTerms:
    """One CGF objective evaluation: differentiable DDIM from the latents with the target label, decode
    (quantised, unclamped x̂), the losses against the sources' reconstructions."""
    tgt = torch.full_like(sources, target)
    z0 = ddim_sample(model, z, tgt, timesteps, cfg.guidance, checkpoint_grad=cfg.grad_checkpoint,
                     chain_end=cfg.chain_end)
    return loss(model.decode_latents(z0, clamp=False), reference, sources, tgt)


def save_tuned(model: LatentDiffusion, path: Path, cfg: CGFConfig, base_sha: str, losses: dict[str, Any],
               steps: int, selection: dict[str, Any] | None = None) -> None:
    """The tuned U-Net (raw weights) with everything needed to use and audit it."""
    from safetensors.torch import save_file

    meta = {"format": FORMAT, "target": cfg.target, "base_checkpoint_sha256": base_sha,
            "cgf_config": json.dumps(cfg.to_dict(), sort_keys=True), "loss_networks": json.dumps(losses),
            "lambda_dir": repr(float(cfg.lambda_dir)), "tune_guidance": repr(float(cfg.guidance)),
            "steps": str(steps), "selection": json.dumps(selection or {"select": "last", "selected_step": steps})}
    with atomic_path(path) as tmp:
        save_file({f"unet.{k}": v.detach().cpu().contiguous() for k, v in model.unet.state_dict().items()},
                  str(tmp), metadata=meta)


def _validate(model: LatentDiffusion, latents: LatentSet, idx: list[int], target: int, ts: list[int],
              cfg: CGFConfig, loss: CGFLoss, device: torch.device) -> float:
    """Mean total loss over the validation latents (no gradient; batches of ``batch_size``)."""
    total, count = 0.0, 0
    with torch.no_grad():
        for k in range(0, len(idx), cfg.batch_size):
            batch = idx[k:k + cfg.batch_size]
            terms = tuning_loss(model, latents.z[batch].to(device), latents.recon[batch].to(device),
                                latents.labels[batch].to(device), target, ts, cfg, loss)
            total += terms.parts["total"] * len(batch)
            count += len(batch)
    return total / max(count, 1)


def finetune(model: LatentDiffusion, latents: LatentSet, cfg: CGFConfig, loss: CGFLoss, out: Path, base_sha: str,
             resume: bool = False, device: torch.device | str = "cpu",
             log: Callable[[str], None] = print) -> Path:
    """Tune ``model.unet`` for ``cfg.target``; returns the tuned checkpoint path.

    With ``select = "val_loss"`` the U-Net of the validation with the lowest loss is written (the released
    training keeps its top-5 checkpoints by validation loss); with ``"last"`` the final one.
    """
    device = torch.device(device)
    target = parse_label(cfg.target)
    model.to(device).eval()
    model.requires_grad_(False)
    model.unet.requires_grad_(True)
    opt = torch.optim.AdamW(model.unet.parameters(), lr=cfg.effective_lr, weight_decay=cfg.weight_decay)
    idx = subset_indices(latents.labels, cfg, target)
    if not idx:
        raise ValueError(f"no precomputed latents to tune {cfg.target!r} on (subset={cfg.subset!r})")
    val_idx = validation_indices(latents.labels, idx, cfg, target) if cfg.select == "val_loss" else []
    if cfg.select == "val_loss" and not val_idx:
        raise ValueError(f"select='val_loss' needs held-out latents: all {len(latents)} precomputed latents are in "
                         f"the tuning subset (n_latents={cfg.n_latents}); raise per_class or set select='last'")
    per_epoch = (len(idx) + cfg.batch_size - 1) // cfg.batch_size
    total = per_epoch * cfg.epochs if cfg.max_steps <= 0 else min(cfg.max_steps, per_epoch * cfg.epochs)
    val_every = cfg.val_every or per_epoch
    ts = ddim_timesteps(cfg.t0 / model.config.diffusion.timesteps, cfg.tune_steps, model.config.diffusion.timesteps)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / f"{tuned_stem(cfg)}.state.pt"
    step = 0
    best: dict[str, Any] = {"loss": float("inf"), "step": 0, "unet": None}
    history: list[list[float]] = []
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location=device, weights_only=True)
        model.unet.load_state_dict(state["unet"])
        opt.load_state_dict(state["opt"])
        step = int(state["step"])
        if "best_unet" in state:
            best = {"loss": float(state["best_loss"]), "step": int(state["best_step"]), "unet": state["best_unet"]}
            history = [list(v) for v in state["history"].tolist()]
        log(f"resumed {cfg.target} at step {step}/{total}")
    losses_info = {"direction": loss.direction.info() if loss.direction else None,
                   "identity": loss.identity.info() if loss.identity else None}
    start = time.time()
    while step < total:
        epoch, k = divmod(step, per_epoch)
        order = np.random.default_rng([cfg.seed, epoch]).permutation(len(idx))
        batch = [idx[int(j)] for j in order[k * cfg.batch_size:(k + 1) * cfg.batch_size]]
        terms = tuning_loss(model, latents.z[batch].to(device), latents.recon[batch].to(device),
                            latents.labels[batch].to(device), target, ts, cfg, loss)
        opt.zero_grad(set_to_none=True)
        terms.total.backward()
        opt.step()
        step += 1
        validated = val_idx and (step % val_every == 0 or step == total)
        if validated:
            val = _validate(model, latents, val_idx, target, ts, cfg, loss, device)
            history.append([float(step), val])
            if val < best["loss"]:
                best = {"loss": val, "step": step,
                        "unet": {k_: v.detach().clone() for k_, v in model.unet.state_dict().items()}}
            log(f"{cfg.target} validation after {step} steps: loss {val:.4f} on {len(val_idx)} held-out latents "
                f"(best {best['loss']:.4f} after {best['step']})")
        if step % cfg.log_every == 0 or step == total or validated:
            parts = " ".join(f"{k_} {v:.4f}" for k_, v in terms.parts.items())
            log(f"{cfg.target} step {step}/{total} epoch {epoch} {parts} ({time.time() - start:.0f}s)")
            state = {"unet": model.unet.state_dict(), "opt": opt.state_dict(), "step": step}
            if best["unet"] is not None:
                state.update(best_unet=best["unet"], best_loss=best["loss"], best_step=best["step"],
                             history=torch.tensor(history, dtype=torch.float64))
            torch.save(state, state_path)
    if cfg.select == "val_loss" and best["unet"] is not None:
        model.unet.load_state_dict(best["unet"])
    selection = {"select": cfg.select, "selected_step": best["step"] if cfg.select == "val_loss" else step,
                 "validation": history}
    path = tuned_path(out, cfg)
    save_tuned(model, path, cfg, base_sha, losses_info, step, selection)
    state_path.unlink(missing_ok=True)
    log(f"wrote {path}" + (f" (step {best['step']} of {step}, lowest validation loss {best['loss']:.4f})"
                           if cfg.select == "val_loss" else ""))
    return path


def tune_targets(cfg: CGFConfig, targets: list[str], out: Path, cache: Path | None = None, resume: bool = False,
                 device: torch.device | str = "cpu", log: Callable[[str], None] = print,
                 quiet: bool = False) -> list[Path]:
    """The whole ``emobench train cgf``: load the base, build the loss networks, precompute (or reuse) the
    inverted latents once, then tune one U-Net per target from the base weights; returns the tuned files."""
    from emobench.cgf.encoders import build_direction, build_identity
    from emobench.editors.ldm.editor import resolve_checkpoint
    from emobench.editors.ldm.loading import load_ldm
    from emobench.editors.ldm.model import checkpoint_sha256
    from emobench.errors import UserError
    from emobench.train.cgf_latents import precompute
    from emobench.train.data import TrainingData

    path = resolve_checkpoint(cfg.checkpoint)
    base_sha = checkpoint_sha256(path)
    model = load_ldm(path, weights=cfg.base_weights, device=device)
    try:
        direction = build_direction(cfg.direction, device, cfg.templates) if cfg.lambda_dir else None
        identity = build_identity(cfg.identity, device) if cfg.lambda_id else None
        loss = CGFLoss(cfg.loss_weights, direction, identity)
    except (OSError, ValueError) as exc:
        raise UserError(f"train cgf: {exc}") from exc
    data = TrainingData.from_config(cfg.data, model.config.first_stage.resolution)
    latents = precompute(model, base_sha, cfg, data, cache, device, log=log, quiet=quiet)
    base_unet = {k: v.clone() for k, v in model.unet.state_dict().items()}
    written = []
    for target in targets:
        model.unet.load_state_dict(base_unet)  # every target starts from the base weights
        tcfg = CGFConfig.from_mapping({**cfg.to_dict(), "target": target})
        written.append(finetune(model, latents, tcfg, loss, out, base_sha, resume=resume, device=device, log=log))
    return written

"""Trainers for the first stage (VQGAN) and the latent diffusion model — readable top to bottom.

Both loops: AdamW, gradient accumulation, seed control, periodic validation loss and sample
grids, checkpoints that carry their config and optimizer state (``resume`` continues the step
count), DDP when launched under ``torchrun`` (RANK/WORLD_SIZE).

Example (tiny, CPU)::

    emobench train vqgan --config configs/demo_vqgan.toml --out runs/train/vqgan
    emobench train ldm --config configs/demo_ldm.toml --out runs/train/ldm
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from emobench.editors.ldm.config import LDMConfig
from emobench.train.data import TrainingData
from emobench.editors.ldm.model import LatentDiffusion, load_checkpoint, read_metadata


@dataclass(frozen=True)
class TrainConfig:
    """One training run. ``model``: "tiny" | "paper" preset, refined by ``first_stage``/``unet``/``diffusion`` tables."""

    model: str = "tiny"
    steps: int = 1000
    batch_size: int = 32
    grad_accum: int = 1
    # The released rule (main.py --scale_lr, on by default): lr = base_lr × batch × grad_accum × GPUs.
    base_lr: float = 1e-6
    scale_lr: bool = True
    lr: float = 2.4e-5  # used as is when scale_lr = false
    weight_decay: float = 0.01  # AdamW's PyTorch default, which the released code keeps
    seed: int = 0
    log_every: int = 50
    val_every: int = 250
    ckpt_every: int = 500
    val_size: int = 64
    lpips_weight: float = 1.0  # VQGAN perceptual loss weight
    disc_start: int = 10**9  # VQGAN: step at which the patch discriminator switches on
    disc_weight: float = 0.5
    first_stage: str = ""  # LDM: path of the trained first stage (an emobench-ldm or vqgan checkpoint)
    cache_latents: bool = True  # LDM: encode the training images once
    data: dict[str, Any] = field(default_factory=lambda: {"dataset": "synthetic", "split": "train"})
    overrides: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_toml(cls, path: str | Path, extra: Mapping[str, Any] | None = None) -> "TrainConfig":
        import tomllib

        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
        train = dict(raw.pop("train", {}))
        train["data"] = raw.pop("data", train.get("data", {"dataset": "synthetic", "split": "train"}))
        train["overrides"] = {k: raw.pop(k) for k in ("first_stage_config", "unet", "diffusion") if k in raw}
        if raw:
            raise ValueError(f"{path}: unknown table(s) {', '.join(sorted(raw))}; expected train, data, "
                             "first_stage_config, unet, diffusion")
        train.update(extra or {})
        names = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(train) - names)
        if unknown:
            raise ValueError(f"{path}: unknown [train] key(s) {', '.join(unknown)}; expected {', '.join(sorted(names))}")
        return cls(**train)

    def effective_lr(self, world_size: int = 1) -> float:
        """The learning rate in use: the released scaling rule, or ``lr`` as given when ``scale_lr`` is off."""
        if not self.scale_lr:
            return self.lr
        return self.base_lr * self.batch_size * self.grad_accum * world_size

    def ldm_config(self) -> LDMConfig:
        base = LDMConfig.paper() if self.model == "paper" else LDMConfig.tiny()
        if self.model not in ("paper", "tiny"):
            raise ValueError(f"model must be 'paper' or 'tiny', got {self.model!r}")
        d = base.to_dict()
        for key, target in (("first_stage_config", "first_stage"), ("unet", "unet"), ("diffusion", "diffusion")):
            d[target].update(self.overrides.get(key, {}))
        return LDMConfig.from_dict(d)


# ------------------------------------------------------------------------------- distributed helpers

def dist_info() -> tuple[int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def setup_distributed() -> tuple[int, int]:
    rank, world = dist_info()
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return rank, world


def _device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def _save_grid(images: torch.Tensor, path: Path, nrow: int = 8) -> None:
    from torchvision.utils import save_image

    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images.float().cpu(), str(path), nrow=nrow)


def _set_lr(optimizers, lr: float) -> None:
    """On resume the config's learning rate applies (a saved optimizer state would bring back the old one),
    so a second leg can anneal: ``--resume`` with a lower ``lr``."""
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = lr


def _state_path(out: Path) -> Path:
    return out / "last.safetensors"


def _opt_path(out: Path) -> Path:
    return out / "last.optim.pt"


# ------------------------------------------------------------------------------- VQGAN

class PatchDiscriminator(torch.nn.Module):
    """A small PatchGAN discriminator (pix2pix style) for the VQGAN's adversarial loss."""

    def __init__(self, channels: int = 64, layers: int = 3):
        super().__init__()
        mods: list[torch.nn.Module] = [torch.nn.Conv2d(3, channels, 4, 2, 1), torch.nn.LeakyReLU(0.2)]
        ch = channels
        for i in range(1, layers):
            mods += [torch.nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), torch.nn.BatchNorm2d(ch * 2), torch.nn.LeakyReLU(0.2)]
            ch *= 2
        mods += [torch.nn.Conv2d(ch, 1, 4, 1, 1)]
        self.main = torch.nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


def train_vqgan(cfg: TrainConfig, out: Path, resume: bool = False, log: Callable[[str], None] = print) -> Path:
    """Train the first stage: L1 + LPIPS + codebook/commitment, hinge-GAN loss after ``disc_start``."""
    rank, world = setup_distributed()
    device = _device()
    torch.manual_seed(cfg.seed + rank)
    ldm_cfg = cfg.ldm_config()
    model = LatentDiffusion(ldm_cfg)
    vq = model.first_stage.to(device)
    disc = PatchDiscriminator().to(device)
    lr = cfg.effective_lr(world)
    log(f"vqgan lr {lr:.3g} ({'base_lr × batch × grad_accum × GPUs' if cfg.scale_lr else 'lr as given'})")
    opt = torch.optim.Adam(vq.parameters(), lr=lr, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.9))
    step = 0
    out.mkdir(parents=True, exist_ok=True)
    if resume and _state_path(out).is_file():
        loaded = load_checkpoint(_state_path(out), weights="raw")
        vq.load_state_dict(loaded.first_stage.state_dict())
        blob = torch.load(_opt_path(out), map_location="cpu", weights_only=True)
        opt.load_state_dict(blob["opt"]), opt_d.load_state_dict(blob["opt_d"]), disc.load_state_dict(blob["disc"])
        _set_lr((opt, opt_d), lr)
        # (disc is wrapped in DDP only below, after its state is restored)
        step = int(blob["step"])
        log(f"resumed at step {step}")
    perceptual = None
    if cfg.lpips_weight > 0:
        from emobench.evaluators.lpips_net import build_lpips

        perceptual = build_lpips("alex", device)
    if world > 1:  # both networks through their DDP wrappers, so every replica takes the same step
        vq = torch.nn.parallel.DistributedDataParallel(vq)
        disc = torch.nn.parallel.DistributedDataParallel(disc)
    data = TrainingData.from_config(cfg.data, ldm_cfg.first_stage.resolution)
    rng = np.random.default_rng(cfg.seed * 9973 + rank)
    val_idx = list(range(min(cfg.val_size, len(data))))
    start = time.time()
    core = vq.module if world > 1 else vq
    while step < cfg.steps:
        opt.zero_grad(set_to_none=True)
        for _ in range(cfg.grad_accum):
            x, _ = data.batch(rng.integers(0, len(data), cfg.batch_size).tolist())
            x = x.to(device) * 2 - 1
            recon, codebook = vq(x)
            loss = (recon - x).abs().mean() + codebook
            if perceptual is not None:
                loss = loss + cfg.lpips_weight * perceptual(recon, x).mean()
            if step >= cfg.disc_start:
                loss = loss - cfg.disc_weight * disc(recon).mean()
            (loss / cfg.grad_accum).backward()
        opt.step()
        if step >= cfg.disc_start:
            opt_d.zero_grad(set_to_none=True)
            d_loss = F.relu(1 - disc(x)).mean() + F.relu(1 + disc(recon.detach())).mean()
            d_loss.backward()
            opt_d.step()
        step += 1
        if rank == 0 and (step % cfg.log_every == 0 or step == cfg.steps):
            log(f"vqgan step {step}/{cfg.steps} loss {loss.item():.4f} ({time.time() - start:.0f}s)")
        if rank == 0 and (step % cfg.val_every == 0 or step == cfg.steps):
            with torch.no_grad():
                xv, _ = data.batch(val_idx)
                rv, _ = core(xv.to(device) * 2 - 1)
                val = (rv - (xv.to(device) * 2 - 1)).abs().mean().item()
                psnr = -10 * math.log10(F.mse_loss((rv + 1) / 2, xv.to(device)).item() + 1e-12)
            log(f"vqgan val L1 {val:.4f} PSNR {psnr:.2f} dB")
            _save_grid(torch.cat([xv[:8].cpu(), ((rv[:8] + 1) / 2).clamp(0, 1).cpu()]), out / f"recon_{step:07d}.png")
        if rank == 0 and (step % cfg.ckpt_every == 0 or step == cfg.steps):
            model.first_stage = core
            model.save_checkpoint(_state_path(out), {"stage": "vqgan", "step": str(step), "train": json.dumps(asdict(cfg))},
                                  weights="raw")
            disc_core = disc.module if world > 1 else disc
            torch.save({"opt": opt.state_dict(), "opt_d": opt_d.state_dict(), "disc": disc_core.state_dict(),
                        "step": step}, _opt_path(out))
    return _state_path(out)


# ------------------------------------------------------------------------------- LDM

def _encode_all(model: LatentDiffusion, data: TrainingData, device: torch.device, batch: int = 128) -> torch.Tensor:
    chunks = []
    with torch.inference_mode():
        for i in range(0, len(data), batch):
            x, _ = data.batch(range(i, min(i + batch, len(data))))
            chunks.append(model.encode_images(x.to(device)).cpu())
    return torch.cat(chunks)


class DenoiserLoss(torch.nn.Module):
    """The trainable denoiser (U-Net + class embedder) whose ``forward`` is the training loss.

    DDP synchronises gradients only through its wrapper's ``forward``, so the loss must be computed
    there: the trainer wraps this module, never calls ``model.unet`` directly. All randomness (t,
    noise, label dropout) is drawn outside and passed in, so a forward is a pure function.
    """

    def __init__(self, model: LatentDiffusion):
        super().__init__()
        self.unet = model.unet
        self.cond = model.cond
        self.schedule = model.schedule

    def forward(self, z0: torch.Tensor, labels: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
                drop: torch.Tensor) -> torch.Tensor:
        zt = self.schedule.add_noise(z0, noise, t)
        # Both embeddings enter the graph (where() picks), so DDP sees every parameter used each step.
        context = torch.where(drop[:, None, None], self.cond.null(z0.shape[0]), self.cond(labels))
        return F.mse_loss(self.unet(zt, t, context), noise)


def draw_loss_inputs(model: LatentDiffusion, z0: torch.Tensor, gen: torch.Generator,
                     dropout: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Timesteps (uniform), noise and the label-dropout mask for one batch, from ``gen``."""
    d = model.config.diffusion
    t = torch.randint(0, d.timesteps, (z0.shape[0],), generator=gen).to(z0.device)
    noise = torch.randn(z0.shape, generator=gen).to(z0.device)
    p = d.label_dropout if dropout else 0.0
    drop = model.cond.dropout_mask(z0.shape[0], p, d.label_dropout_mode, gen).to(z0.device)
    return t, noise, drop


def diffusion_loss(model: LatentDiffusion, z0: torch.Tensor, labels: torch.Tensor, gen: torch.Generator,
                   dropout: bool = True) -> torch.Tensor:
    """ε-prediction MSE at uniformly drawn timesteps, with the configured label dropout (``dropout=False``:
    none, as the released validation step)."""
    t, noise, drop = draw_loss_inputs(model, z0, gen, dropout)
    return DenoiserLoss(model)(z0, labels.to(z0.device), t, noise, drop)


def _val_loss(model: LatentDiffusion, z0: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return diffusion_loss(model, z0, labels, torch.Generator().manual_seed(1234), dropout=False).item()


def train_ldm(cfg: TrainConfig, out: Path, resume: bool = False, log: Callable[[str], None] = print,
              on_step: Callable[[int, LatentDiffusion], None] | None = None) -> Path:
    """Train the class-conditional U-Net on frozen first-stage latents (AdamW, LitEma, label dropout).

    ``on_step(step, model)`` is called on every rank after each optimizer step and EMA update.
    """
    from emobench.editors.ldm.ddim import ddim_sample
    from emobench.editors.ldm.schedule import ddim_timesteps

    rank, world = setup_distributed()
    device = _device()
    torch.manual_seed(cfg.seed + rank)
    gen = torch.Generator().manual_seed(cfg.seed * 7919 + rank)
    out.mkdir(parents=True, exist_ok=True)
    if resume and _state_path(out).is_file():
        model = load_checkpoint(_state_path(out), weights="both").to(device)
        blob = torch.load(_opt_path(out), map_location="cpu", weights_only=True)
        step = int(blob["step"])
        log(f"resumed at step {step}")
    else:
        if not cfg.first_stage:
            raise ValueError("train ldm: set [train] first_stage = PATH of a trained first stage (emobench train vqgan)")
        stage = load_checkpoint(cfg.first_stage, weights="raw")
        ldm_cfg = cfg.ldm_config()
        if stage.config.first_stage != ldm_cfg.first_stage:
            ldm_cfg = LDMConfig(stage.config.first_stage, ldm_cfg.unet, ldm_cfg.diffusion, ldm_cfg.num_classes)
        model = LatentDiffusion(ldm_cfg)
        model.first_stage.load_state_dict(stage.first_stage.state_dict())
        model.init_ema()
        model = model.to(device)
        blob, step = None, 0
    model.first_stage.requires_grad_(False).eval()
    lr = cfg.effective_lr(world)
    log(f"ldm lr {lr:.3g} ({'base_lr × batch × grad_accum × GPUs' if cfg.scale_lr else 'lr as given'}), "
        f"weight decay {cfg.weight_decay:g}")
    denoiser = DenoiserLoss(model)
    opt = torch.optim.AdamW(denoiser.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    if blob is not None:
        opt.load_state_dict(blob["opt"])
        _set_lr((opt,), lr)
    wrapped: torch.nn.Module = denoiser
    if world > 1:
        wrapped = torch.nn.parallel.DistributedDataParallel(denoiser)  # broadcasts rank 0's weights
        if model.ema is not None:  # replicas start equal, so must their EMA shadows
            for e in model.ema["unet"].parameters():
                torch.distributed.broadcast(e.data, 0)
    data = TrainingData.from_config(cfg.data, model.config.first_stage.resolution)
    labels_all = torch.tensor(data.labels, dtype=torch.long)
    latents = _encode_all(model, data, device) if cfg.cache_latents else None
    rng = np.random.default_rng(cfg.seed * 31 + rank + step)
    start = time.time()
    while step < cfg.steps:
        opt.zero_grad(set_to_none=True)
        for micro in range(cfg.grad_accum):
            idx = rng.integers(0, len(data), cfg.batch_size).tolist()
            if latents is not None:
                z0 = latents[idx].to(device)
            else:
                x, _ = data.batch(idx)
                with torch.no_grad():
                    z0 = model.encode_images(x.to(device))
            t, noise, drop = draw_loss_inputs(model, z0, gen)
            last = micro == cfg.grad_accum - 1
            sync = contextlib.nullcontext() if last or world == 1 else wrapped.no_sync()
            with sync:  # gradients are all-reduced once, on the last micro-batch
                loss = wrapped(z0, labels_all[idx].to(device), t, noise, drop)
                (loss / cfg.grad_accum).backward()
        opt.step()
        model.update_ema()
        step += 1
        if on_step is not None:
            on_step(step, model)
        if rank == 0 and (step % cfg.log_every == 0 or step == cfg.steps):
            log(f"ldm step {step}/{cfg.steps} loss {loss.item():.4f} ({time.time() - start:.0f}s)")
        if rank == 0 and (step % cfg.val_every == 0 or step == cfg.steps):
            vidx = list(range(min(cfg.val_size, len(data))))
            with torch.no_grad():
                z0 = latents[vidx].to(device) if latents is not None else model.encode_images(data.batch(vidx)[0].to(device))
            val = _val_loss(model, z0, labels_all[vidx])
            with model.ema_weights():
                val_ema = _val_loss(model, z0, labels_all[vidx])
                vgen = torch.Generator().manual_seed(1234)
                with torch.no_grad():
                    zT = torch.randn((8, *z0.shape[1:]), generator=vgen).to(device)
                    ts = ddim_timesteps(1.0, 20, model.config.diffusion.timesteps)
                    samples = model.decode_latents(ddim_sample(model, zT, torch.arange(8, device=device), ts, 3.0))
            log(f"ldm val loss {val:.4f} (EMA {val_ema:.4f}; no label dropout)")
            _save_grid(samples, out / f"samples_{step:07d}.png")
        if rank == 0 and (step % cfg.ckpt_every == 0 or step == cfg.steps):
            model.save_checkpoint(_state_path(out), {"stage": "ldm", "step": str(step), "train": json.dumps(asdict(cfg)),
                                                     "lr": repr(lr), "world_size": str(world)})
            torch.save({"opt": opt.state_dict(), "step": step}, _opt_path(out))
    return _state_path(out)


def convert_checkpoint(checkpoint: Path, dest: Path, config: str | Path = "", weights: str = "ema") -> Path:
    """Write ``checkpoint`` (emobench safetensors or the paper's Lightning .ckpt) as emobench safetensors.

    ``weights="ema"``: first stage + EMA U-Net + embedder (inference); ``"both"``: raw and EMA (training).
    The config travels inside the file, so loading it needs no flags.
    """
    from emobench.editors.ldm.loading import checkpoint_format, load_ldm
    from emobench.weights import sha256_file

    if weights not in ("ema", "both"):
        raise ValueError(f"weights must be 'ema' or 'both', got {weights!r}")
    model = load_ldm(checkpoint, weights="both", config=config)
    if checkpoint_format(checkpoint) == "safetensors":
        meta = read_metadata(checkpoint)
        meta.pop("config", None), meta.pop("format", None), meta.pop("ema_updates", None)
    else:
        meta = {"converted_from": Path(checkpoint).name, "source_sha256": sha256_file(Path(checkpoint))}
    model.save_checkpoint(dest, meta, weights=weights if model.ema is not None else "raw")
    return Path(dest)

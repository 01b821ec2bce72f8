"""DDIM inversion and sampling (paper Eqs. 8–9) with classifier-free guidance.

Inversion walks the timesteps upward from the clean latent. ``convention="next"`` (the
paper's released code) evaluates ε at the next, higher timestep on the current latent;
``"current"`` (DiffusionCLIP) evaluates it at the current timestep. Sampling walks back
down with η (0 = deterministic). Both run under ``torch.inference_mode`` for editing and
with autograd for CGF (``checkpoint_grad`` recomputes each U-Net call in the backward pass).

Example:
    >>> import torch
    >>> from emobench.editors.ldm.config import LDMConfig
    >>> from emobench.editors.ldm.model import LatentDiffusion
    >>> m = LatentDiffusion(LDMConfig.tiny()).eval()
    >>> z = torch.randn(1, 3, 16, 16); y = torch.tensor([1]); ts = [1, 100, 200]
    >>> ddim_sample(m, ddim_invert(m, z, y, ts, 1.0), y, ts, 1.0).shape
    torch.Size([1, 3, 16, 16])
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch.utils.checkpoint import checkpoint

from emobench.editors.base import per_sample_noise


def _eps(model, z, t: int, labels, guidance: float, checkpoint_grad: bool, cfg: bool = True) -> torch.Tensor:
    tt = torch.full((z.shape[0],), int(t), device=z.device, dtype=torch.long)
    g = guidance if cfg else 1.0
    if checkpoint_grad and torch.is_grad_enabled():
        return checkpoint(model.eps, z, tt, labels, g, use_reentrant=False)
    return model.eps(z, tt, labels, g)


def _step(model, z, eps, t_from: int, t_to: int) -> torch.Tensor:
    """Deterministic DDIM move from t_from to t_to (either direction): predict x0, re-noise to t_to."""
    a_from = model.schedule.alpha_bar(t_from, z)
    a_to = model.schedule.alpha_bar(t_to, z)
    x0 = (z - (1 - a_from).sqrt() * eps) / a_from.sqrt()
    return a_to.sqrt() * x0 + (1 - a_to).sqrt() * eps


def ddim_invert(model, z0: torch.Tensor, labels: torch.Tensor, timesteps: Sequence[int], guidance: float,
                convention: str = "next", cfg_in_inversion: bool = True, checkpoint_grad: bool = False) -> torch.Tensor:
    """Map a clean latent to the noisy latent at ``timesteps[-1]`` (the edit's t0)."""
    if convention not in ("next", "current"):
        raise ValueError(f"inversion convention must be 'next' or 'current', got {convention!r}")
    ts = [-1] + list(timesteps)  # start from the clean latent (ᾱ = 1)
    z = z0
    for t_cur, t_next in zip(ts[:-1], ts[1:]):
        t_eval = t_next if convention == "next" else max(t_cur, 0)
        eps = _eps(model, z, t_eval, labels, guidance, checkpoint_grad, cfg_in_inversion)
        z = _step(model, z, eps, t_cur, t_next)
    return z


def ddim_sample(model, z: torch.Tensor, labels: torch.Tensor, timesteps: Sequence[int], guidance: float,
                eta: float = 0.0, seeds: Sequence[int] | None = None, checkpoint_grad: bool = False) -> torch.Tensor:
    """Denoise ``z`` at ``timesteps[-1]`` down to a clean latent with the target ``labels`` (CFG γ=``guidance``)."""
    ts = list(timesteps)[::-1] + [-1]
    for i, (t_cur, t_prev) in enumerate(zip(ts[:-1], ts[1:])):
        eps = _eps(model, z, t_cur, labels, guidance, checkpoint_grad)
        if eta == 0 or t_prev < 0:
            z = _step(model, z, eps, t_cur, t_prev)
            continue
        a_cur, a_prev = model.schedule.alpha_bar(t_cur, z), model.schedule.alpha_bar(t_prev, z)
        sigma = eta * ((1 - a_prev) / (1 - a_cur) * (1 - a_cur / a_prev)).sqrt()
        x0 = (z - (1 - a_cur).sqrt() * eps) / a_cur.sqrt()
        s = list(seeds) if seeds is not None else list(range(z.shape[0]))
        noise = per_sample_noise(z.shape[1:], [seed * 1009 + i for seed in s], z.device).to(z.dtype)
        z = a_prev.sqrt() * x0 + (1 - a_prev - sigma ** 2).clamp(min=0).sqrt() * eps + sigma * noise
    return z

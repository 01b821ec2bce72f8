"""Noise schedule and the paper's DDIM timestep rule.

Example:
    >>> from emobench.editors.ldm.config import DiffusionConfig
    >>> s = NoiseSchedule(DiffusionConfig.paper())
    >>> ddim_timesteps(0.5, 40)[:4], ddim_timesteps(0.5, 40)[-1]
    ([1, 12, 25, 38], 500)
    >>> round(float(s.alphas_cumprod[-1]), 5)
    0.0001
"""

from __future__ import annotations

import numpy as np
import torch

from emobench.editors.ldm.config import DiffusionConfig


def ddim_timesteps(strength: float, steps: int, total: int = 1000) -> list[int]:
    """``linspace(0, 1, S) · int(T · s)`` cast to int, first entry replaced by 1 (the released code's rule).

    ``strength`` is t0/T (0.5 → edit from t0 = 500).
    """
    if not 0 < strength <= 1:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    if steps < 2:
        raise ValueError(f"DDIM needs at least 2 steps, got {steps}")
    ts = (np.linspace(0, 1, steps) * int(total * strength)).astype(int)
    ts[0] = 1
    ts = np.minimum(ts, total - 1)
    return [int(t) for t in ts]


class NoiseSchedule:
    """sqrt-linear betas (the paper's "linear"): ``betas = linspace(√start, √end, T)²``."""

    def __init__(self, cfg: DiffusionConfig):
        betas = np.linspace(cfg.linear_start ** 0.5, cfg.linear_end ** 0.5, cfg.timesteps, dtype=np.float64) ** 2
        self.timesteps = cfg.timesteps
        self.betas = torch.from_numpy(betas)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)

    def alpha_bar(self, t: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
        """ᾱ_t broadcast to ``like``'s batch shape; t = -1 means ᾱ = 1 (clean)."""
        t = torch.as_tensor(t, device=self.alphas_cumprod.device).long()
        a = torch.where(t >= 0, self.alphas_cumprod[t.clamp(min=0)], torch.ones((), dtype=torch.float64))
        a = a.to(device=like.device, dtype=like.dtype)
        return a.view(-1, *([1] * (like.ndim - 1))) if a.ndim else a

    def add_noise(self, z0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = self.alpha_bar(t, z0)
        return a.sqrt() * z0 + (1 - a).sqrt() * noise

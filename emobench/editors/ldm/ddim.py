"""DDIM inversion and sampling (paper Eqs. 8–9) with classifier-free guidance.

Inversion walks the timesteps upward from the clean latent. ``convention="next"`` (the
paper's released code) evaluates ε at the next, higher timestep on the current latent;
``"current"`` (DiffusionCLIP) evaluates it at the current timestep. Sampling walks back
down with η (0 = deterministic). Both run under ``torch.inference_mode`` for editing and
with autograd for CGF (``checkpoint_grad`` recomputes each U-Net call in the backward pass).

Chain ends (``chain_end``): the released sampler's ``alphas_prev`` begins with
``alphas_cumprod[0]`` (0.9985), so its inversion starts from ᾱ₀ and its sampling lands on ᾱ₀
(``"alpha0"``, the default). ``"one"`` treats the clean latent as ᾱ = 1 (emobench ≤ 0.1 behaviour;
on the demo model it moves edits 49–64 dB PSNR away from the released code's).

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

from typing import Callable, Sequence

import torch
from torch.utils.checkpoint import checkpoint

from emobench.editors.base import per_sample_noise


def _eps(model, z, t: int, labels, guidance: float, checkpoint_grad: bool, cfg: bool = True) -> torch.Tensor:
    tt = torch.full((z.shape[0],), int(t), device=z.device, dtype=torch.long)
    g = guidance if cfg else 1.0
    if checkpoint_grad and torch.is_grad_enabled():
        return checkpoint(model.eps, z, tt, labels, g, use_reentrant=False)
    return model.eps(z, tt, labels, g)


CHAIN_ENDS = ("alpha0", "one")


def check_chain_end(chain_end: str) -> str:
    if chain_end not in CHAIN_ENDS:
        raise ValueError(f"chain_end must be one of {', '.join(CHAIN_ENDS)}, got {chain_end!r}")
    return chain_end


def _alpha(model, t: int, z: torch.Tensor, chain_end: str) -> torch.Tensor:
    """ᾱ at timestep ``t``; ``t = -1`` is the clean end of the chain (ᾱ₀ or 1, see ``chain_end``)."""
    if t < 0 and chain_end == "alpha0":
        t = 0
    return model.schedule.alpha_bar(t, z)


def _step(model, z, eps, t_from: int, t_to: int, chain_end: str) -> torch.Tensor:
    """Deterministic DDIM move from t_from to t_to (either direction): predict x0, re-noise to t_to."""
    a_from = _alpha(model, t_from, z, chain_end)
    a_to = _alpha(model, t_to, z, chain_end)
    x0 = (z - (1 - a_from).sqrt() * eps) / a_from.sqrt()
    return a_to.sqrt() * x0 + (1 - a_to).sqrt() * eps


def ddim_invert(model, z0: torch.Tensor, labels: torch.Tensor, timesteps: Sequence[int], guidance: float,
                convention: str = "next", cfg_in_inversion: bool = True, checkpoint_grad: bool = False,
                chain_end: str = "alpha0", on_step: Callable[[], None] | None = None) -> torch.Tensor:
    """Map a clean latent to the noisy latent at ``timesteps[-1]`` (the edit's t0); ``on_step`` is called
    after each of the ``len(timesteps)`` steps (progress)."""
    if convention not in ("next", "current"):
        raise ValueError(f"inversion convention must be 'next' or 'current', got {convention!r}")
    check_chain_end(chain_end)
    ts = [-1] + list(timesteps)  # start from the clean end of the chain
    z = z0
    for t_cur, t_next in zip(ts[:-1], ts[1:]):
        t_eval = t_next if convention == "next" else max(t_cur, 0)
        eps = _eps(model, z, t_eval, labels, guidance, checkpoint_grad, cfg_in_inversion)
        z = _step(model, z, eps, t_cur, t_next, chain_end)
        if on_step is not None:
            on_step()
    return z


def ddim_sample(model, z: torch.Tensor, labels: torch.Tensor, timesteps: Sequence[int], guidance: float,
                eta: float = 0.0, seeds: Sequence[int] | None = None, checkpoint_grad: bool = False,
                chain_end: str = "alpha0", on_step: Callable[[], None] | None = None) -> torch.Tensor:
    """Denoise ``z`` at ``timesteps[-1]`` down to a clean latent with the target ``labels`` (CFG γ=``guidance``);
    ``on_step`` is called after each of the ``len(timesteps)`` steps (progress)."""
    check_chain_end(chain_end)
    ts = list(timesteps)[::-1] + [-1]
    for i, (t_cur, t_prev) in enumerate(zip(ts[:-1], ts[1:])):
        eps = _eps(model, z, t_cur, labels, guidance, checkpoint_grad)
        # With ᾱ = 1 at the end, the last step has σ = 0 whatever η; with ᾱ₀ the released sampler adds noise.
        if eta == 0 or (t_prev < 0 and chain_end == "one"):
            z = _step(model, z, eps, t_cur, t_prev, chain_end)
        else:
            z = _stochastic_step(model, z, eps, t_cur, t_prev, chain_end, eta, seeds, i)
        if on_step is not None:
            on_step()
    return z


def _stochastic_step(model, z, eps, t_cur: int, t_prev: int, chain_end: str, eta: float,
                     seeds: Sequence[int] | None, i: int) -> torch.Tensor:
    """One DDIM step with η > 0: per-row noise seeded by the row's seed and the step index."""
    a_cur, a_prev = _alpha(model, t_cur, z, chain_end), _alpha(model, t_prev, z, chain_end)
    sigma = eta * ((1 - a_prev) / (1 - a_cur) * (1 - a_cur / a_prev)).sqrt()
    x0 = (z - (1 - a_cur).sqrt() * eps) / a_cur.sqrt()
    s = list(seeds) if seeds is not None else list(range(z.shape[0]))
    noise = per_sample_noise(z.shape[1:], [seed * 1009 + i for seed in s], z.device).to(z.dtype)
    return a_prev.sqrt() * x0 + (1 - a_prev - sigma ** 2).clamp(min=0).sqrt() * eps + sigma * noise

"""``LatentDiffusion``: first stage + U-Net + class embedder + schedule, with EMA and checkpoints.

Checkpoints are safetensors with the model config in the metadata (loading needs no
flags). ``weights="ema"`` loads the EMA copy (editing), ``"raw"`` the trained weights
(CGF-tuned models are used raw, as in the paper). The paper's released Lightning checkpoints
are read by :mod:`emobench.editors.ldm.released`; :func:`emobench.editors.ldm.loading.load_ldm`
takes either.

Example:
    >>> import torch, tempfile, pathlib
    >>> from emobench.editors.ldm.config import LDMConfig
    >>> m = LatentDiffusion(LDMConfig.tiny())
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.safetensors"
    >>> m.save_checkpoint(p); n = load_checkpoint(p)
    >>> all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), n.state_dict().values()))
    True
"""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Iterator, Mapping

import torch
from torch import nn

from emobench.atomic import atomic_path
from emobench.editors.ldm.config import LDMConfig
from emobench.editors.ldm.embedder import ClassEmbedder
from emobench.editors.ldm.schedule import NoiseSchedule
from emobench.editors.ldm.unet import UNet
from emobench.editors.ldm.vqgan import VQGAN
from emobench.editors.state_dicts import load_strict
from emobench.errors import UserError
from emobench.weights import sha256_file


class CheckpointError(UserError, ValueError):
    """A checkpoint that does not match the model (missing/unexpected keys, bad metadata, unreadable file)."""


class LatentDiffusion(nn.Module):
    """The paper's class-conditional LDM. Denoiser = ``unet`` + ``cond``; ``ema`` holds their EMA copy."""

    def __init__(self, config: LDMConfig):
        super().__init__()
        self.config = config
        self.first_stage = VQGAN(config.first_stage)
        self.unet = UNet(config.unet)
        self.cond = ClassEmbedder(config.num_classes, config.unet.context_dim)
        self.schedule = NoiseSchedule(config.diffusion)
        self.ema: nn.ModuleDict | None = None
        self.ema_updates = 0

    # -- denoiser ---------------------------------------------------------------------------------
    def eps(self, z: torch.Tensor, t: torch.Tensor, labels: torch.Tensor, guidance: float) -> torch.Tensor:
        """ε prediction with classifier-free guidance ``ε_u + γ(ε_c − ε_u)``, both branches in ONE forward.

        ``guidance == 1`` is exactly the conditional model (no unconditional branch is run).
        """
        n = z.shape[0]
        cond = self.cond(labels.to(z.device))
        if guidance == 1.0:
            return self.unet(z, t, cond.to(z.dtype))
        context = torch.cat([cond, self.cond.null(n)]).to(z.dtype)
        out = self.unet(torch.cat([z, z]), torch.cat([t, t]), context)
        eps_c, eps_u = out[:n], out[n:]
        return eps_u + guidance * (eps_c - eps_u)

    # -- first stage ------------------------------------------------------------------------------
    def encode_images(self, images01: torch.Tensor) -> torch.Tensor:
        """Latents of images in [0, 1] (pre-quantisation, times ``scale_factor``)."""
        return self.first_stage.encode(images01 * 2 - 1) * self.config.diffusion.scale_factor

    def decode_latents(self, z: torch.Tensor, clamp: bool = True) -> torch.Tensor:
        """Images in [0, 1] from latents (quantised first); ``clamp=False`` keeps the decoder's overshoot
        (CGF's losses see x̂ unclamped, as in the released code)."""
        x = (self.first_stage.decode(z / self.config.diffusion.scale_factor) + 1) / 2
        return x.clamp(0, 1) if clamp else x

    # -- EMA --------------------------------------------------------------------------------------
    # The released LitEma: a shadow copy of the U-Net only (the class embedder has none), decay
    # min(ema_decay, (1 + n) / (10 + n)) with n the number of updates so far (``ema_warmup``), one
    # update per training batch.
    def init_ema(self) -> None:
        self.ema = nn.ModuleDict({"unet": copy.deepcopy(self.unet)})
        self.ema.requires_grad_(False)
        self.ema_updates = 0

    def ema_decay_at(self, n: int) -> float:
        """Decay used by the ``n``-th EMA update (1-based), as LitEma computes it."""
        d = self.config.diffusion
        return min(d.ema_decay, (1 + n) / (10 + n)) if d.ema_warmup else d.ema_decay

    @torch.no_grad()
    def update_ema(self, decay: float | None = None) -> float:
        """One EMA update of the U-Net shadow; returns the decay used (``decay`` overrides the schedule)."""
        if self.ema is None:
            self.init_ema()
        self.ema_updates += 1
        used = self.ema_decay_at(self.ema_updates) if decay is None else float(decay)
        for e, p in zip(self.ema["unet"].parameters(), self.unet.parameters()):
            e.sub_((1.0 - used) * (e - p.detach()))
        return used

    @contextlib.contextmanager
    def ema_weights(self) -> Iterator[None]:
        """Inside the block the U-Net has the EMA weights (LitEma's ``ema_scope``); restored after."""
        if self.ema is None:
            yield
            return
        backup = {k: v.detach().clone() for k, v in self.unet.state_dict().items()}
        self.unet.load_state_dict(self.ema["unet"].state_dict())
        try:
            yield
        finally:
            self.unet.load_state_dict(backup)

    def use_ema(self) -> None:
        """Swap the EMA weights in as the live U-Net (for sampling)."""
        if self.ema is None:
            raise CheckpointError("this model has no EMA weights")
        self.unet.load_state_dict(self.ema["unet"].state_dict())

    # -- checkpoints ------------------------------------------------------------------------------
    def save_checkpoint(self, path: str | Path, metadata: Mapping[str, str] | None = None,
                        weights: str = "both") -> None:
        """Write safetensors: ``raw`` (unet/cond), ``ema`` (EMA as unet/cond) or ``both`` (raw + ``ema.*``)."""
        from safetensors.torch import save_file

        if weights not in ("raw", "ema", "both"):
            raise ValueError(f"weights must be 'raw', 'ema' or 'both', got {weights!r}")
        state = {f"first_stage.{k}": v for k, v in self.first_stage.state_dict().items()}
        if weights in ("raw", "both"):
            state.update({f"unet.{k}": v for k, v in self.unet.state_dict().items()})
            state.update({f"cond.{k}": v for k, v in self.cond.state_dict().items()})
        if weights in ("ema", "both") and self.ema is not None:
            prefix = "ema." if weights == "both" else ""
            state.update({f"{prefix}unet.{k}": v for k, v in self.ema["unet"].state_dict().items()})
            if weights == "ema":  # the embedder has no EMA copy: an EMA-only file carries the trained one
                state.update({f"cond.{k}": v for k, v in self.cond.state_dict().items()})
        elif weights == "ema":
            raise CheckpointError("weights='ema' but the model has no EMA")
        meta = {"format": "emobench-ldm", "config": json.dumps(self.config.to_dict()), **dict(metadata or {})}
        if self.ema is not None:
            meta["ema_updates"] = str(self.ema_updates)
        with atomic_path(path) as tmp:
            save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(tmp), metadata=meta)


def read_metadata(path: str | Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return dict(fh.metadata() or {})


def _strict_load(module: nn.Module, state: Mapping[str, torch.Tensor], where: str) -> None:
    load_strict(module, state, CheckpointError, f"{where}: state dict does not match the model")


def load_checkpoint(path: str | Path, weights: str = "ema", device: torch.device | str = "cpu") -> LatentDiffusion:
    """Load an emobench LDM checkpoint; ``weights="ema"`` falls back to raw when there is no EMA copy."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LDM checkpoint {path} not found")
    try:
        meta = read_metadata(path)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types for a bad header
        raise CheckpointError(f"{path}: not a readable safetensors file ({type(exc).__name__}); expected an emobench "
                              "LDM checkpoint (the paper's Lightning .ckpt is read by emobench.editors.ldm.loading)") from None
    if meta.get("format") != "emobench-ldm":
        raise CheckpointError(f"{path}: not an emobench LDM checkpoint (metadata format={meta.get('format')!r}); "
                              "the paper's Lightning .ckpt files are read by emobench.editors.ldm.loading.load_ldm")
    model = LatentDiffusion(LDMConfig.from_dict(json.loads(meta["config"])))
    state = load_file(str(path))
    part = lambda prefix: {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}  # noqa: E731
    _strict_load(model.first_stage, part("first_stage."), f"{path} first_stage")
    has_ema = any(k.startswith("ema.unet.") for k in state)
    # Files written before LitEma semantics (emobench 0.1) also carry an EMA of the embedder, ``ema.cond.*``:
    # an EMA edit uses it, as those files meant; training resumes from the raw embedder.
    legacy_ema_cond = any(k.startswith("ema.cond.") for k in state)
    if weights == "ema" and has_ema:
        _strict_load(model.unet, part("ema.unet."), f"{path} ema.unet")
        cond = "ema.cond." if legacy_ema_cond else "cond."
        _strict_load(model.cond, part(cond), f"{path} {cond[:-1]}")
    elif weights in ("ema", "raw"):
        _strict_load(model.unet, part("unet."), f"{path} unet")
        _strict_load(model.cond, part("cond."), f"{path} cond")
    elif weights == "both":
        _strict_load(model.unet, part("unet."), f"{path} unet")
        _strict_load(model.cond, part("cond."), f"{path} cond")
        if has_ema:
            model.init_ema()
            _strict_load(model.ema["unet"], part("ema.unet."), f"{path} ema.unet")
            model.ema_updates = int(meta.get("ema_updates", "0"))
    else:
        raise ValueError(f"weights must be 'ema', 'raw' or 'both', got {weights!r}")
    return model.to(device).eval()


def checkpoint_sha256(path: str | Path) -> str:
    return sha256_file(Path(path))

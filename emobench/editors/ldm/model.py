"""``LatentDiffusion``: first stage + U-Net + class embedder + schedule, with EMA and checkpoints.

Checkpoints are safetensors with the model config in the metadata (loading needs no
flags). ``weights="ema"`` loads the EMA copy (editing), ``"raw"`` the trained weights
(CGF-tuned models are used raw, as in the paper). The paper's Lightning checkpoint layout
(``first_stage_model.*``, ``model.diffusion_model.*``, ``cond_stage_model.*``, ``model_ema.*``)
is read by :func:`load_lightning_checkpoint`, strictly, with a report of missing/unexpected keys.

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

import copy
import json
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from emobench.editors.ldm.config import LDMConfig
from emobench.editors.ldm.embedder import ClassEmbedder
from emobench.editors.ldm.schedule import NoiseSchedule
from emobench.editors.ldm.unet import UNet
from emobench.editors.ldm.vqgan import VQGAN
from emobench.editors.state_dicts import load_strict
from emobench.weights import sha256_file


class CheckpointError(ValueError):
    """A checkpoint that does not match the model (missing/unexpected keys, bad metadata)."""


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

    def decode_latents(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] from latents (quantised first)."""
        x = self.first_stage.decode(z / self.config.diffusion.scale_factor)
        return ((x + 1) / 2).clamp(0, 1)

    # -- EMA --------------------------------------------------------------------------------------
    def init_ema(self) -> None:
        self.ema = nn.ModuleDict({"unet": copy.deepcopy(self.unet), "cond": copy.deepcopy(self.cond)})
        self.ema.requires_grad_(False)

    @torch.no_grad()
    def update_ema(self, decay: float) -> None:
        if self.ema is None:
            self.init_ema()
            return
        for name in ("unet", "cond"):
            for e, p in zip(self.ema[name].parameters(), getattr(self, name).parameters()):
                e.lerp_(p.detach(), 1 - decay)

    def use_ema(self) -> None:
        """Swap the EMA weights in as the live denoiser (for sampling)."""
        if self.ema is None:
            raise CheckpointError("this model has no EMA weights")
        self.unet.load_state_dict(self.ema["unet"].state_dict())
        self.cond.load_state_dict(self.ema["cond"].state_dict())

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
            state.update({f"{prefix}cond.{k}": v for k, v in self.ema["cond"].state_dict().items()})
        elif weights == "ema":
            raise CheckpointError("weights='ema' but the model has no EMA")
        meta = {"format": "emobench-ldm", "config": json.dumps(self.config.to_dict()), **dict(metadata or {})}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(tmp), metadata=meta)
        tmp.replace(path)


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
    meta = read_metadata(path)
    if meta.get("format") != "emobench-ldm":
        raise CheckpointError(f"{path}: not an emobench LDM checkpoint (metadata format={meta.get('format')!r}); "
                              "for the paper's Lightning checkpoints use load_lightning_checkpoint")
    model = LatentDiffusion(LDMConfig.from_dict(json.loads(meta["config"])))
    state = load_file(str(path))
    part = lambda prefix: {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}  # noqa: E731
    _strict_load(model.first_stage, part("first_stage."), f"{path} first_stage")
    has_ema = any(k.startswith("ema.") for k in state)
    if weights == "ema" and has_ema:
        _strict_load(model.unet, part("ema.unet."), f"{path} ema.unet")
        _strict_load(model.cond, part("ema.cond."), f"{path} ema.cond")
    elif weights in ("ema", "raw"):
        _strict_load(model.unet, part("unet."), f"{path} unet")
        _strict_load(model.cond, part("cond."), f"{path} cond")
    elif weights == "both":
        _strict_load(model.unet, part("unet."), f"{path} unet")
        _strict_load(model.cond, part("cond."), f"{path} cond")
        if has_ema:
            model.init_ema()
            _strict_load(model.ema["unet"], part("ema.unet."), f"{path} ema.unet")
            _strict_load(model.ema["cond"], part("ema.cond."), f"{path} ema.cond")
    else:
        raise ValueError(f"weights must be 'ema', 'raw' or 'both', got {weights!r}")
    return model.to(device).eval()


def load_lightning_checkpoint(path: str | Path, config: LDMConfig, weights: str = "ema") -> LatentDiffusion:
    """Read the paper's released Lightning checkpoint (``state_dict`` with CompVis prefixes), strictly.

    The released class embedder has no separate null embedding; it is reported missing unless
    the checkpoint carries ``cond_stage_model.null_embedding.weight``.
    """
    blob = torch.load(str(path), map_location="cpu", weights_only=True)
    state = blob.get("state_dict", blob)
    model = LatentDiffusion(config)
    take = lambda prefix: {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}  # noqa: E731
    _strict_load(model.first_stage, take("first_stage_model."), f"{path} first_stage_model")
    if weights == "ema":
        # Lightning's LitEma stores names with the dots removed: "model_ema.diffusion_modelinput_blocks00weight".
        ema = {k[len("model_ema."):]: v for k, v in state.items() if k.startswith("model_ema.") and k not in
               ("model_ema.decay", "model_ema.num_updates")}
        flat = {"diffusion_model" + k.replace(".", ""): k for k in model.unet.state_dict()}
        unet_state = {flat[k]: v for k, v in ema.items() if k in flat}
        if len(unet_state) != len(flat):
            raise CheckpointError(f"{path}: EMA weights cover {len(unet_state)} of {len(flat)} U-Net tensors")
        _strict_load(model.unet, unet_state, f"{path} model_ema")
    else:
        _strict_load(model.unet, take("model.diffusion_model."), f"{path} model.diffusion_model")
    _strict_load(model.cond, take("cond_stage_model."), f"{path} cond_stage_model")
    return model.eval()


def checkpoint_sha256(path: str | Path) -> str:
    return sha256_file(Path(path))

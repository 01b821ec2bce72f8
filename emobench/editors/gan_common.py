"""Shared pieces of the GAN peer adapters: colour order and range, native size, strict loading.

Example:
    >>> import torch
    >>> x = torch.rand(1, 3, 64, 64)
    >>> y = to_native(x, 128, bgr=True); tuple(y.shape), float(y.min()) >= -1
    ((1, 3, 128, 128), True)
    >>> torch.allclose(from_native(to_native(x, 64, bgr=True), 64, bgr=True), x, atol=1e-6)
    True
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from emobench.editors.state_dicts import load_strict


class GANCheckpointError(ValueError):
    """A GAN checkpoint whose keys or shapes do not match the official layout."""


def to_native(images: torch.Tensor, size: int, bgr: bool) -> torch.Tensor:
    """[0,1] RGB ``(N,3,H,W)`` → [-1,1] at ``size`` in the network's colour order."""
    x = images
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    if bgr:
        x = x.flip(1)
    return x * 2 - 1


def from_native(images: torch.Tensor, size: int, bgr: bool) -> torch.Tensor:
    """[-1,1] network output → [0,1] RGB at ``size`` (the input resolution)."""
    x = ((images + 1) / 2).clamp(0, 1)
    if bgr:
        x = x.flip(1)
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(0, 1)


def strict_load(module: nn.Module, state: Mapping[str, torch.Tensor], where: str) -> None:
    """``load_state_dict(strict=True)`` with a message naming missing, unexpected and mis-shaped keys."""
    load_strict(module, state, GANCheckpointError, f"{where}: not the official layout")


def read_state(path: str | Path, what: str = "checkpoint", option: str = "checkpoint") -> Any:
    """A checkpoint file (tensors / dicts of tensors only: ``weights_only=True``).

    A missing file is a ``FileNotFoundError`` naming ``--set <option>=PATH``; a whole pickled model
    (refused, never unpickled) or a truncated / foreign file is a :class:`GANCheckpointError`
    saying so in one line.

    Example:
        >>> read_state("/nonexistent.ckpt")
        Traceback (most recent call last):
        ...
        FileNotFoundError: checkpoint /nonexistent.ckpt not found; set it with --set checkpoint=PATH
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found; set it with --set {option}=PATH")
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = next((line for line in str(exc).splitlines() if line.strip()), "")
        raise GANCheckpointError(
            f"{path}: the {what} holds objects other than tensors (a whole pickled model?), so it is not unpickled "
            f"(weights_only=True). If you trust the file, re-save its tensors only (torch.save(model.state_dict(), "
            f"...)) and point emobench at the copy ({first})") from exc
    except Exception as exc:  # noqa: BLE001 - the zip reader raises RuntimeError, pickle EOFError, ... on damage
        first = next((line for line in str(exc).splitlines() if line.strip()), "")
        raise GANCheckpointError(f"{path}: cannot read the {what}: truncated or not a PyTorch file "
                                 f"({type(exc).__name__}: {first}); download or save it again") from exc


def disable_running_stats(module: nn.Module) -> None:
    """Use per-instance statistics in every InstanceNorm, as the official code (never in eval mode) does."""
    for m in module.modules():
        if isinstance(m, nn.InstanceNorm2d):
            m.track_running_stats = False
            m.running_mean = None
            m.running_var = None

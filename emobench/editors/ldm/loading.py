"""One entry for every LDM checkpoint a user may hold: emobench safetensors or the paper's Lightning ``.ckpt``.

The format is told from the file's first bytes, not its name: a safetensors header (8-byte
length, then ``{``), a torch zip archive (``PK``) or a legacy torch pickle (``0x80``). Anything
else is a :class:`CheckpointError` naming what was expected.

Example:
    >>> from emobench.editors.ldm.editor import DEMO_CHECKPOINT
    >>> checkpoint_format(DEMO_CHECKPOINT)
    'safetensors'
    >>> load_ldm(DEMO_CHECKPOINT).config.first_stage.resolution
    64
"""

from __future__ import annotations

from pathlib import Path

import torch

from emobench.editors.ldm.model import CheckpointError, LatentDiffusion, load_checkpoint
from emobench.editors.ldm.released import config_from_yaml, load_released_checkpoint


def checkpoint_format(path: str | Path) -> str:
    """``"safetensors"`` or ``"torch"`` (zip or legacy pickle); raises :class:`CheckpointError` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"LDM checkpoint {path} not found (set checkpoint=PATH or 'demo')")
    with open(path, "rb") as fh:
        head = fh.read(9)
    if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < path.stat().st_size:
        return "safetensors"
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
        return "torch"
    raise CheckpointError(f"{path}: neither an emobench .safetensors nor a torch/Lightning .ckpt "
                          f"(first bytes {head[:8]!r}); expected the paper's released checkpoint or an emobench one")


def load_ldm(path: str | Path, weights: str = "ema", config: str | Path = "",
             device: torch.device | str = "cpu") -> LatentDiffusion:
    """Load ``path`` whatever its format; ``config`` (a released-format yaml) sizes a Lightning checkpoint.

    An emobench safetensors file carries its own config, so ``config`` must then be empty.
    """
    kind = checkpoint_format(path)
    if kind == "safetensors":
        if config:
            raise CheckpointError(f"{path} is an emobench checkpoint that carries its own config; "
                                  f"config={config} applies only to the paper's Lightning .ckpt files")
        return load_checkpoint(path, weights=weights, device=device)
    return load_released_checkpoint(path, config_from_yaml(config) if config else None, weights, device)

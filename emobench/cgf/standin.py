"""The offline stand-in for CLIP and ArcFace in CGF: an image encoder trained on synthetic faces.

No CLIP or ArcFace weights exist on the project machines, so the synthetic world gets its own
direction encoder: a small CNN trained (:mod:`emobench.train.standin`, ``emobench train standin``) on the ``encoder``
identity split only — disjoint from the ``judge`` split of the ``synthetic-judge`` evaluator, from
the ``train`` split the demo LDM learned on and from the ``test`` split runs are scored on. It has
two heads on one trunk:

* an **expression embedding** with one prototype per class (the normalised mean embedding of the
  training renders of that class). The prototypes play the part of CLIP's text embeddings in the
  directional loss: ``Δ_text = P[target] − P[source]``;
* an **identity embedding** trained to tell the encoder-split people apart, used for ``L_id``.

It is a stand-in, not CLIP: reports of runs tuned with it say so.

Example:
    >>> import torch
    >>> net = StandInNet(StandInConfig(width=8, dim=16))
    >>> e, i = net(torch.rand(2, 3, 64, 64))
    >>> e.shape, i.shape, net.prototypes.shape
    (torch.Size([2, 16]), torch.Size([2, 16]), torch.Size([8, 16]))
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from emobench.labels import NUM_CLASSES
from emobench.synthetic.judge import conv_trunk
from emobench.weights import MissingWeightError, sha256_file

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "synthetic_standin_encoder.safetensors"
TRAIN_COMMAND = ("emobench train standin --out "
                 "emobench/cgf/weights/synthetic_standin_encoder.safetensors")


@dataclass(frozen=True)
class StandInConfig:
    """input_size: pixels the net sees; width: first-block channels (doubling per block); dim: embedding size."""

    input_size: int = 64
    width: int = 24
    blocks: int = 4
    dim: int = 64


class StandInNet(nn.Module):
    """Conv-BN-ReLU trunk, global average pooling, expression and identity heads (L2-normalised)."""

    def __init__(self, config: StandInConfig):
        super().__init__()
        self.config = config
        # The judge's trunk shape (known to learn the synthetic expressions); in eval mode BatchNorm uses
        # its running statistics, so an embedding does not depend on the rest of the batch.
        self.trunk, channels = conv_trunk(config.width, config.blocks, nn.BatchNorm2d,
                                          lambda: nn.ReLU(inplace=True), bias=False)
        self.expression = nn.Linear(channels, config.dim)
        self.identity = nn.Linear(channels, config.dim)
        self.register_buffer("prototypes", torch.zeros(NUM_CLASSES, config.dim))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(expression, identity)`` unit embeddings of images in [0, 1] of any size (resized here)."""
        x = images
        size = self.config.input_size
        if x.shape[-1] != size or x.shape[-2] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        h = self.trunk((x - 0.5) / 0.25).mean(dim=(2, 3))
        return F.normalize(self.expression(h), dim=1), F.normalize(self.identity(h), dim=1)


def save_standin(net: StandInNet, path: Path, extra: Mapping[str, str]) -> None:
    """Write the weights (with prototypes) and the config as safetensors metadata."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(path), metadata={"standin_config": json.dumps(asdict(net.config)), **dict(extra)})


def load_standin(path: Path | str = DEFAULT_WEIGHTS) -> StandInNet:
    """Read a stand-in encoder checkpoint, strictly; a missing file names the command that makes it."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise MissingWeightError(f"stand-in CGF encoder weights not found at {path}; train them with `{TRAIN_COMMAND}`")
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    if "standin_config" not in meta:
        raise ValueError(f"{path}: not a stand-in encoder checkpoint (no 'standin_config' metadata)")
    net = StandInNet(StandInConfig(**json.loads(meta["standin_config"])))
    net.load_state_dict(load_file(str(path)), strict=True)
    return net.eval()


def standin_sha256(path: Path | str = DEFAULT_WEIGHTS) -> str:
    return sha256_file(Path(path))

"""``synthetic-id``: a small CNN identity embedding for the synthetic world (the identity evaluator's backend).

YuNet finds few of the rendered faces (and SFace was never trained on them), so CSIM on the
synthetic protocol would mostly measure alignment fallbacks. This net is trained
(``emobench train identity``, :mod:`emobench.train.identity`) on renders of the ``identity`` split only, with
random expressions, so it never saw the people an editor trains on (``train``), the judge's
(``judge``), the CGF stand-in encoder's (``encoder``, whose identity head is CGF's loss network)
or the people runs are scored on (``test``). The renders are aligned by construction (eyes at a
fixed height), so it embeds the whole frame: no detection, no alignment. The weights ship in the
package as safetensors with the model config and the reproducing command in the metadata.

Example:
    >>> import torch
    >>> net = load_identity_net(DEFAULT_WEIGHTS)
    >>> e = embed(net, torch.rand(2, 3, 128, 128))
    >>> e.shape, bool(abs((e ** 2).sum(1) - 1).max() < 1e-5)
    ((2, 64), True)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emobench.synthetic.judge import conv_trunk, resize_for
from emobench.weights import MissingWeightError

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "synthetic_identity.safetensors"
TRAIN_COMMAND = "emobench train identity --out emobench/synthetic/weights/synthetic_identity.safetensors"


@dataclass(frozen=True)
class IdentityNetConfig:
    """input_size: pixels the net sees; width: first-block channels (doubling per block); dim: embedding size."""

    input_size: int = 64
    width: int = 16
    blocks: int = 4
    dim: int = 64


class IdentityNet(nn.Module):
    """Conv-BN-ReLU trunk (the judge's shape), global average pooling, a linear embedding (L2-normalised)."""

    def __init__(self, config: IdentityNetConfig):
        super().__init__()
        self.config = config
        # In eval mode BatchNorm uses running statistics: an embedding never depends on its batch.
        self.trunk, channels = conv_trunk(config.width, config.blocks, nn.BatchNorm2d,
                                          lambda: nn.ReLU(inplace=True), bias=False)
        self.head = nn.Linear(channels, config.dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Unit embeddings ``(N, dim)`` of images in [0, 1] already at ``input_size``."""
        h = self.trunk((images - 0.5) / 0.25).mean(dim=(2, 3))
        return F.normalize(self.head(h), dim=1)


@torch.inference_mode()
def embed(net: IdentityNet, images: torch.Tensor) -> np.ndarray:
    """float64 unit embeddings ``(N, dim)`` of ``(N, 3, H, W)`` images in [0, 1] at any size."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"synthetic-id: expected images (N, 3, H, W), got {tuple(images.shape)}")
    device = next(net.parameters()).device
    x = resize_for(images.to(device, torch.float32), net.config.input_size)
    return net(x).double().cpu().numpy()


def save_identity_net(net: IdentityNet, path: Path, extra: Mapping[str, str]) -> None:
    """Write the weights and the config (plus ``extra`` provenance) as safetensors metadata."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(path), metadata={"identity_config": json.dumps(asdict(net.config)), **dict(extra)})


def load_identity_net(path: Path, device: torch.device | str = "cpu") -> IdentityNet:
    """Read a ``synthetic-id`` checkpoint (config in the safetensors metadata), in eval mode."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise MissingWeightError(f"synthetic-id identity weights not found at {path}; train them with "
                                 f"`{TRAIN_COMMAND}` (see docs/synthetic.md)")
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    if "identity_config" not in meta:
        raise ValueError(f"{path}: not a synthetic-id checkpoint (expected 'identity_config' metadata, "
                         f"got keys {sorted(meta)})")
    net = IdentityNet(IdentityNetConfig(**json.loads(meta["identity_config"])))
    net.load_state_dict(load_file(str(path)), strict=True)
    return net.to(device).eval()


def checkpoint_metadata(path: Path) -> dict[str, str]:
    """The provenance stored with a checkpoint (split, steps, held-out scores)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return dict(fh.metadata() or {})


class SyntheticIdentityBackend:
    """What the ``identity`` evaluator calls for ``backend = "synthetic-id"`` (registered in
    :data:`emobench.evaluators.IDENTITY_NETS`, so the evaluators never import the synthetic world)."""

    default_weights = DEFAULT_WEIGHTS

    @staticmethod
    def load(path: Path, device: torch.device | str = "cpu") -> nn.Module:
        return load_identity_net(path, device)

    @staticmethod
    def embed(net: nn.Module, images: torch.Tensor) -> np.ndarray:
        return embed(net, images)

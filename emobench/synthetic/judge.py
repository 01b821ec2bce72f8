"""``synthetic-judge``: a small CNN emotion classifier for the synthetic world.

It is trained here (:mod:`emobench.train.judge`, ``emobench train judge``) on renders of the ``judge``
identity split only, so it never saw the people an editor trains on (``train``) or is
evaluated on (``test``). The weights ship in the package as safetensors with the model
config in the metadata.

Example:
    >>> import torch
    >>> judge = SyntheticJudge.from_config({})
    >>> judge.predict_proba(torch.rand(2, 3, 96, 96)).shape
    torch.Size([2, 8])
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from emobench.options import options_from_mapping
from emobench.evaluators.base import EvaluatorInfo
from emobench.evaluators.emotion_base import EmotionClassifier
from emobench.labels import NUM_CLASSES
from emobench.weights import MissingWeightError, sha256_file

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "synthetic_judge.safetensors"


@dataclass(frozen=True)
class JudgeConfig:
    """input_size: pixels the net sees; width: channels of the first block (doubles per block)."""

    input_size: int = 64
    width: int = 24
    blocks: int = 4


def conv_trunk(width: int, blocks: int, norm: Callable[[int], nn.Module], act: Callable[[], nn.Module],
               bias: bool) -> tuple[nn.Sequential, int]:
    """``blocks`` × (conv-norm-act, stride-2 conv-norm-act), channels ``width·2^b``; returns (trunk, out channels).

    Example:
        >>> trunk, ch = conv_trunk(8, 2, nn.BatchNorm2d, nn.ReLU, bias=False)
        >>> trunk(torch.rand(1, 3, 16, 16)).shape, ch
        (torch.Size([1, 16, 4, 4]), 16)
    """
    layers: list[nn.Module] = []
    channels = 3
    for b in range(blocks):
        out = width * 2 ** b
        layers += [nn.Conv2d(channels, out, 3, padding=1, bias=bias), norm(out), act(),
                   nn.Conv2d(out, out, 3, stride=2, padding=1, bias=bias), norm(out), act()]
        channels = out
    return nn.Sequential(*layers), channels


class JudgeNet(nn.Module):
    """Conv-BN-ReLU blocks with stride-2 downsampling, global average pooling, linear head."""

    def __init__(self, config: JudgeConfig):
        super().__init__()
        self.config = config
        self.features, channels = conv_trunk(config.width, config.blocks, nn.BatchNorm2d,
                                             lambda: nn.ReLU(inplace=True), bias=False)
        self.head = nn.Linear(channels, NUM_CLASSES)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, 8)`` for images in [0, 1] already at ``input_size``."""
        x = (images - 0.5) / 0.25
        return self.head(self.features(x).mean(dim=(2, 3)))


def resize_for(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``(N,3,H,W)`` to ``size`` (antialiased when shrinking)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def load_judge(path: Path) -> JudgeNet:
    """Read a judge checkpoint (config in the safetensors metadata)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    if not path.is_file():
        raise MissingWeightError(f"synthetic judge weights not found at {path}; train them with "
                                 "`emobench train judge --out PATH` (see docs/synthetic.md)")
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    if "judge_config" not in meta:
        raise ValueError(f"{path}: not a synthetic-judge checkpoint (no 'judge_config' metadata)")
    net = JudgeNet(JudgeConfig(**json.loads(meta["judge_config"])))
    net.load_state_dict(load_file(str(path)), strict=True)
    return net.eval()


def save_judge(net: JudgeNet, path: Path, extra: Mapping[str, str]) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(path), metadata={"judge_config": json.dumps(asdict(net.config)), **dict(extra)})


@dataclass(frozen=True)
class JudgeOptions:
    """weights: a checkpoint path; empty = the packaged one."""

    weights: str = ""


class SyntheticJudge(EmotionClassifier):
    """The packaged synthetic-world emotion judge behind the ``emotion`` evaluator."""

    def __init__(self, net: JudgeNet, path: Path, device: torch.device | str = "cpu"):
        self.net = net.to(device)
        self.device = torch.device(device)
        self.path = path
        self.sha256 = sha256_file(path)

    @classmethod
    def from_config(cls, options: Mapping[str, Any], device: torch.device | str = "cpu") -> "SyntheticJudge":
        opts = options_from_mapping(JudgeOptions, options, "synthetic-judge options")
        path = Path(opts.weights).expanduser() if opts.weights else DEFAULT_WEIGHTS
        return cls(load_judge(path), path, device)

    def info(self) -> EvaluatorInfo:
        return EvaluatorInfo(name="emotion", backend="synthetic-judge",
                             weights_sha256={self.path.name: self.sha256},
                             settings={"input_size": self.net.config.input_size})

    @torch.inference_mode()
    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        x = resize_for(images.to(self.device, torch.float32), self.net.config.input_size)
        return torch.softmax(self.net(x), dim=1).float().cpu()

"""IR-SE50 ArcFace (TreB1eN's InsightFace_Pytorch layout) as a differentiable identity loss network.

The released CGF code computes ``L_id = 1 − ⟨f(x̂), f(x0)⟩`` with this backbone
(``model_ir_se50.pth``): images in [-1, 1], adaptive-average-pooled to 112×112, embeddings
L2-normalised. The module here uses the same parameter names so that file loads strictly
(old files without BatchNorm ``num_batches_tracked`` buffers are accepted; nothing else may
be missing or unexpected).

Example:
    >>> import torch
    >>> net = IRSE50(num_layers=50).eval()
    >>> net(torch.rand(1, 3, 112, 112) * 2 - 1).shape
    torch.Size([1, 512])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from emobench.weights import MissingWeightError, sha256_file

UNITS = {50: (3, 4, 14, 3), 100: (3, 13, 30, 3), 152: (3, 8, 36, 3)}


class Flatten(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)


class SEModule(nn.Module):
    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class BottleneckIRSE(nn.Module):
    def __init__(self, in_channels: int, depth: int, stride: int):
        super().__init__()
        if in_channels == depth:
            self.shortcut_layer: nn.Module = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(in_channels, depth, 1, stride, bias=False),
                                                nn.BatchNorm2d(depth))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_channels), nn.Conv2d(in_channels, depth, 3, 1, 1, bias=False), nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False), nn.BatchNorm2d(depth), SEModule(depth, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class IRSE50(nn.Module):
    """``Backbone(input_size=112, num_layers, mode='ir_se')``: 112×112 in [-1, 1] → unit 512-d embedding."""

    def __init__(self, num_layers: int = 50, drop_ratio: float = 0.4):
        super().__init__()
        if num_layers not in UNITS:
            raise ValueError(f"num_layers must be one of {sorted(UNITS)}, got {num_layers}")
        self.input_layer = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64))
        blocks: list[nn.Module] = []
        for (cin, depth), units in zip(((64, 64), (64, 128), (128, 256), (256, 512)), UNITS[num_layers]):
            blocks.append(BottleneckIRSE(cin, depth, 2))
            blocks += [BottleneckIRSE(depth, depth, 1) for _ in range(units - 1)]
        self.body = nn.Sequential(*blocks)
        self.output_layer = nn.Sequential(nn.BatchNorm2d(512), nn.Dropout(drop_ratio), Flatten(),
                                          nn.Linear(512 * 7 * 7, 512), nn.BatchNorm1d(512))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.output_layer(self.body(self.input_layer(x))), dim=1)


def load_irse50(path: Path) -> IRSE50:
    """Read ``model_ir_se50.pth`` (a plain state dict), strictly; verifies nothing is missing or extra."""
    from emobench.editors.state_dicts import load_strict

    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    net = IRSE50(50)
    for key, value in net.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in state:  # saved by torch < 0.4.1
            state[key] = torch.zeros_like(value)
    load_strict(net, state, ValueError, f"{path} is not an IR-SE50 (TreB1eN) state dict")
    return net.eval()


def find_weights(spec_path: str = "") -> Path:
    """An explicit path, else the weights manager's ``irse50-arcface`` (``$EMOBENCH_WEIGHTS/arcface/model_ir_se50.pth``)."""
    if spec_path:
        path = Path(spec_path).expanduser()
        if not path.is_file():
            raise MissingWeightError(f"IR-SE50 weights not found at {path}")
        return path
    from emobench.weights import resolve

    try:
        return resolve("irse50-arcface")
    except MissingWeightError as exc:
        raise MissingWeightError(f"{exc}. Download model_ir_se50.pth from TreB1eN/InsightFace_Pytorch (the file "
                                 "the paper's code uses) or pass identity=irse50:PATH") from exc


class IRSE50Identity:
    """``L_id`` network of the released code: [0, 1] → [-1, 1], pooled to 112, IR-SE50, unit embedding."""

    def __init__(self, net: IRSE50, path: Path | None, sha256: str = ""):
        self.net = net.eval().requires_grad_(False)
        self.path = path
        self.sha256 = sha256
        self.pool = nn.AdaptiveAvgPool2d((112, 112))

    @classmethod
    def load(cls, spec_path: str = "", device: torch.device | str = "cpu") -> "IRSE50Identity":
        path = find_weights(spec_path)
        return cls(load_irse50(path).to(device), path, sha256_file(path))

    def to(self, device: torch.device | str) -> "IRSE50Identity":
        self.net.to(device)
        return self

    def embeddings(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(self.pool(images.clamp(0, 1) * 2 - 1))

    def info(self) -> dict[str, Any]:
        weights = {self.path.name: self.sha256} if self.path else {}
        return {"backend": "irse50", "model": "IR-SE50 ArcFace (TreB1eN)", "weights_sha256": weights}

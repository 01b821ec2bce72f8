"""StarGAN v2's networks with the official parameter names (clovaai/stargan-v2 ``core/model.py`` layout):
generator, mapping network, style encoder and the high-pass filter.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


HPF_KERNEL = torch.tensor([[-1.0, -1.0, -1.0], [-1.0, 8.0, -1.0], [-1.0, -1.0, -1.0]])


class ResBlk(nn.Module):
    """Pre-activation residual block of the encoder and style encoder; output scaled by 1/√2 (unit variance)."""

    def __init__(self, dim_in: int, dim_out: int, normalize: bool = False, downsample: bool = False):
        super().__init__()
        self.normalize = normalize
        self.downsample = downsample
        self.learned_sc = dim_in != dim_out
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        if normalize:
            self.norm1 = nn.InstanceNorm2d(dim_in, affine=True)
            self.norm2 = nn.InstanceNorm2d(dim_in, affine=True)
        if self.learned_sc:
            self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv1x1(x) if self.learned_sc else x
        h = self.norm1(x) if self.normalize else x
        h = self.conv1(F.leaky_relu(h, 0.2))
        if self.downsample:
            shortcut, h = F.avg_pool2d(shortcut, 2), F.avg_pool2d(h, 2)
        h = self.norm2(h) if self.normalize else h
        h = self.conv2(F.leaky_relu(h, 0.2))
        return (shortcut + h) / math.sqrt(2)


class AdaIN(nn.Module):
    """Instance norm whose scale and shift come from the style: ``(1 + γ(s)) · norm(x) + β(s)``."""

    def __init__(self, style_dim: int, num_features: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(num_features, affine=False)
        self.fc = nn.Linear(style_dim, num_features * 2)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.fc(s)[:, :, None, None].chunk(2, dim=1)
        return (1 + gamma) * self.norm(x) + beta


class AdainResBlk(nn.Module):
    """Decoder block. With ``w_hpf > 0`` the official block drops its shortcut (``conv1x1`` is kept, unused)."""

    def __init__(self, dim_in: int, dim_out: int, style_dim: int = 64, w_hpf: float = 0.0, upsample: bool = False):
        super().__init__()
        self.w_hpf = w_hpf
        self.upsample = upsample
        self.learned_sc = dim_in != dim_out
        self.conv1 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, 1, 1)
        self.norm1 = AdaIN(style_dim, dim_in)
        self.norm2 = AdaIN(style_dim, dim_out)
        if self.learned_sc:
            self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest") if self.upsample else x
        return self.conv1x1(x) if self.learned_sc else x

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.norm1(x, s), 0.2)
        h = F.interpolate(h, scale_factor=2, mode="nearest") if self.upsample else h
        h = self.conv2(F.leaky_relu(self.norm2(self.conv1(h), s), 0.2))
        if self.w_hpf == 0:
            h = (h + self._shortcut(x)) / math.sqrt(2)
        return h


class HighPass(nn.Module):
    """Depth-wise 3×3 Laplacian scaled by ``1 / w_hpf``.

    The released checkpoints predate the official ``filter`` buffer, so it is non-persistent
    here: never expected in a state dict (a saved one is read for ``w_hpf`` and dropped).
    """

    def __init__(self, w_hpf: float):
        super().__init__()
        self.register_buffer("filter", HPF_KERNEL / w_hpf, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = self.filter[None, None].expand(x.shape[1], 1, 3, 3)
        return F.conv2d(x, kernel, padding=1, groups=x.shape[1])


def _log2(img_size: int) -> int:
    if img_size < 1 or img_size & (img_size - 1):
        raise ValueError(f"StarGAN v2 img_size must be a power of two, got {img_size}")
    return img_size.bit_length() - 1


class Generator(nn.Module):
    """Encoder (``from_rgb``, ``encode``), style-modulated decoder (``decode``, ``to_rgb``) and ``hpf``."""

    def __init__(self, img_size: int = 256, style_dim: int = 64, max_conv_dim: int = 512, w_hpf: float = 1.0):
        super().__init__()
        dim_in = 2 ** 14 // img_size
        repeat_num = _log2(img_size) - 4 + (1 if w_hpf > 0 else 0)
        if repeat_num < 1:
            raise ValueError(f"StarGAN v2 generator needs img_size >= 32 (16 with w_hpf > 0), got {img_size}")
        self.img_size = img_size
        self.from_rgb = nn.Conv2d(3, dim_in, 3, 1, 1)
        self.encode = nn.ModuleList()
        self.decode = nn.ModuleList()
        self.to_rgb = nn.Sequential(nn.InstanceNorm2d(dim_in, affine=True), nn.LeakyReLU(0.2),
                                    nn.Conv2d(dim_in, 3, 1, 1, 0))
        dim_out = dim_in
        for _ in range(repeat_num):  # down/up-sampling blocks; the decoder is built as a stack
            dim_out = min(dim_in * 2, max_conv_dim)
            self.encode.append(ResBlk(dim_in, dim_out, normalize=True, downsample=True))
            self.decode.insert(0, AdainResBlk(dim_out, dim_in, style_dim, w_hpf=w_hpf, upsample=True))
            dim_in = dim_out
        for _ in range(2):  # bottleneck
            self.encode.append(ResBlk(dim_out, dim_out, normalize=True))
            self.decode.insert(0, AdainResBlk(dim_out, dim_out, style_dim, w_hpf=w_hpf))
        if w_hpf > 0:
            self.hpf = HighPass(w_hpf)

    def forward(self, x: torch.Tensor, s: torch.Tensor,
                masks: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        x = self.from_rgb(x)
        cache = {}
        for block in self.encode:
            if masks is not None and x.shape[2] in (32, 64, 128):
                cache[x.shape[2]] = x
            x = block(x)
        for block in self.decode:
            x = block(x, s)
            if masks is not None and x.shape[2] in (32, 64, 128):
                # The whole-face mask at 32 px, the inner-face mask at 64 and 128 px (official choice).
                mask = masks[0] if x.shape[2] == 32 else masks[1]
                mask = F.interpolate(mask, size=x.shape[2], mode="bilinear", align_corners=False)
                x = x + self.hpf(mask * cache[x.shape[2]])
        return self.to_rgb(x)


def _pick(heads: nn.ModuleList, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Row i of the result is ``heads[y[i]](h[i])``; only the heads that some row needs are run."""
    s = None
    for k in y.unique().tolist():
        rows = (y == k).nonzero(as_tuple=True)[0]
        value = heads[k](h[rows])
        if s is None:
            s = value.new_empty(h.shape[0], value.shape[1])
        s[rows] = value
    return s


class MappingNetwork(nn.Module):
    """Latent ``z`` → style of domain ``y``: a shared MLP (``shared``) and one head per domain (``unshared``)."""

    def __init__(self, latent_dim: int = 16, style_dim: int = 64, num_domains: int = 2, hidden_dim: int = 512):
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(latent_dim, hidden_dim), nn.ReLU()]
        for _ in range(3):
            layers += [nn.Linear(hidden_dim, hidden_dim), nn.ReLU()]
        self.shared = nn.Sequential(*layers)
        self.unshared = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                          nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, style_dim))
            for _ in range(num_domains))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return _pick(self.unshared, self.shared(z), y)


class StyleEncoder(nn.Module):
    """Image → style of domain ``y``: a shared conv trunk (``shared``) and one linear head per domain."""

    def __init__(self, img_size: int = 256, style_dim: int = 64, num_domains: int = 2, max_conv_dim: int = 512):
        super().__init__()
        dim_in = 2 ** 14 // img_size
        blocks: list[nn.Module] = [nn.Conv2d(3, dim_in, 3, 1, 1)]
        dim_out = dim_in
        for _ in range(_log2(img_size) - 2):  # down to 4 × 4
            dim_out = min(dim_in * 2, max_conv_dim)
            blocks.append(ResBlk(dim_in, dim_out, downsample=True))
            dim_in = dim_out
        blocks += [nn.LeakyReLU(0.2), nn.Conv2d(dim_out, dim_out, 4, 1, 0), nn.LeakyReLU(0.2)]
        self.shared = nn.Sequential(*blocks)
        self.unshared = nn.ModuleList(nn.Linear(dim_out, style_dim) for _ in range(num_domains))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return _pick(self.unshared, self.shared(x).flatten(1), y)

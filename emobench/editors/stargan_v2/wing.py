"""The FAN landmark network StarGAN v2 uses for its high-pass face masks (``w_hpf > 0``).

StarGAN v2's CelebA-HQ model keeps the source's fine facial detail by adding high-pass
filtered encoder features back in the decoder, masked by face-landmark heatmaps. The
heatmaps come from a 1-stack FAN with CoordConv (the "wing" model of the official
``core/wing.py``, 98 WFLW landmarks + 1 boundary channel). The parameter names here are the
official ones, so the ``fan`` entry of ``{step}_nets_ema.ckpt`` and the ``state_dict`` of
``wing.ckpt`` load strictly. The CoordConv coordinate maps are fixed, not learned: they are
non-persistent buffers and never expected in a state dict.

:func:`face_masks` turns 98 heatmaps into the two masks the generator uses (the whole face
at 32 px; the face without jaw line, mouth and eyebrows at 64 and 128 px), step by step as
the official ``preprocess``.

Example:
    >>> import torch
    >>> fan = FAN().eval()
    >>> sorted(fan.state_dict())[:2], fan.l0.out_channels
    (['bn1.bias', 'bn1.num_batches_tracked'], 99)
    >>> full, inner = face_masks(torch.rand(1, 98, 256, 256))
    >>> tuple(full.shape), float(full.max()) <= 1.0
    ((1, 1, 256, 256), True)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: The FAN's working resolution: images are resized to it, heatmaps come out at a quarter of it.
FAN_SIZE = 256
NUM_LANDMARKS = 98


def _coordinate_maps(height: int, width: int) -> torch.Tensor:
    """``(1, 3, H, W)``: row coordinate, column coordinate (both in [-1, 1]) and their radius / max."""
    rows = (torch.arange(height, dtype=torch.float32) / (height - 1) * 2 - 1)[:, None].expand(height, width)
    cols = (torch.arange(width, dtype=torch.float32) / (width - 1) * 2 - 1)[None, :].expand(height, width)
    radius = torch.sqrt(rows ** 2 + cols ** 2)
    return torch.stack([rows, cols, radius / radius.max()])[None]


class CoordConvTh(nn.Module):
    """A convolution over the input plus 3 coordinate channels (official name ``conv``).

    The official layer can also append boundary-heatmap coordinates; StarGAN's FAN never
    passes a heatmap and its hourglass layer reserves no channels for them, so only the
    three fixed maps are used.
    """

    def __init__(self, height: int, width: int, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, padding: int = 0):
        super().__init__()
        self.register_buffer("coords", _coordinate_maps(height, width), persistent=False)
        self.conv = nn.Conv2d(in_channels + 3, out_channels, kernel_size, stride, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([x, self.coords.expand(x.shape[0], -1, -1, -1)], dim=1))


class ConvBlock(nn.Module):
    """Pre-activation block whose three convolutions (½, ¼, ¼ of the width) are concatenated."""

    def __init__(self, in_planes: int, out_planes: int):
        super().__init__()
        half, quarter = out_planes // 2, out_planes // 4
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, half, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(half)
        self.conv2 = nn.Conv2d(half, quarter, 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(quarter)
        self.conv3 = nn.Conv2d(quarter, quarter, 3, 1, 1, bias=False)
        self.downsample = None
        if in_planes != out_planes:
            self.downsample = nn.Sequential(nn.BatchNorm2d(in_planes), nn.ReLU(True),
                                            nn.Conv2d(in_planes, out_planes, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = self.conv1(F.relu(self.bn1(x)))
        out2 = self.conv2(F.relu(self.bn2(out1)))
        out3 = self.conv3(F.relu(self.bn3(out2)))
        residual = x if self.downsample is None else self.downsample(x)
        return torch.cat([out1, out2, out3], dim=1) + residual


class HourGlass(nn.Module):
    """One hourglass of ``depth`` levels; modules ``b1_L``, ``b2_L``, ``b3_L`` per level and ``b2_plus_1``."""

    def __init__(self, depth: int = 4, features: int = 256, size: int = FAN_SIZE // 4):
        super().__init__()
        self.depth = depth
        self.coordconv = CoordConvTh(size, size, features, features, kernel_size=1)
        # Registered in the official order (b1, b2 of each level downwards, then b3 on the way up),
        # so ``state_dict()`` lists keys exactly as the official module does.
        self._add_level(depth, features)

    def _add_level(self, level: int, features: int) -> None:
        self.add_module(f"b1_{level}", ConvBlock(features, features))
        self.add_module(f"b2_{level}", ConvBlock(features, features))
        if level > 1:
            self._add_level(level - 1, features)
        else:
            self.add_module(f"b2_plus_{level}", ConvBlock(features, features))
        self.add_module(f"b3_{level}", ConvBlock(features, features))

    def _level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        skip = self._modules[f"b1_{level}"](x)
        low = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2, stride=2))
        low = self._level(level - 1, low) if level > 1 else self._modules[f"b2_plus_{level}"](low)
        low = self._modules[f"b3_{level}"](low)
        return skip + F.interpolate(low, scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._level(self.depth, self.coordconv(x))


class FAN(nn.Module):
    """The official 1-stack FAN: ``conv1`` … ``conv4``, hourglass ``m0``, ``top_m_0``, ``conv_last0``, ``bn_end0``,
    ``l0``.

    Input: RGB in [0, 1] at 256 × 256; output: ``(N, 99, 64, 64)`` heatmaps (98 landmarks and a boundary map).
    """

    def __init__(self, num_landmarks: int = NUM_LANDMARKS):
        super().__init__()
        self.conv1 = CoordConvTh(FAN_SIZE, FAN_SIZE, 3, 64, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = ConvBlock(64, 128)
        self.conv3 = ConvBlock(128, 128)
        self.conv4 = ConvBlock(128, 256)
        self.m0 = HourGlass(4, 256)
        self.top_m_0 = ConvBlock(256, 256)
        self.conv_last0 = nn.Conv2d(256, 256, 1, 1, 0)
        self.bn_end0 = nn.BatchNorm2d(256)
        self.l0 = nn.Conv2d(256, num_landmarks + 1, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.avg_pool2d(self.conv2(x), 2, stride=2)
        x = self.conv4(self.conv3(x))
        x = self.top_m_0(self.m0(x))
        x = F.relu(self.bn_end0(self.conv_last0(x)))
        return self.l0(x)

    @torch.no_grad()
    def get_heatmap(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The generator's two masks ``(N, 1, 256, 256)`` for images ``x`` in [-1, 1] (any size)."""
        x = F.interpolate(x, size=(FAN_SIZE, FAN_SIZE), mode="bilinear", align_corners=False)
        heatmaps = self(x * 0.5 + 0.5)[:, :-1]  # drop the boundary channel
        heatmaps = F.interpolate(heatmaps, scale_factor=FAN_SIZE // heatmaps.shape[-1], mode="bilinear",
                                 align_corners=True)
        return face_masks(heatmaps)


# Landmark index ranges of the 98-point WFLW layout ([start, end)), as the official code groups them.
CHIN = (8, 25)
EYEBROWS = (33, 51)
EYEBROW_EDGES = (33, 46)
NOSE = (51, 55)
NOSTRILS = (55, 60)
EYES = (60, 76)
LIP_EDGES = (76, 82)
LIP_UPPER = (77, 82)
LIP_LOWER = (83, 88)
LIP_INNER = (88, 96)


def _shift(x: torch.Tensor, n: int) -> torch.Tensor:
    """Move heatmaps ``n`` pixels up (``n > 0``) or down (``n < 0``), wrapping around like the official code."""
    return torch.roll(x, shifts=-n, dims=2)


def face_masks(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Two masks in [0, 1] from ``(N, 98, H, W)`` landmark heatmaps (H = 256 in StarGAN v2).

    Heatmaps below 0.1 are dropped and each is min-max normalised; parts are moved a few
    pixels (eyebrows and upper lip down, nostrils and lower lip up) and sharpened by a power
    (chin³, eyebrows², nostrils⁴, lips⁴, inner lips³), the outer jaw line and a few edge
    points are zeroed, and each eye is extended downwards (copies 8 and 24 px lower). The
    first mask sums every landmark; the second leaves out the jaw line, the mouth and the
    eyebrows.
    """
    x = torch.where(heatmaps < 0.1, torch.zeros_like(heatmaps), heatmaps)
    n, c, h, w = x.shape
    flat = x.reshape(n * c, -1)
    low, high = flat.min(dim=1, keepdim=True)[0], flat.max(dim=1, keepdim=True)[0]
    x = ((flat - low) / (high - low + 1e-6)).reshape(n, c, h, w)

    sw = h // FAN_SIZE  # the official offsets are in pixels of a 256-px heatmap
    for (start, end), shift, power in ((CHIN, 0, 3), (EYEBROWS, -7 * sw, 2), (NOSTRILS, 8 * sw, 4),
                                       (LIP_UPPER, -8 * sw, 4), (LIP_LOWER, 8 * sw, 4), (LIP_INNER, -2 * sw, 3)):
        x[:, start:end] = _shift(x[:, start:end], shift) ** power

    zero = list(range(0, CHIN[0])) + list(range(CHIN[1], 33)) + [EYEBROW_EDGES[0], EYEBROW_EDGES[1],
                                                                  LIP_EDGES[0], LIP_EDGES[1]]
    x[:, zero] = 0
    x[:, NOSE[0] + 1:NOSE[1]] = _shift(x[:, NOSE[0] + 1:NOSE[1]], 4 * sw)
    eyes = x[:, EYES[0]:EYES[1]]
    # The official eye offsets (-8, -24 px) are not scaled by ``sw``.
    x[:, EYES[0]:EYES[1]] = _shift(eyes, -8) ** 3 + _shift(eyes, -24)

    inner = x.clone()
    inner[:, CHIN[0]:CHIN[1]] = 0
    inner[:, LIP_EDGES[0]:LIP_INNER[1]] = 0
    inner[:, EYEBROWS[0]:EYEBROWS[1]] = 0
    full, inner = x.sum(dim=1, keepdim=True), inner.sum(dim=1, keepdim=True)
    return torch.nan_to_num(full, nan=0.0).clamp(0, 1), torch.nan_to_num(inner, nan=0.0).clamp(0, 1)

"""VQGAN f=4 (taming-transformers layout and parameter names, so released checkpoints load).

``encode`` returns the pre-quantisation latent (the diffusion model works on it, as the
paper's code does); ``decode`` quantises first, then decodes.

Example:
    >>> import torch
    >>> from emobench.editors.ldm.config import VQGANConfig
    >>> vq = VQGAN(VQGANConfig.tiny())
    >>> z = vq.encode(torch.zeros(1, 3, 64, 64)); z.shape
    torch.Size([1, 3, 16, 16])
    >>> vq.decode(z).shape
    torch.Size([1, 3, 64, 64])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from emobench.editors.ldm.config import VQGANConfig


def Normalize(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(32 if channels % 32 == 0 else 8, channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = Normalize(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = Normalize(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return (self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x) + h


class AttnBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.norm = Normalize(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        b, c, hh, ww = h.shape
        q, k, v = (t.reshape(b, 1, c, hh * ww).transpose(2, 3) for t in (self.q(h), self.k(h), self.v(h)))
        out = F.scaled_dot_product_attention(q, k, v).transpose(2, 3).reshape(b, c, hh, ww)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))  # taming's asymmetric padding


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _Level(nn.Module):
    """One resolution level (``block``, ``attn`` and an optional resampler, as taming names them)."""


class Encoder(nn.Module):
    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        self.conv_in = nn.Conv2d(cfg.in_channels, cfg.ch, 3, padding=1)
        res = cfg.resolution
        in_mult = (1,) + tuple(cfg.ch_mult)
        self.down = nn.ModuleList()
        block_in = cfg.ch
        for i, mult in enumerate(cfg.ch_mult):
            level = _Level()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            block_in = cfg.ch * in_mult[i]
            block_out = cfg.ch * mult
            for _ in range(cfg.num_res_blocks):
                level.block.append(ResnetBlock(block_in, block_out, cfg.dropout))
                block_in = block_out
                if res in cfg.attn_resolutions:
                    level.attn.append(AttnBlock(block_in))
            if i != len(cfg.ch_mult) - 1:
                level.downsample = Downsample(block_in)
                res //= 2
            self.down.append(level)
        self.mid = _Level()
        self.mid.block_1 = ResnetBlock(block_in, block_in, cfg.dropout)
        self.mid.attn_1 = AttnBlock(block_in)
        self.mid.block_2 = ResnetBlock(block_in, block_in, cfg.dropout)
        self.norm_out = Normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, cfg.z_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for level in self.down:
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn):
                    h = level.attn[j](h)
            if hasattr(level, "downsample"):
                h = level.downsample(h)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        block_in = cfg.ch * cfg.ch_mult[-1]
        res = cfg.resolution // 2 ** (len(cfg.ch_mult) - 1)
        self.conv_in = nn.Conv2d(cfg.z_channels, block_in, 3, padding=1)
        self.mid = _Level()
        self.mid.block_1 = ResnetBlock(block_in, block_in, cfg.dropout)
        self.mid.attn_1 = AttnBlock(block_in)
        self.mid.block_2 = ResnetBlock(block_in, block_in, cfg.dropout)
        levels = []
        for i in reversed(range(len(cfg.ch_mult))):
            level = _Level()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            block_out = cfg.ch * cfg.ch_mult[i]
            for _ in range(cfg.num_res_blocks + 1):
                level.block.append(ResnetBlock(block_in, block_out, cfg.dropout))
                block_in = block_out
                if res in cfg.attn_resolutions:
                    level.attn.append(AttnBlock(block_in))
            if i != 0:
                level.upsample = Upsample(block_in)
                res *= 2
            levels.insert(0, level)  # taming stores levels in encoder order
        self.up = nn.ModuleList(levels)
        self.norm_out = Normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, cfg.in_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(self.conv_in(z))))
        for level in reversed(self.up):
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn):
                    h = level.attn[j](h)
            if hasattr(level, "upsample"):
                h = level.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class VectorQuantizer(nn.Module):
    """Nearest-codebook quantisation with the straight-through estimator and commitment loss."""

    def __init__(self, n_embed: int, embed_dim: int, beta: float = 0.25):
        super().__init__()
        self.beta = beta
        self.embedding = nn.Embedding(n_embed, embed_dim)
        self.embedding.weight.data.uniform_(-1.0 / n_embed, 1.0 / n_embed)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, c, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, c)
        codes = self.embedding.weight
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codes.t() + codes.pow(2).sum(1)[None]
        idx = dist.argmin(1)
        zq = self.embedding(idx).view(b, h, w, c).permute(0, 3, 1, 2)
        loss = self.beta * F.mse_loss(zq.detach(), z) + F.mse_loss(zq, z.detach())
        zq = z + (zq - z).detach()
        return zq, loss, idx.view(b, h, w)


class VQGAN(nn.Module):
    """Encoder → quant_conv → (quantize) → post_quant_conv → decoder; images in [-1, 1]."""

    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quantize = VectorQuantizer(cfg.n_embed, cfg.embed_dim)
        self.quant_conv = nn.Conv2d(cfg.z_channels, cfg.embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(cfg.embed_dim, cfg.z_channels, 1)

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.config.ch_mult) - 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-quantisation latent of images in [-1, 1]."""
        return self.quant_conv(self.encoder(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Quantise, then decode to images in [-1, 1] (approximately)."""
        zq, _, _ = self.quantize(z)
        return self.decoder(self.post_quant_conv(zq))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zq, codebook_loss, _ = self.quantize(self.encode(x))
        return self.decoder(self.post_quant_conv(zq)), codebook_loss

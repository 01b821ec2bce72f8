"""Model configurations: the paper's sizes and tiny sizes of the same code (a size, never another model).

Example:
    >>> LDMConfig.paper().unet.model_channels, LDMConfig.tiny().unet.model_channels
    (160, 32)
    >>> LDMConfig.from_dict(LDMConfig.tiny().to_dict()) == LDMConfig.tiny()
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


def _build(cls, values: dict[str, Any]):
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(names))}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@dataclass(frozen=True)
class VQGANConfig:
    """taming-transformers VQModel ``ddconfig`` + ``embed_dim``/``n_embed``."""

    resolution: int = 128
    in_channels: int = 3
    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 2, 4)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = (32,)
    z_channels: int = 3
    embed_dim: int = 3
    n_embed: int = 16384
    dropout: float = 0.0

    @classmethod
    def paper(cls) -> "VQGANConfig":
        return cls()

    @classmethod
    def tiny(cls) -> "VQGANConfig":
        return cls(resolution=64, ch=32, ch_mult=(1, 2, 2), num_res_blocks=1, attn_resolutions=(), n_embed=512)


@dataclass(frozen=True)
class UNetConfig:
    """CompVis ``openaimodel.UNetModel`` options used by the paper."""

    in_channels: int = 3
    out_channels: int = 3
    model_channels: int = 160
    channel_mult: tuple[int, ...] = (1, 2, 4)
    num_res_blocks: int = 2
    attention_levels: tuple[int, ...] = (0, 1, 2)
    num_head_channels: int = 32
    transformer_depth: int = 1
    context_dim: int = 512
    dropout: float = 0.0

    @classmethod
    def paper(cls) -> "UNetConfig":
        return cls()

    @classmethod
    def tiny(cls) -> "UNetConfig":
        return cls(model_channels=32, channel_mult=(1, 2, 2), num_res_blocks=1, attention_levels=(1, 2),
                   num_head_channels=16, context_dim=64)


@dataclass(frozen=True)
class DiffusionConfig:
    """The paper's "linear" (sqrt-linear) schedule, ε-prediction, EMA and label dropout."""

    timesteps: int = 1000
    linear_start: float = 0.0015
    linear_end: float = 0.0205
    ema_decay: float = 0.9999
    ema_warmup: bool = True  # LitEma: decay min(ema_decay, (1+n)/(10+n)); False: ema_decay from step 0
    label_dropout: float = 0.2
    label_dropout_mode: str = "batch"  # "batch": the released code drops the whole batch; "sample": per sample
    scale_factor: float = 1.0  # no latent rescaling in the paper

    @classmethod
    def paper(cls) -> "DiffusionConfig":
        return cls()

    @classmethod
    def tiny(cls) -> "DiffusionConfig":
        return cls(ema_decay=0.999)


@dataclass(frozen=True)
class LDMConfig:
    first_stage: VQGANConfig = field(default_factory=VQGANConfig)
    unet: UNetConfig = field(default_factory=UNetConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    num_classes: int = 8

    @classmethod
    def paper(cls) -> "LDMConfig":
        return cls(VQGANConfig.paper(), UNetConfig.paper(), DiffusionConfig.paper())

    @classmethod
    def tiny(cls) -> "LDMConfig":
        return cls(VQGANConfig.tiny(), UNetConfig.tiny(), DiffusionConfig.tiny())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LDMConfig":
        data = dict(data)
        return cls(_build(VQGANConfig, data.pop("first_stage", {})), _build(UNetConfig, data.pop("unet", {})),
                   _build(DiffusionConfig, data.pop("diffusion", {})), **data)

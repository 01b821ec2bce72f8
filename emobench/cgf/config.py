"""``CGFConfig``: one CLIP-guided finetuning run (one target emotion), from TOML and the command line.

Defaults are the released configuration (affectnet-128-clip-ldm-vq-f4.yaml and DESIGN §4):
latents precomputed with 40 inversion steps from t0=500 at guidance 1 with the raw (non-EMA)
weights (the ``noema`` data paths of the released yaml), contempt inverted as contempt, 500
images per class; tuning on 1000 of them drawn from all classes, batch 4, 20 epochs, a 6-step
DDIM, guidance 1, λ_dir = λ_id = λ_ℓ2 = 1, AdamW (weight decay 0.01) with base lr 1e-6 scaled by
batch × GPUs × accumulation (the ``scale_lr`` rule of the released ``main.py``: 4e-6), the
tuning with the lowest validation loss kept. docs/cgf.md lists every choice and its option.

Example:
    >>> cfg = CGFConfig.from_mapping({"target": "sad", "lambda_dir": 2})
    >>> cfg.target, cfg.lambda_dir, cfg.effective_lr
    ('sad', 2.0, 4e-06)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from emobench.cgf.losses import CLAMPS, DIRECTION_FORMS, SOURCE_PROMPTS, TEXT_DIRECTIONS, LossWeights
from emobench.editors.ldm.ddim import CHAIN_ENDS
from emobench.labels import TARGET_EMOTIONS, EMOTIONS, parse_label


@dataclass(frozen=True)
class CGFConfig:
    """Every knob of a CGF run; the tuned checkpoint carries this config in its metadata."""

    checkpoint: str = "demo"  # base LDM: "demo" or a path (emobench train ldm)
    base_weights: str = "raw"  # the released code precomputes and tunes from the non-EMA weights
    target: str = "happy"
    # -- latent precomputation
    per_class: int = 500
    t0: int = 500
    ddim_steps: int = 40
    precompute_guidance: float = 1.0
    inversion: str = "next"
    chain_end: str = "alpha0"  # DDIM chain end of the precompute, the tuning chain and tuned inference (ddim.py)
    contempt_source: str = "contempt"  # invert contempt images with label 7 (released) | "neutral"
    recon_uint8: str = "truncate"  # the L2 target's 8-bit step: astype(uint8) truncation (released) | "round"
    precompute_batch: int = 32
    # -- tuning
    n_latents: int = 1000
    subset: str = "all"  # draw the tuning latents from every class (released random.sample) | "non_target"
    tune_steps: int = 6
    guidance: float = 1.0
    epochs: int = 20
    max_steps: int = 0  # 0 = all epochs; >0 stops early (tests, smoke runs)
    batch_size: int = 4
    lr: float = 1e-6  # base lr; × batch_size when scale_lr (the released rule, one GPU, no accumulation)
    scale_lr: bool = True
    weight_decay: float = 0.01
    grad_checkpoint: bool = True
    select: str = "val_loss"  # keep the tuning with the lowest validation loss (released top-k) | "last"
    val_latents: int = 64  # held-out precomputed latents (never the tuning subset, never a protocol's images)
    val_every: int = 0  # steps between validations; 0 = once per epoch
    seed: int = 0
    # -- loss
    lambda_dir: float = 1.0
    lambda_id: float = 1.0
    lambda_l2: float = 1.0
    direction_form: str = "log_mean"
    source_prompt: str = "released"
    text_direction: str = "per_template"
    templates: str = "imagenet"  # the released 79 ImageNet templates | "short" (emobench 0.1's 8)
    clamp: str = "identity"  # x̂ clamped only inside the identity loss (released) | "all"
    direction: str = "open_clip:ViT-B-16:openai"
    identity: str = "irse50"
    log_every: int = 10
    data: dict[str, Any] = field(default_factory=lambda: {"dataset": "synthetic", "split": "train",
                                                          "identities": 256, "per_identity": 32})

    def __post_init__(self) -> None:
        name = EMOTIONS[parse_label(self.target)]
        if name not in TARGET_EMOTIONS:
            raise ValueError(f"target must be one of {', '.join(TARGET_EMOTIONS)}, got {self.target!r}")
        object.__setattr__(self, "target", name)
        if self.base_weights not in ("raw", "ema"):
            raise ValueError(f"base_weights must be 'raw' or 'ema', got {self.base_weights!r}")
        if self.direction_form not in DIRECTION_FORMS:
            raise ValueError(f"direction_form must be one of {DIRECTION_FORMS}, got {self.direction_form!r}")
        if self.chain_end not in CHAIN_ENDS:
            raise ValueError(f"chain_end must be one of {CHAIN_ENDS}, got {self.chain_end!r}")
        for name_, allowed in (("source_prompt", SOURCE_PROMPTS), ("text_direction", TEXT_DIRECTIONS),
                               ("clamp", CLAMPS), ("templates", ("imagenet", "short")),
                               ("contempt_source", ("contempt", "neutral")), ("recon_uint8", ("truncate", "round")),
                               ("subset", ("all", "non_target")), ("select", ("val_loss", "last"))):
            if getattr(self, name_) not in allowed:
                raise ValueError(f"{name_} must be one of {', '.join(allowed)}, got {getattr(self, name_)!r}")
        for name_, low in (("per_class", 1), ("n_latents", 1), ("tune_steps", 2), ("ddim_steps", 2), ("epochs", 1),
                           ("batch_size", 1), ("precompute_batch", 1), ("val_latents", 0), ("val_every", 0)):
            if int(getattr(self, name_)) < low:
                raise ValueError(f"{name_} must be >= {low}, got {getattr(self, name_)}")
        for name_ in ("lambda_dir", "lambda_id", "lambda_l2", "lr"):
            if float(getattr(self, name_)) < 0:
                raise ValueError(f"{name_} must be >= 0, got {getattr(self, name_)}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "CGF config") -> "CGFConfig":
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(names))}")
        typed: dict[str, Any] = {}
        for key, value in values.items():
            default = names[key].default
            if isinstance(default, bool):
                typed[key] = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
            elif isinstance(default, float):
                typed[key] = float(value)
            elif isinstance(default, int):
                typed[key] = int(value)
            else:
                typed[key] = value
        return cls(**typed)

    @classmethod
    def from_toml(cls, path: str | Path, overrides: Mapping[str, Any] | None = None) -> "CGFConfig":
        """A TOML with a ``[cgf]`` table (any field above) and an optional ``[data]`` table."""
        import tomllib

        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
        values = dict(raw.pop("cgf", {}))
        if "data" in raw:
            values["data"] = raw.pop("data")
        if raw:
            raise ValueError(f"{path}: unknown table(s) {', '.join(sorted(raw))}; expected [cgf] and [data]")
        values.update(overrides or {})
        return cls.from_mapping(values, where=str(path))

    @property
    def effective_lr(self) -> float:
        return self.lr * self.batch_size if self.scale_lr else self.lr

    @property
    def loss_weights(self) -> LossWeights:
        return LossWeights(self.lambda_dir, self.lambda_id, self.lambda_l2, self.direction_form, self.source_prompt,
                           self.text_direction, self.clamp)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def precompute_settings(self) -> dict[str, Any]:
        """What the inverted latents depend on (their cache key, with the checkpoint sha)."""
        return {k: getattr(self, k) for k in ("base_weights", "per_class", "t0", "ddim_steps",
                                              "precompute_guidance", "inversion", "chain_end", "contempt_source", "recon_uint8",
                                              "seed")} | {"data": self.data}

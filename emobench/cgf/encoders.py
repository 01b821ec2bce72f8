"""Direction and identity encoders for the CGF losses: open_clip (the paper's CLIP) and the stand-in.

Backends are named in the tuning config (``direction = "open_clip:ViT-B-16:openai"``,
``"standin"``; ``identity = "standin"`` or ``"none"``). open_clip takes a pretrained tag or a
local checkpoint file; it is never used with random weights unless a test asks for it.

Example:
    >>> enc = build_direction("standin")  # doctest: +SKIP
    >>> enc.class_embeddings([1, 2]).shape  # doctest: +SKIP
    torch.Size([2, 64])
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from emobench.cgf.irse50 import IRSE50Identity
from emobench.cgf.losses import adjective
from emobench.cgf.standin import DEFAULT_WEIGHTS, StandInNet, load_standin, standin_sha256

# Prompt templates averaged per class (written here; in the spirit of CLIP's ImageNet templates).
TEMPLATES = (
    "a photo of a {}.",
    "a close-up photo of a {}.",
    "a cropped photo of a {}.",
    "a good photo of a {}.",
    "a portrait of a {}.",
    "a photo of the {}.",
    "a bright photo of a {}.",
    "a dark photo of a {}.",
)


class StandInDirection:
    """The stand-in encoder's expression head; class prototypes stand in for text embeddings."""

    def __init__(self, net: StandInNet, path: Path, sha256: str):
        self.net = net.eval().requires_grad_(False)
        self.path = path
        self.sha256 = sha256

    def to(self, device: torch.device | str) -> "StandInDirection":
        self.net.to(device)
        return self

    def image_embeddings(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)[0]

    def class_embeddings(self, labels: Sequence[int]) -> torch.Tensor:
        return self.net.prototypes[torch.as_tensor(list(labels), dtype=torch.long, device=self.net.prototypes.device)]

    def generic_embedding(self) -> torch.Tensor:
        # "face": the emotion-free centre of the eight class prototypes.
        return F.normalize(self.net.prototypes.mean(0), dim=0)

    def info(self) -> dict[str, Any]:
        return {"backend": "standin", "model": "synthetic stand-in encoder (expression head)",
                "weights_sha256": {self.path.name: self.sha256},
                "note": "STAND-IN for CLIP: an image/label encoder trained on synthetic faces, not CLIP"}


class StandInIdentity:
    """The stand-in encoder's identity head (for ``L_id`` in the synthetic world)."""

    def __init__(self, net: StandInNet, path: Path, sha256: str):
        self.net = net.eval().requires_grad_(False)
        self.path = path
        self.sha256 = sha256

    def to(self, device: torch.device | str) -> "StandInIdentity":
        self.net.to(device)
        return self

    def embeddings(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)[1]

    def info(self) -> dict[str, Any]:
        return {"backend": "standin", "model": "synthetic stand-in encoder (identity head)",
                "weights_sha256": {self.path.name: self.sha256},
                "note": "STAND-IN for ArcFace: trained on synthetic faces"}


class OpenCLIPDirection:
    """CLIP through open_clip: differentiable image embeddings, template-averaged prompt embeddings."""

    def __init__(self, model: nn.Module, tokenizer, name: str, pretrained: str, sha256: str = "",
                 templates: Sequence[str] = TEMPLATES):
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.name = name
        self.pretrained = pretrained
        self.sha256 = sha256
        self.templates = tuple(templates)
        size = getattr(model.visual, "image_size", 224)
        self.image_size = tuple(size) if isinstance(size, (tuple, list)) else (int(size), int(size))
        from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

        mean = getattr(model.visual, "image_mean", None) or OPENAI_DATASET_MEAN
        std = getattr(model.visual, "image_std", None) or OPENAI_DATASET_STD
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)
        self._text_cache: dict[str, torch.Tensor] = {}

    @classmethod
    def load(cls, name: str, pretrained: str, device: torch.device | str = "cpu") -> "OpenCLIPDirection":
        """``pretrained``: an open_clip tag (e.g. ``openai``) or a local checkpoint file."""
        import open_clip

        from emobench.weights import sha256_file

        if not pretrained:
            raise ValueError(f"open_clip model {name!r}: a pretrained tag or checkpoint file is required "
                             "(CGF with a randomly initialised CLIP would tune towards noise)")
        sha = sha256_file(Path(pretrained)) if Path(pretrained).is_file() else ""
        try:
            model = open_clip.create_model(name, pretrained=pretrained, device=device)
        except RuntimeError as exc:
            raise RuntimeError(f"open_clip could not load {name!r} with pretrained={pretrained!r}: {exc}. Offline, "
                               "pass a local checkpoint file (pretrained=/path/to/open_clip_pytorch_model.bin)") from exc
        return cls(model, open_clip.get_tokenizer(name), name, pretrained, sha)

    def to(self, device: torch.device | str) -> "OpenCLIPDirection":
        self.model.to(device)
        self.mean, self.std = self.mean.to(device), self.std.to(device)
        self._text_cache = {k: v.to(device) for k, v in self._text_cache.items()}
        return self

    def image_embeddings(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images, size=self.image_size, mode="bicubic", align_corners=False)
        x = (x - self.mean.to(x.device)) / self.std.to(x.device)
        return F.normalize(self.model.encode_image(x), dim=-1)

    @torch.no_grad()
    def _text(self, phrase: str) -> torch.Tensor:
        if phrase not in self._text_cache:
            device = self.mean.device
            tokens = self.tokenizer([t.format(phrase) for t in self.templates]).to(device)
            emb = F.normalize(self.model.encode_text(tokens), dim=-1).mean(0)
            self._text_cache[phrase] = F.normalize(emb, dim=0)
        return self._text_cache[phrase]

    def class_embeddings(self, labels: Sequence[int]) -> torch.Tensor:
        return torch.stack([self._text("face" if int(c) == 0 else f"{adjective(int(c))} face") for c in labels])

    def generic_embedding(self) -> torch.Tensor:
        return self._text("face")

    def info(self) -> dict[str, Any]:
        weights = {Path(self.pretrained).name: self.sha256} if self.sha256 else {}
        return {"backend": "open_clip", "model": f"{self.name}:{self.pretrained}", "weights_sha256": weights}


DIRECTION_BACKENDS = ("standin", "open_clip:<model>:<pretrained tag or file>")
IDENTITY_BACKENDS = ("irse50", "irse50:PATH", "standin", "none")


def _standin(path: str) -> tuple[StandInNet, Path, str]:
    p = Path(path).expanduser() if path else DEFAULT_WEIGHTS
    return load_standin(p), p, standin_sha256(p)


def build_direction(spec: str, device: torch.device | str = "cpu") -> StandInDirection | OpenCLIPDirection:
    """``"standin"`` / ``"standin:PATH"`` or ``"open_clip:MODEL:PRETRAINED"``."""
    kind, _, rest = spec.partition(":")
    if kind == "standin":
        return StandInDirection(*_standin(rest)).to(device)
    if kind == "open_clip":
        name, _, pretrained = rest.partition(":")
        if not name:
            raise ValueError(f"direction {spec!r}: expected open_clip:MODEL:PRETRAINED, e.g. open_clip:ViT-B-16:openai")
        return OpenCLIPDirection.load(name, pretrained, device)
    hint = difflib.get_close_matches(kind, ["standin", "open_clip"], n=1)
    raise ValueError(f"unknown direction encoder {spec!r}; expected one of {', '.join(DIRECTION_BACKENDS)}"
                     + (f" (did you mean {hint[0]!r}?)" if hint else ""))


def build_identity(spec: str, device: torch.device | str = "cpu") -> StandInIdentity | IRSE50Identity | None:
    """``"irse50"`` / ``"irse50:PATH"`` (the paper's), ``"standin"`` / ``"standin:PATH"`` or ``"none"`` (λ_id = 0)."""
    kind, _, rest = spec.partition(":")
    if kind == "none":
        return None
    if kind == "irse50":
        return IRSE50Identity.load(rest, device)
    if kind == "standin":
        return StandInIdentity(*_standin(rest)).to(device)
    hint = difflib.get_close_matches(kind, list(IDENTITY_BACKENDS), n=1)
    raise ValueError(f"unknown identity encoder {spec!r}; expected one of {', '.join(IDENTITY_BACKENDS)}"
                     + (f" (did you mean {hint[0]!r}?)" if hint else ""))



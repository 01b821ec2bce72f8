"""Direction and identity encoders for the CGF losses: open_clip (the paper's CLIP) and the stand-in.

Backends are named in the tuning config (``direction = "open_clip:ViT-B-16:openai"``,
``"standin"``; ``identity = "standin"`` or ``"none"``). open_clip takes a pretrained tag or a
local checkpoint file; it is never used with random weights unless a test asks for it.

Example:
    >>> enc = build_direction("standin")  # doctest: +SKIP
    >>> enc.text_directions([None, 2], target=1, form="per_template").shape  # doctest: +SKIP
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
from emobench.cgf.losses import TEXT_DIRECTIONS, prompt
from emobench.cgf.standin import DEFAULT_WEIGHTS, StandInNet, load_standin, standin_sha256

# The 8 prompt templates emobench 0.1 averaged (``templates = "short"``).
SHORT_TEMPLATES = (
    "a photo of a {}.",
    "a close-up photo of a {}.",
    "a cropped photo of a {}.",
    "a good photo of a {}.",
    "a portrait of a {}.",
    "a photo of the {}.",
    "a bright photo of a {}.",
    "a dark photo of a {}.",
)
TEMPLATE_SETS = ("imagenet", "short")


def templates(name: str) -> tuple[str, ...]:
    """``imagenet``: the 79 ImageNet templates the released code averages (its ``utils/text_templates.py``, as in
    DiffusionCLIP / StyleGAN-NADA): OpenAI CLIP's 80 (shipped by open_clip) without "a photo of many {}.";
    ``short``: emobench 0.1's 8."""
    if name == "short":
        return SHORT_TEMPLATES
    if name != "imagenet":
        raise ValueError(f"templates must be one of {', '.join(TEMPLATE_SETS)}, got {name!r}")
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

    return tuple(t("{}") for t in OPENAI_IMAGENET_TEMPLATES if t("{}") != "a photo of many {}.")


def _check_text_direction(form: str) -> None:
    if form not in TEXT_DIRECTIONS:
        raise ValueError(f"text_direction must be one of {', '.join(TEXT_DIRECTIONS)}, got {form!r}")


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

    def _embedding(self, label: int | None) -> torch.Tensor:
        # None ("face"): the emotion-free centre of the eight class prototypes.
        if label is None:
            return F.normalize(self.net.prototypes.mean(0), dim=0)
        return self.net.prototypes[int(label)]

    def text_directions(self, sources: Sequence[int | None], target: int, form: str) -> torch.Tensor:
        # One prototype per class, no templates: both forms give the same direction up to scale.
        _check_text_direction(form)
        tgt = self._embedding(target)
        return torch.stack([tgt - self._embedding(s) for s in sources])

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
                 prompt_templates: Sequence[str] | None = None):
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.name = name
        self.pretrained = pretrained
        self.sha256 = sha256
        self.templates = tuple(prompt_templates) if prompt_templates is not None else templates("imagenet")
        size = getattr(model.visual, "image_size", 224)
        self.image_size = tuple(size) if isinstance(size, (tuple, list)) else (int(size), int(size))
        from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

        mean = getattr(model.visual, "image_mean", None) or OPENAI_DATASET_MEAN
        std = getattr(model.visual, "image_std", None) or OPENAI_DATASET_STD
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)
        self._text_cache: dict[str, torch.Tensor] = {}

    @classmethod
    def load(cls, name: str, pretrained: str, device: torch.device | str = "cpu",
             template_set: str = "imagenet") -> "OpenCLIPDirection":
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
        return cls(model, open_clip.get_tokenizer(name), name, pretrained, sha, templates(template_set))

    def to(self, device: torch.device | str) -> "OpenCLIPDirection":
        self.model.to(device)
        self.mean, self.std = self.mean.to(device), self.std.to(device)
        self._text_cache = {k: v.to(device) for k, v in self._text_cache.items()}
        return self

    def image_embeddings(self, images: torch.Tensor) -> torch.Tensor:
        # The released CLIPLoss: [-1,1] → [0,1] (no clamp), torchvision Resize (bicubic, no antialias in the
        # pinned torchvision 0.12), centre crop, CLIP normalisation.
        x = F.interpolate(images, size=self.image_size, mode="bicubic", align_corners=False)
        x = (x - self.mean.to(x.device)) / self.std.to(x.device)
        return F.normalize(self.model.encode_image(x), dim=-1)

    @torch.no_grad()
    def _features(self, label: int | None) -> torch.Tensor:
        """Unit text features ``(templates, D)`` of a class prompt, one row per template."""
        phrase = prompt(label)
        if phrase not in self._text_cache:
            tokens = self.tokenizer([t.format(phrase) for t in self.templates]).to(self.mean.device)
            self._text_cache[phrase] = F.normalize(self.model.encode_text(tokens), dim=-1)
        return self._text_cache[phrase]

    def text_directions(self, sources: Sequence[int | None], target: int, form: str) -> torch.Tensor:
        _check_text_direction(form)
        tgt = self._features(target)
        rows = []
        for s in sources:
            src = self._features(s)
            if form == "per_template":
                rows.append(F.normalize((tgt - src).mean(0), dim=0))
            else:
                rows.append(F.normalize(tgt.mean(0), dim=0) - F.normalize(src.mean(0), dim=0))
        return torch.stack(rows)

    def info(self) -> dict[str, Any]:
        weights = {Path(self.pretrained).name: self.sha256} if self.sha256 else {}
        return {"backend": "open_clip", "model": f"{self.name}:{self.pretrained}", "weights_sha256": weights}


DIRECTION_BACKENDS = ("standin", "open_clip:<model>:<pretrained tag or file>")
IDENTITY_BACKENDS = ("irse50", "irse50:PATH", "standin", "none")


def _standin(path: str) -> tuple[StandInNet, Path, str]:
    p = Path(path).expanduser() if path else DEFAULT_WEIGHTS
    return load_standin(p), p, standin_sha256(p)


def build_direction(spec: str, device: torch.device | str = "cpu",
                    template_set: str = "imagenet") -> StandInDirection | OpenCLIPDirection:
    """``"standin"`` / ``"standin:PATH"`` or ``"open_clip:MODEL:PRETRAINED"`` (prompts over ``template_set``)."""
    kind, _, rest = spec.partition(":")
    if kind == "standin":
        return StandInDirection(*_standin(rest)).to(device)
    if kind == "open_clip":
        name, _, pretrained = rest.partition(":")
        if not name:
            raise ValueError(f"direction {spec!r}: expected open_clip:MODEL:PRETRAINED, e.g. open_clip:ViT-B-16:openai")
        return OpenCLIPDirection.load(name, pretrained, device, template_set)
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



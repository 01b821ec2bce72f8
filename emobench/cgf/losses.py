"""CGF losses: directional CLIP loss, identity loss and L2, behind small encoder interfaces.

``L = λ_dir·L_dir + λ_id·L_id + λ_ℓ2·‖x̂ − x0‖²`` (DESIGN §4). ``L_dir`` compares the change in
image embedding (edit vs the first-stage reconstruction of the source) with the change in
"text" embedding (target prompt vs source prompt). The released code uses ``−log((1+cos)/2)``;
the paper's text ``1 − cos``: both are offered.

Example:
    >>> import torch
    >>> d_img = torch.tensor([[1.0, 0.0]]); d_txt = torch.tensor([[1.0, 0.0]])
    >>> float(direction_loss(d_img, d_txt, "log")), float(direction_loss(-d_img, d_txt, "cosine"))
    (0.0, 2.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import torch
import torch.nn.functional as F

from emobench.labels import EMOTIONS

DIRECTION_FORMS = ("log", "cosine")
SOURCE_PROMPTS = ("generic", "emotion")


class DirectionEncoder(Protocol):
    """What the directional loss needs: differentiable image embeddings and per-class 'text' embeddings."""

    def image_embeddings(self, images: torch.Tensor) -> torch.Tensor:
        """Unit embeddings ``(N, D)`` of images in [0, 1]; differentiable."""

    def class_embeddings(self, labels: Sequence[int]) -> torch.Tensor:
        """Unit embeddings ``(N, D)`` of the prompt of each AffectNet label (no gradient needed)."""

    def generic_embedding(self) -> torch.Tensor:
        """Unit embedding ``(D,)`` of the emotion-free prompt ("face")."""

    def info(self) -> dict[str, Any]:
        """backend, model, weights_sha256 (for manifests and the leakage guard)."""


class IdentityEncoder(Protocol):
    """Differentiable identity embeddings for ``L_id``."""

    def embeddings(self, images: torch.Tensor) -> torch.Tensor:
        """Unit embeddings ``(N, D)`` of images in [0, 1]; differentiable."""

    def info(self) -> dict[str, Any]:
        """backend, model, weights_sha256."""


def direction_loss(image_delta: torch.Tensor, text_delta: torch.Tensor, form: str = "log") -> torch.Tensor:
    """Mean directional loss over the batch: ``−log((1+cos)/2)`` (code) or ``1−cos`` (paper text)."""
    if form not in DIRECTION_FORMS:
        raise ValueError(f"direction loss form must be one of {DIRECTION_FORMS}, got {form!r}")
    cos = F.cosine_similarity(image_delta, text_delta, dim=1, eps=1e-8)
    if form == "log":
        # Clamp keeps the log finite when the two directions are exactly opposite.
        return (-torch.log(((1 + cos) / 2).clamp(min=1e-6))).mean()
    return (1 - cos).mean()


def adjective(label: int) -> str:
    """The word the released prompts use for a class ("angry face", "scared face", ...)."""
    words = {"neutral": "neutral", "happy": "happy", "sad": "sad", "surprise": "surprised", "fear": "scared",
             "disgust": "disgusted", "anger": "angry", "contempt": "contemptuous"}
    return words[EMOTIONS[int(label)]]


@dataclass(frozen=True)
class LossWeights:
    """λ_dir, λ_id, λ_ℓ2 (the released config: all 1.0) and the loss forms."""

    direction: float = 1.0
    identity: float = 1.0
    l2: float = 1.0
    form: str = "log"
    source_prompt: str = "generic"


@dataclass
class LossTerms:
    total: torch.Tensor
    parts: dict[str, float] = field(default_factory=dict)


class CGFLoss:
    """The tuning objective for one target emotion.

    ``source_prompt="generic"`` uses the emotion-free prompt "face" as the source text for every
    image (the released code); ``"emotion"`` uses the source image's class prompt.
    """

    def __init__(self, weights: LossWeights, direction: DirectionEncoder | None, identity: IdentityEncoder | None):
        if weights.form not in DIRECTION_FORMS:
            raise ValueError(f"form must be one of {DIRECTION_FORMS}, got {weights.form!r}")
        if weights.source_prompt not in SOURCE_PROMPTS:
            raise ValueError(f"source_prompt must be one of {SOURCE_PROMPTS}, got {weights.source_prompt!r}")
        if weights.direction and direction is None:
            raise ValueError("λ_dir > 0 needs a direction encoder")
        if weights.identity and identity is None:
            raise ValueError("λ_id > 0 needs an identity encoder")
        self.weights = weights
        self.direction = direction
        self.identity = identity

    def __call__(self, edited: torch.Tensor, reference: torch.Tensor, sources: torch.Tensor,
                 targets: torch.Tensor) -> LossTerms:
        """Loss of edits (images in [0, 1], with gradient) against the reconstructions of their sources."""
        w = self.weights
        total = edited.new_zeros(())
        parts: dict[str, float] = {}
        if w.direction:
            with torch.no_grad():
                ref_emb = self.direction.image_embeddings(reference)
                tgt = self.direction.class_embeddings(targets.tolist())
                if w.source_prompt == "generic":
                    src = self.direction.generic_embedding().expand_as(tgt)
                else:
                    src = self.direction.class_embeddings(sources.tolist())
            image_delta = self.direction.image_embeddings(edited) - ref_emb
            l_dir = direction_loss(image_delta, tgt - src, w.form)
            total = total + w.direction * l_dir
            parts["dir"] = float(l_dir.detach())
        if w.identity:
            with torch.no_grad():
                ref_id = self.identity.embeddings(reference)
            l_id = (1 - (self.identity.embeddings(edited) * ref_id).sum(dim=1)).mean()
            total = total + w.identity * l_id
            parts["id"] = float(l_id.detach())
        if w.l2:
            # Images in [-1, 1] as in the released code.
            l2 = F.mse_loss(edited * 2 - 1, reference * 2 - 1)
            total = total + w.l2 * l2
            parts["l2"] = float(l2.detach())
        parts["total"] = float(total.detach())
        return LossTerms(total, parts)

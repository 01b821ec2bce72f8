"""CGF losses: directional CLIP loss, identity loss and L2, behind small encoder interfaces.

``L = λ_dir·L_dir + λ_id·L_id + λ_ℓ2·‖x̂ − x0‖²`` (DESIGN §4). ``L_dir`` compares the change in
image embedding (edit vs the first-stage reconstruction of the source) with the change in
"text" embedding (target prompt vs source prompt). The released code uses ``−log((1+mean cos)/2)``
over the batch; the paper's text ``1 − cos``: both are offered.

Example:
    >>> import torch
    >>> d_img = torch.tensor([[1.0, 0.0]]); d_txt = torch.tensor([[1.0, 0.0]])
    >>> abs(float(direction_loss(d_img, d_txt, "log_mean"))), float(direction_loss(-d_img, d_txt, "cosine"))
    (0.0, 2.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import torch
import torch.nn.functional as F

from emobench.labels import EMOTIONS

# Defaults are the released code's (GiannisPikoulis/dsml-thesis face_reenactment/, docs/cgf.md gives file:line):
#   log_mean: −log((1 + mean_b cos_b)/2) (cliploss.py); mean_log: mean_b −log((1 + cos_b)/2) (emobench 0.1);
#   cosine: 1 − cos (the paper's text).
DIRECTION_FORMS = ("log_mean", "mean_log", "cosine")
#   released: each source's own class prompt, "face" for neutral, contempt and the target's own class
#   (latent_diffclip.py); generic: "face" for every source; emotion: the source's class prompt always.
SOURCE_PROMPTS = ("released", "generic", "emotion")
#   per_template: normalize(mean_t(T̂_t − Ŝ_t)) (cliploss.py); mean_difference: norm(mean T̂) − norm(mean Ŝ).
TEXT_DIRECTIONS = ("per_template", "mean_difference")
#   identity: only the identity loss sees x̂ clamped to the image range (idloss.py); all: every loss does.
CLAMPS = ("identity", "all")


def _check(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


class DirectionEncoder(Protocol):
    """What the directional loss needs: differentiable image embeddings and text directions."""

    def image_embeddings(self, images: torch.Tensor) -> torch.Tensor:
        """Unit embeddings ``(N, D)`` of images in [0, 1] space (x̂ may overshoot it); differentiable."""

    def text_directions(self, sources: Sequence[int | None], target: int, form: str) -> torch.Tensor:
        """Directions ``(N, D)`` from each source prompt (an AffectNet label; None = "face") to the target's."""

    def info(self) -> dict[str, Any]:
        """backend, model, weights_sha256 (for manifests and the leakage guard)."""


class IdentityEncoder(Protocol):
    """Differentiable identity embeddings for ``L_id``."""

    def embeddings(self, images: torch.Tensor) -> torch.Tensor:
        """Unit embeddings ``(N, D)`` of images in [0, 1]; differentiable."""

    def info(self) -> dict[str, Any]:
        """backend, model, weights_sha256."""


def direction_loss(image_delta: torch.Tensor, text_delta: torch.Tensor, form: str = "log_mean") -> torch.Tensor:
    """Directional loss over the batch (see :data:`DIRECTION_FORMS`)."""
    _check("direction loss form", form, DIRECTION_FORMS)
    cos = F.cosine_similarity(image_delta, text_delta, dim=1, eps=1e-8)
    if form == "log_mean":
        return -torch.log((1 + cos.mean()) / 2)
    if form == "mean_log":
        # Clamp keeps the log finite when the two directions are exactly opposite.
        return (-torch.log(((1 + cos) / 2).clamp(min=1e-6))).mean()
    return (1 - cos).mean()


def source_prompt_labels(sources: Sequence[int], target: int, mode: str) -> list[int | None]:
    """The class whose prompt is each source's text (None = the emotion-free "face").

    Example:
        >>> source_prompt_labels([0, 2, 1, 7], target=1, mode="released")
        [None, 2, None, None]
    """
    _check("source_prompt", mode, SOURCE_PROMPTS)
    if mode == "generic":
        return [None] * len(sources)
    if mode == "emotion":
        return [int(s) for s in sources]
    return [None if int(s) in (0, 7, int(target)) else int(s) for s in sources]


def adjective(label: int) -> str:
    """The word the released prompts use for a class ("angry face", "scared face", ...)."""
    words = {"neutral": "neutral", "happy": "happy", "sad": "sad", "surprise": "surprised", "fear": "scared",
             "disgust": "disgusted", "anger": "angry", "contempt": "contemptuous"}
    return words[EMOTIONS[int(label)]]


def prompt(label: int | None) -> str:
    """The prompt of a class: "face" for None and neutral (as the released sources), "<adjective> face" else."""
    return "face" if label is None or int(label) == 0 else f"{adjective(int(label))} face"


@dataclass(frozen=True)
class LossWeights:
    """λ_dir, λ_id, λ_ℓ2 (the released config: all 1.0) and the loss forms (defaults: the released code)."""

    direction: float = 1.0
    identity: float = 1.0
    l2: float = 1.0
    form: str = "log_mean"
    source_prompt: str = "released"
    text_direction: str = "per_template"
    clamp: str = "identity"

    def __post_init__(self) -> None:
        _check("form", self.form, DIRECTION_FORMS)
        _check("source_prompt", self.source_prompt, SOURCE_PROMPTS)
        _check("text_direction", self.text_direction, TEXT_DIRECTIONS)
        _check("clamp", self.clamp, CLAMPS)


@dataclass
class LossTerms:
    total: torch.Tensor
    parts: dict[str, float] = field(default_factory=dict)


class CGFLoss:
    """The tuning objective for one target emotion (options in :class:`LossWeights`)."""

    def __init__(self, weights: LossWeights, direction: DirectionEncoder | None, identity: IdentityEncoder | None):
        if weights.direction and direction is None:
            raise ValueError("λ_dir > 0 needs a direction encoder")
        if weights.identity and identity is None:
            raise ValueError("λ_id > 0 needs an identity encoder")
        self.weights = weights
        self.direction = direction
        self.identity = identity

    def __call__(self, edited: torch.Tensor, reference: torch.Tensor, sources: torch.Tensor,
                 targets: torch.Tensor) -> LossTerms:
        """Loss of edits x̂ (in [0, 1] space, unclamped, with gradient) against their sources' reconstructions."""
        w = self.weights
        if w.clamp == "all":
            edited = edited.clamp(0, 1)
        total = edited.new_zeros(())
        parts: dict[str, float] = {}
        if w.direction:
            target = int(targets[0])
            if bool((targets != target).any()):
                raise ValueError("CGFLoss: one target emotion per batch (a tuning is per target)")
            with torch.no_grad():
                ref_emb = self.direction.image_embeddings(reference)
                text = self.direction.text_directions(
                    source_prompt_labels(sources.tolist(), target, w.source_prompt), target, w.text_direction)
            image_delta = self.direction.image_embeddings(edited) - ref_emb
            l_dir = direction_loss(image_delta, text, w.form)
            total = total + w.direction * l_dir
            parts["dir"] = float(l_dir.detach())
        if w.identity:
            with torch.no_grad():
                ref_id = self.identity.embeddings(reference)
            l_id = (1 - (self.identity.embeddings(edited.clamp(0, 1)) * ref_id).sum(dim=1)).mean()
            total = total + w.identity * l_id
            parts["id"] = float(l_id.detach())
        if w.l2:
            # Images in [-1, 1] as in the released code.
            l2 = F.mse_loss(edited * 2 - 1, reference * 2 - 1)
            total = total + w.l2 * l2
            parts["l2"] = float(l2.detach())
        parts["total"] = float(total.detach())
        return LossTerms(total, parts)

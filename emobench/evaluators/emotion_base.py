"""The emotion-classifier interface behind the ``emotion`` evaluator.

A classifier returns probabilities over the AffectNet-8 label set; classes the model
does not know are NaN (e.g. a 7-class model has no contempt), so accuracy over the
six target emotions stays comparable across backends.

Example:
    >>> import torch
    >>> probs = torch.tensor([[0.1, 0.9, 0, 0, 0, 0, 0, float("nan")]])
    >>> int(torch.nan_to_num(probs, nan=-1.0).argmax(1))
    1
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Mapping

import torch

from emobench.evaluators.base import EvaluatorInfo


class EmotionClassifier(ABC):
    """Images (float32 ``(N,3,H,W)`` RGB in [0,1], any size) → ``(N, 8)`` probabilities, NaN for unknown classes."""

    @classmethod
    @abstractmethod
    def from_config(cls, options: Mapping[str, Any], device: torch.device | str = "cpu") -> "EmotionClassifier":
        """Build from options (e.g. ``model``); a missing weight raises ``emobench.weights.MissingWeightError``."""

    @abstractmethod
    def info(self) -> EvaluatorInfo:
        """Backend name and weight hashes (for the manifest and leakage checks)."""

    @abstractmethod
    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, 8)`` float32 probabilities in AffectNet order; NaN columns for classes the model lacks."""

"""``paired``: PSNR/SSIM/LPIPS of each edit against the TRUE target face, when the dataset has it.

Synthetic faces (the same person rendered with the target expression) and the London set
(the real smiling photo of the same person) know the ground truth of an edit; other
datasets leave these columns NaN.

Example:
    >>> import torch
    >>> p = PairedEvaluator.from_config({"lpips": False})
    >>> x = torch.rand(1, 3, 32, 32)
    >>> cols = p.evaluate(EvalBatch(x, x, torch.tensor([0]), torch.tensor([1])))
    >>> bool(np.isnan(cols["paired.psnr"][0]))
    True
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from emobench.editors.base import options_from_mapping
from emobench.evaluators.base import EvalBatch, Evaluator, EvaluatorInfo, MetricInfo
from emobench.evaluators.quality import QualityEvaluator, QualityOptions, psnr_ssim


class PairedEvaluator(Evaluator):
    """Distance of the edit to the ground-truth target image (lower LPIPS / higher PSNR is better)."""

    name = "paired"

    def __init__(self, quality: QualityEvaluator):
        self.quality = quality

    @classmethod
    def from_config(cls, options: Mapping[str, Any], device: torch.device | str = "cpu") -> "PairedEvaluator":
        return cls(QualityEvaluator(options_from_mapping(QualityOptions, options, "paired evaluator options"), device))

    def info(self) -> EvaluatorInfo:
        inner = self.quality.info()
        return EvaluatorInfo(self.name, inner.backend, inner.weights_sha256,
                             {**inner.settings, "reference": "ground-truth target image"})

    def metrics(self) -> list[MetricInfo]:
        return [MetricInfo(f"paired.{m.name}", m.higher_is_better, m.description.replace("source", "true target"))
                for m in self.quality.metrics()]

    def evaluate(self, batch: EvalBatch) -> dict[str, np.ndarray]:
        names = [m.name for m in self.metrics()]
        if batch.references is None:
            return {name: np.full(batch.size, np.nan) for name in names}
        psnr, ssim = psnr_ssim(batch.edits, batch.references)
        cols = {"paired.psnr": psnr, "paired.ssim": ssim}
        if self.quality.options.lpips:
            cols["paired.lpips"] = self.quality.lpips_distance(batch.edits, batch.references)
        return cols

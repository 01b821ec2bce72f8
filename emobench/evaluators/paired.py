"""``paired``: PSNR/SSIM/LPIPS of each edit against the TRUE target face, when the dataset has it.

Synthetic faces (the same person rendered with the target expression) and the London set
(the real smiling photo of the same person) know the ground truth of an edit; other
datasets leave these columns NaN. With ``csim = true`` it also reports ``paired.csim``, the
identity similarity of edit and true target (SFace by default; ``identity_backend`` /
``identity_model`` as in the identity evaluator, whose rule for missed faces it follows).

Example:
    >>> import torch
    >>> p = PairedEvaluator.from_config({"lpips": False})
    >>> x = torch.rand(1, 3, 32, 32)
    >>> cols = p.evaluate(EvalBatch(x, x, torch.tensor([0]), torch.tensor([1])))
    >>> bool(np.isnan(cols["paired.psnr"][0]))
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch

from emobench.options import options_from_mapping
from emobench.evaluators.base import EvalBatch, Evaluator, EvaluatorInfo, MetricInfo
from emobench.evaluators.quality import QualityEvaluator, QualityOptions, psnr_ssim


@dataclass(frozen=True)
class PairedOptions:
    """lpips / lpips_net / batch_size: as for ``quality``; csim: also identity similarity to the
    true target; identity_backend / identity_model: the identity evaluator's backend and model."""

    lpips: bool = True
    lpips_net: str = "alex"
    batch_size: int = 32
    csim: bool = False
    identity_backend: str = "sface"
    identity_model: str = ""


class PairedEvaluator(Evaluator):
    """Distance of the edit to the ground-truth target image (lower LPIPS / higher PSNR is better)."""

    name = "paired"
    path_options = ("identity_model",)

    def __init__(self, quality: QualityEvaluator, identity=None):
        self.quality = quality
        self.identity = identity

    @classmethod
    def from_config(cls, options: Mapping[str, Any], device: torch.device | str = "cpu") -> "PairedEvaluator":
        opts = options_from_mapping(PairedOptions, options, "paired evaluator options")
        quality = QualityEvaluator(QualityOptions(opts.lpips, opts.lpips_net, opts.batch_size), device)
        identity = None
        if opts.csim:
            from emobench.evaluators.identity import IdentityEvaluator, IdentityOptions

            identity = IdentityEvaluator(IdentityOptions(backend=opts.identity_backend, model=opts.identity_model),
                                         device)
        return cls(quality, identity)

    def info(self) -> EvaluatorInfo:
        inner = self.quality.info()
        weights = dict(inner.weights_sha256)
        backend = inner.backend
        if self.identity is not None:
            weights.update(self.identity.info().weights_sha256)
            backend += f"+{self.identity.options.backend}"
        return EvaluatorInfo(self.name, backend, weights, {**inner.settings, "reference": "ground-truth target image"})

    def metrics(self) -> list[MetricInfo]:
        out = [MetricInfo(f"paired.{m.name}", m.higher_is_better, m.description.replace("source", "true target"))
               for m in self.quality.metrics()]
        if self.identity is not None:
            out.append(MetricInfo("paired.csim", True, "cosine identity similarity edit vs true target"))
        return out

    def evaluate(self, batch: EvalBatch) -> dict[str, np.ndarray]:
        names = [m.name for m in self.metrics()]
        if batch.references is None:
            return {name: np.full(batch.size, np.nan) for name in names}
        psnr, ssim = psnr_ssim(batch.edits, batch.references)
        cols = {"paired.psnr": psnr, "paired.ssim": ssim}
        if self.quality.options.lpips:
            cols["paired.lpips"] = self.quality.lpips_distance(batch.edits, batch.references)
        if self.identity is not None:
            ref, ref_found = self.identity.embed(batch.references)
            edit, edit_found = self.identity.embed(batch.edits)
            # The identity evaluator's rule: a side the detector missed is no CSIM (unless on_no_face=center).
            cols["paired.csim"] = self.identity.similarity(ref, ref_found, edit, edit_found)
        return cols

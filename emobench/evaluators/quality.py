"""``quality``: PSNR and SSIM (piq) and LPIPS v0.1 (lpips) of each edit against its source.

Convention (stated in every caption): RGB, ``data_range = 1``, one value per image, at the
protocol resolution. piq's SSIM uses no padding and average-pools images ≥ 384 px; piq
caps the PSNR of identical images at 80 dB (so the identity editor scores 80, not inf).

Example:
    >>> import torch
    >>> q = QualityEvaluator.from_config({"lpips": False})
    >>> x = torch.rand(2, 3, 32, 32)
    >>> cols = q.evaluate(EvalBatch(x, x, torch.tensor([0, 0]), torch.tensor([1, 1])))
    >>> cols["psnr"].round(1).tolist(), cols["ssim"].round(3).tolist()
    ([80.0, 80.0], [1.0, 1.0])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch

from emobench.options import options_from_mapping
from emobench.evaluators.base import EvalBatch, Evaluator, EvaluatorInfo, MetricInfo
from emobench.weights import ASSETS, resolve, sha256_file

_SSIM_CHUNK = 8
CONVENTION = "piq PSNR/SSIM on RGB in [0,1] (data_range 1), per image; LPIPS v0.1"


@dataclass(frozen=True)
class QualityOptions:
    """lpips: compute LPIPS; lpips_net: "alex" (paper) or "vgg"; batch_size: images per LPIPS forward."""

    lpips: bool = True
    lpips_net: str = "alex"
    batch_size: int = 32


def psnr_ssim(a: torch.Tensor, b: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per-image PSNR (dB) and SSIM of two ``(N,3,H,W)`` batches in [0, 1] with piq.

    Example:
        >>> x = torch.full((1, 3, 16, 16), 0.5)
        >>> [round(float(v), 2) for v in psnr_ssim(x, x + 0.1)[0]]
        [20.0]
    """
    import piq

    a = a.detach().float().clamp(0, 1)
    b = b.detach().float().clamp(0, 1)
    psnr = piq.psnr(a, b, data_range=1.0, reduction="none")
    # piq's SSIM uses an 11-px window: smaller images fall back to the largest odd window that fits.
    side = min(a.shape[-1], a.shape[-2])
    kernel = 11 if side >= 11 else max(1, side - (1 - side % 2))
    # Chunks of 8: piq's SSIM on a whole batch of 32 (128 px) ran 1.7x slower per image on CPU than
    # on small chunks (cache-bound Gaussian filtering); values are per image, so chunking changes nothing.
    ssim = torch.cat([piq.ssim(x, y, data_range=1.0, reduction="none", kernel_size=kernel)
                      for x, y in zip(a.split(_SSIM_CHUNK), b.split(_SSIM_CHUNK))])
    return psnr.cpu().double().numpy(), ssim.cpu().double().numpy()


class QualityEvaluator(Evaluator):
    """PSNR/SSIM/LPIPS of edit vs source: how much of the photo an edit keeps."""

    name = "quality"

    def __init__(self, options: QualityOptions, device: torch.device | str = "cpu"):
        if options.lpips_net not in ("alex", "vgg"):
            raise ValueError(f"quality: lpips_net must be 'alex' or 'vgg', got {options.lpips_net!r}")
        if options.batch_size < 1:
            raise ValueError(f"quality: batch_size must be >= 1, got {options.batch_size}")
        self.options = options
        self.device = torch.device(device)
        self._lpips = None
        if options.lpips:
            from emobench.evaluators.lpips_net import build_lpips

            self._lpips = build_lpips(options.lpips_net, self.device)

    @classmethod
    def from_config(cls, options: Mapping[str, Any], device: torch.device | str = "cpu") -> "QualityEvaluator":
        return cls(options_from_mapping(QualityOptions, options, "quality evaluator options"), device)

    def _weights(self) -> dict[str, str]:
        if not self.options.lpips:
            return {}
        names = [f"lpips-head-{self.options.lpips_net}",
                 "alexnet-imagenet" if self.options.lpips_net == "alex" else "vgg16-imagenet"]
        return {ASSETS[n].relpath: ASSETS[n].sha256 or sha256_file(resolve(n)) for n in names}

    def info(self) -> EvaluatorInfo:
        backend = f"piq+lpips-{self.options.lpips_net}" if self.options.lpips else "piq"
        return EvaluatorInfo(self.name, backend, self._weights(), {"convention": CONVENTION})

    def metrics(self) -> list[MetricInfo]:
        out = [MetricInfo("psnr", True, "PSNR (dB) of edit vs source"), MetricInfo("ssim", True, "SSIM of edit vs source")]
        if self.options.lpips:
            out.append(MetricInfo("lpips", False, f"LPIPS v0.1 ({self.options.lpips_net}) of edit vs source"))
        return out

    def lpips_distance(self, a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
        """Per-image LPIPS of two batches in [0, 1], in chunks of ``batch_size``."""
        if self._lpips is None:
            return np.full(a.shape[0], np.nan)
        out = []
        with torch.inference_mode():
            for i in range(0, a.shape[0], self.options.batch_size):
                x = a[i:i + self.options.batch_size].to(self.device).float()
                y = b[i:i + self.options.batch_size].to(self.device).float()
                out.append(self._lpips(x, y, normalize=True).flatten().double().cpu())
        return torch.cat(out).numpy()

    def evaluate(self, batch: EvalBatch) -> dict[str, np.ndarray]:
        psnr, ssim = psnr_ssim(batch.edits, batch.sources)
        cols = {"psnr": psnr, "ssim": ssim}
        if self.options.lpips:
            cols["lpips"] = self.lpips_distance(batch.edits, batch.sources)
        return cols

"""Scoring edits: run a protocol's evaluators on a batch and collect their metric columns.

Shared by ``emobench run`` (scores each batch as it is edited) and ``emobench score``
(rescoring saved edits), so both see the same 8-bit pixels and give the same numbers.

Example:
    >>> import torch
    >>> quantize(torch.tensor([0.5, 0.1234, 1.5])).mul(255).tolist()
    [128.0, 31.0, 255.0]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from emobench.datasets.base import Dataset, Sample
from emobench.evaluators.base import EvalBatch, Evaluator, MetricInfo
from emobench.imageio import pixel_sha256


def metric_infos(evaluators: Sequence[Evaluator]) -> list[MetricInfo]:
    """Every metric column of these evaluators, in order (names must be distinct)."""
    infos, seen = [], set()
    for ev in evaluators:
        for info in ev.metrics():
            if info.name in seen:
                raise ValueError(f"two evaluators fill metric {info.name!r}")
            seen.add(info.name)
            infos.append(info)
    return infos


def quantize(images: torch.Tensor) -> torch.Tensor:
    """What an 8-bit PNG stores: scoring the quantised edit makes ``run`` and ``score`` agree."""
    return images.detach().float().clamp(0, 1).mul(255).round().div(255)


def score_batch(evaluators: Sequence[Evaluator], batch: EvalBatch) -> tuple[dict[str, np.ndarray], str | None]:
    """Run every evaluator; a failing one leaves its columns NaN and its message in the returned error."""
    out: dict[str, np.ndarray] = {}
    problems = []
    for ev in evaluators:
        names = [m.name for m in ev.metrics()]
        try:
            values = ev.evaluate(batch)
            for name in names:
                column = np.asarray(values[name], dtype=np.float64).reshape(-1)
                if column.shape[0] != batch.size:
                    raise ValueError(f"metric {name!r}: expected {batch.size} values, got {column.shape[0]}")
                out[name] = column
        except Exception as exc:  # noqa: BLE001 - one broken metric must not stop the run
            problems.append(f"evaluator {type(ev).__name__}: {type(exc).__name__}: {exc}")
            for name in names:
                out[name] = np.full(batch.size, np.nan)
    return out, ("; ".join(problems) or None)


def finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def make_eval_batch(dataset: Dataset, samples: Sequence[Sample], targets: Sequence[int], sources: torch.Tensor,
                    edits: torch.Tensor, resolution: int) -> EvalBatch:
    """An :class:`EvalBatch` with source cache keys and, when the dataset knows them all, references.

    Sources and references are scored at the 8-bit precision the edits are saved at, so an
    unchanged image scores as identical (PSNR 80 dB, LPIPS 0) whatever the dataset's dtype.
    """
    refs = []
    for sample, target in zip(samples, targets):
        ref = dataset.reference(sample, target, resolution)
        if ref is None:
            refs = None
            break
        refs.append(quantize(ref))
    sources = quantize(sources)
    return EvalBatch(
        sources=sources, edits=edits,
        source_labels=torch.tensor([s.label for s in samples], dtype=torch.long),
        target_labels=torch.tensor(list(targets), dtype=torch.long),
        source_keys=[pixel_sha256(s) for s in sources],
        references=torch.stack(refs) if refs else None,
    )



"""Class embedder with a separate learned null embedding (classifier-free guidance).

Example:
    >>> import torch
    >>> e = ClassEmbedder(8, 16)
    >>> e(torch.tensor([1, 2])).shape, e.null(3).shape
    (torch.Size([2, 1, 16]), torch.Size([3, 1, 16]))
"""

from __future__ import annotations

import torch
from torch import nn


class ClassEmbedder(nn.Module):
    """``embedding`` (num_classes, dim) as in the released ``ClassEmbedder``; ``null_embedding`` (1, dim)."""

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.embedding = nn.Embedding(num_classes, dim)
        self.null_embedding = nn.Embedding(1, dim)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        return self.embedding(labels.long())[:, None, :]

    def null(self, n: int) -> torch.Tensor:
        idx = torch.zeros(n, dtype=torch.long, device=self.null_embedding.weight.device)
        return self.null_embedding(idx)[:, None, :]

    def with_dropout(self, labels: torch.Tensor, p: float, mode: str, generator: torch.Generator | None = None) -> torch.Tensor:
        """Context for training: the whole batch (``batch``, the paper's code) or each sample (``sample``)
        is replaced by the null embedding with probability ``p``."""
        ctx = self(labels)
        if p <= 0:
            return ctx
        if mode == "batch":
            if float(torch.rand((), generator=generator)) < p:
                return self.null(labels.shape[0])
            return ctx
        if mode == "sample":
            drop = (torch.rand(labels.shape[0], generator=generator) < p).to(ctx.device)[:, None, None]
            return torch.where(drop, self.null(labels.shape[0]), ctx)
        raise ValueError(f"label_dropout_mode must be 'batch' or 'sample', got {mode!r}")

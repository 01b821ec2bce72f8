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

    @staticmethod
    def dropout_mask(n: int, p: float, mode: str, generator: torch.Generator | None = None) -> torch.Tensor:
        """Which of ``n`` samples get the null embedding: the whole batch with probability ``p``
        (``batch``, the released code) or each sample independently (``sample``)."""
        if mode not in ("batch", "sample"):
            raise ValueError(f"label_dropout_mode must be 'batch' or 'sample', got {mode!r}")
        if p <= 0:
            return torch.zeros(n, dtype=torch.bool)
        if mode == "batch":
            return torch.full((n,), bool(float(torch.rand((), generator=generator)) < p))
        return torch.rand(n, generator=generator) < p

    def with_dropout(self, labels: torch.Tensor, p: float, mode: str, generator: torch.Generator | None = None) -> torch.Tensor:
        """Context for training, with :meth:`dropout_mask` applied."""
        drop = self.dropout_mask(labels.shape[0], p, mode, generator).to(labels.device)
        return torch.where(drop[:, None, None], self.null(labels.shape[0]), self(labels))

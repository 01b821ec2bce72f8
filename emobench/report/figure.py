"""A report figure: the PNG the page shows, the PDF for papers, and a real caption.

Example:
    >>> from pathlib import Path
    >>> Figure("tradeoff", Path("figures/tradeoff.png"), "Accuracy vs PSNR.").pdf
    PosixPath('figures/tradeoff.pdf')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    """``name``: a stable id (also the HTML anchor); ``png``: the image; ``caption``: what it shows."""

    name: str
    png: Path
    caption: str

    @property
    def pdf(self) -> Path:
        return self.png.with_suffix(".pdf")

    @property
    def stem(self) -> str:
        return self.png.stem

    @property
    def suffix(self) -> str:
        return self.png.suffix

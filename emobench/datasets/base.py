"""The dataset interface: a stable list of labelled face images.

A dataset lists :class:`Sample` records (cheap) and loads pixels on demand as float32
``(3, H, W)`` RGB in ``[0, 1]`` at the protocol resolution. Datasets that know the true
face of an edit (synthetic faces, the London neutral/smiling pairs) return it from
:meth:`Dataset.reference` so paired metrics can be computed.

Example:
    >>> s = Sample(id="001_neutral", label=0, person="001")
    >>> s.id, s.label
    ('001_neutral', 0)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import torch


@dataclass(frozen=True)
class Sample:
    """One source image: a stable ``id`` (unique in the dataset), its AffectNet label,
    the person it shows when known, and where it lives when it is a file."""

    id: str
    label: int
    person: str | None = None
    path: Path | None = None


class DatasetError(ValueError):
    """A dataset that cannot be used as given (missing folder, empty, bad CSV)."""


class Dataset(ABC):
    """Base class of all datasets; build with ``from_config`` from a protocol's ``[dataset]`` table."""

    name: ClassVar[str] = ""
    #: Options that are file paths: the runner stores them absolute, so ``score`` finds them from any folder.
    path_options: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abstractmethod
    def from_config(cls, options: Mapping[str, Any]) -> "Dataset":
        """Build from options (strictly validated; unknown keys are an error)."""

    @abstractmethod
    def samples(self) -> Sequence[Sample]:
        """Every sample, in a stable order."""

    @abstractmethod
    def load(self, sample: Sample, resolution: int) -> torch.Tensor:
        """Pixels of ``sample`` as float32 ``(3, resolution, resolution)`` in ``[0, 1]``.

        Raises :class:`emobench.imageio.ImageReadError` for an unreadable file; the runner
        records that row as ``status=error`` and goes on.
        """

    def reference(self, sample: Sample, target: int, resolution: int) -> torch.Tensor | None:
        """The true face of ``sample`` showing ``target``, when the dataset knows it."""
        return None

    def content_key(self, sample: Sample, resolution: int) -> str | None:
        """A content hash of ``sample`` known without loading it, or ``None`` (the default).

        The runner hashes a sample's file, or else the pixels of :meth:`load`; a generated dataset
        whose images follow from their parameters returns a hash of those parameters (and of its
        renderer) here, so planning a run never renders images a shard does not edit.
        """
        return None

    def describe(self) -> dict[str, Any]:
        """JSON-able identity of the dataset for the manifest (name, options, id-list hash is added by the runner).

        A ``warnings`` list of sentences (skipped rows, a stand-in face crop) goes into the manifest's
        warnings and so into every caption.
        """
        return {"name": self.name}

    def face_stats(self) -> dict[str, int] | None:
        """Faces ``aligned`` now / ``cached`` / ``failed`` in this process, for datasets that align; else ``None``."""
        return None

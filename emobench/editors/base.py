"""The editor interface every method implements.

An editor is built once from a method card (its ``Init`` dataclass: checkpoints, device,
model options) and then called with batches. Edit-time settings (guidance, strength, ...)
live in its ``Params`` dataclass, so a protocol grid can sweep them and unknown names fail.

Images cross this boundary as float32 ``(N, 3, H, W)`` RGB in ``[0, 1]``; labels are
AffectNet indices (:mod:`emobench.labels`). Each editor translates to its native size,
colour order and conditioning inside, and reports what it used in ``EditOutput.used``.

Example:
    >>> import torch
    >>> from emobench.editors.identity import IdentityEditor
    >>> editor = IdentityEditor.from_config({}, device="cpu")
    >>> out = editor.edit(torch.rand(2, 3, 64, 64), torch.tensor([0, 1]), torch.tensor([1, 2]), seeds=[0, 1])
    >>> out.images.shape
    torch.Size([2, 3, 64, 64])
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Sequence

import torch

from emobench.labels import NUM_CLASSES
from emobench.options import options_from_mapping


@dataclass(frozen=True)
class NoOptions:
    """An empty options dataclass for editors without init options or params."""


@dataclass
class EditOutput:
    """What an editor returns for one batch.

    images: float32 ``(N, 3, H, W)`` RGB in ``[0, 1]`` at the input resolution.
    extras: optional per-image tensors (e.g. GANimation's attention mask ``(N, 1, H, W)``).
    used: JSON-able description of the native conditioning per image (one dict each).
    """

    images: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    used: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class EditBatch:
    """What the runner hands an editor: images with their ids, each image's targets, one seed per output
    row (image-major), the edit-time params, a loader of the dataset's real target image
    ``references(image_index, target)`` (None when the dataset has none; only ``groundtruth`` uses it),
    and ``progress(fraction)``, which an editor that works in steps may call as the batch advances
    (the runner's bar then moves between batches)."""

    images: torch.Tensor
    image_ids: Sequence[str]
    source_labels: Sequence[int]
    targets: Sequence[Sequence[int]]
    seeds: Sequence[int]
    params: Mapping[str, Any] = field(default_factory=dict)
    references: Callable[[int, int], torch.Tensor | None] | None = None
    progress: Callable[[float], None] | None = None

    @property
    def rows(self) -> int:
        return sum(len(t) for t in self.targets)


def check_images(images: torch.Tensor, *, resolution: int | None = None) -> None:
    """Raise ``ValueError`` unless ``images`` is float32 ``(N,3,H,W)`` in ``[0,1]``.

    Example:
        >>> check_images(torch.zeros(1, 3, 8, 8))
        >>> check_images(torch.zeros(3, 8, 8))
        Traceback (most recent call last):
        ...
        ValueError: images: expected a float32 tensor of shape (N, 3, H, W), got shape (3, 8, 8)
    """
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images: expected a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images: expected a float32 tensor of shape (N, 3, H, W), got shape {tuple(images.shape)}")
    if images.dtype != torch.float32:
        raise ValueError(f"images: expected dtype float32, got {images.dtype}")
    if images.shape[0] == 0:
        raise ValueError("images: expected at least one image, got an empty batch")
    if resolution is not None and tuple(images.shape[-2:]) != (resolution, resolution):
        raise ValueError(
            f"images: expected {resolution}x{resolution} pixels, got {images.shape[-2]}x{images.shape[-1]}"
        )
    lo, hi = float(images.min()), float(images.max())
    if not (lo >= 0.0 and hi <= 1.0):  # also catches NaN
        raise ValueError(f"images: expected values in [0, 1], got min {lo:.4g} max {hi:.4g}")


def check_labels(labels: torch.Tensor | Sequence[int], n: int, what: str) -> torch.Tensor:
    """Return ``labels`` as a long tensor of length ``n`` with values in 0..7, or raise ``ValueError``."""
    tensor = torch.as_tensor(labels)
    if tensor.ndim != 1 or tensor.shape[0] != n:
        raise ValueError(f"{what}: expected {n} labels (one per image), got shape {tuple(tensor.shape)}")
    if tensor.dtype.is_floating_point or tensor.dtype == torch.bool:
        raise ValueError(f"{what}: expected integer AffectNet indices, got dtype {tensor.dtype}")
    if n and (int(tensor.min()) < 0 or int(tensor.max()) >= NUM_CLASSES):
        raise ValueError(f"{what}: expected indices in 0..{NUM_CLASSES - 1}, got {tensor.tolist()}")
    return tensor.long()


def check_seeds(seeds: Sequence[int] | None, n: int) -> list[int]:
    """Per-image seeds (default ``0..n-1``); one seed per image keeps edits batch-invariant."""
    if seeds is None:
        return list(range(n))
    seeds = [int(s) for s in seeds]
    if len(seeds) != n:
        raise ValueError(f"seeds: expected {n} seeds (one per image), got {len(seeds)}")
    return seeds


def per_sample_noise(shape: Sequence[int], seeds: Sequence[int], device: torch.device | str = "cpu") -> torch.Tensor:
    """Gaussian noise of ``(len(seeds), *shape)`` where row i depends only on ``seeds[i]``.

    Drawn on the CPU so CPU and CUDA runs see the same numbers.

    Example:
        >>> a = per_sample_noise((2,), [7, 8]); b = per_sample_noise((2,), [8])
        >>> bool(torch.equal(a[1], b[0]))
        True
    """
    rows = [torch.randn(tuple(shape), generator=torch.Generator().manual_seed(int(s))) for s in seeds]
    return torch.stack(rows).to(device)


class Editor(ABC):
    """Base class of all editors.

    Subclasses set ``Init`` (construction options from the card's ``[init]`` table) and
    ``Params`` (edit-time options from ``[params]`` and protocol grids), both frozen
    dataclasses, and implement :meth:`from_config`, :meth:`_edit` and :meth:`identity`.
    """

    Init: ClassVar[type] = NoOptions
    Params: ClassVar[type] = NoOptions
    #: Native working resolution (images are resized to it and back), or None for any size.
    native_resolution: ClassVar[int | None] = None

    @classmethod
    @abstractmethod
    def from_config(cls, init: Mapping[str, Any], device: torch.device | str = "cpu") -> "Editor":
        """Build the editor from the card's ``[init]`` table (validated with ``options_from_mapping``)."""

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """JSON-able method identity: class, init options, sha256 of every checkpoint.

        It feeds the run's config hash and every request id, so two runs of different
        weights never share records.
        """

    @abstractmethod
    def _edit(
        self, images: torch.Tensor, source_labels: torch.Tensor, target_labels: torch.Tensor, seeds: list[int], params: Any
    ) -> EditOutput:
        """Edit validated inputs. ``params`` is an instance of ``self.Params``."""

    def rows_that_fit(self, free_bytes: int) -> int | None:
        """How many output rows one editor call can take within ``free_bytes`` of device memory, for
        ``--batch-size auto`` on CUDA; ``None`` (the default): the editor does not know."""
        return None

    def parse_params(self, params: Mapping[str, Any]) -> Any:
        """Validate edit-time params into ``self.Params`` (unknown → ``TypeError``)."""
        return options_from_mapping(self.Params, params, f"params of {type(self).__name__}")

    def edit(
        self,
        images: torch.Tensor,
        source_labels: torch.Tensor | Sequence[int],
        target_labels: torch.Tensor | Sequence[int],
        *,
        seeds: Sequence[int] | None = None,
        **params: Any,
    ) -> EditOutput:
        """Edit ``images`` from ``source_labels`` to ``target_labels``.

        Deterministic for given ``seeds`` (one per image) and batch-invariant.
        """
        check_images(images)
        n = images.shape[0]
        src = check_labels(source_labels, n, "source_labels")
        tgt = check_labels(target_labels, n, "target_labels")
        parsed = self.parse_params(params)
        out = self._edit(images, src, tgt, check_seeds(seeds, n), parsed)
        if tuple(out.images.shape) != tuple(images.shape):
            raise RuntimeError(
                f"{type(self).__name__} returned shape {tuple(out.images.shape)} for input {tuple(images.shape)}"
            )
        return out

    def edit_many(
        self,
        images: torch.Tensor,
        source_labels: torch.Tensor | Sequence[int],
        targets: Sequence[Sequence[int]],
        *,
        seeds: Sequence[int] | None = None,
        **params: Any,
    ) -> EditOutput:
        """Edit image i toward every label in ``targets[i]``; outputs are ordered image-major.

        Editors that can share work across targets (the LDM inverts each image once)
        override this; the default repeats each image once per target. ``seeds`` is one
        seed per output row.
        """
        check_images(images)
        src = check_labels(source_labels, images.shape[0], "source_labels")
        if len(targets) != images.shape[0]:
            raise ValueError(f"targets: expected one list per image ({images.shape[0]}), got {len(targets)}")
        index = torch.tensor([i for i, ts in enumerate(targets) for _ in ts], dtype=torch.long)
        flat_targets = [int(t) for ts in targets for t in ts]
        if not flat_targets:
            raise ValueError("targets: expected at least one target label, got none")
        return self.edit(images[index], src[index], flat_targets, seeds=seeds, **params)

    def edit_batch(self, batch: EditBatch) -> tuple[EditOutput, list[str | None]]:
        """The one entry the runner calls: every (image, target) row of ``batch``, image-major, and one error
        per row (None = ok). The default is :meth:`edit_many`; editors that read stored edits by image id
        (``precomputed``) or the dataset's real targets (``groundtruth``) override it."""
        out = self.edit_many(batch.images, batch.source_labels, batch.targets, seeds=batch.seeds, **dict(batch.params))
        return out, [None] * batch.rows

"""The ``precomputed`` editor: evaluate edits that some other tool already wrote to disk.

Files are found through ``pattern`` under ``directory``; the fields are ``image_id``,
``target`` (name), ``target_index``, ``source`` (name of the editing source) and ``seed``.
Edits of another size are centre-cropped and resized to the protocol resolution. A
missing or unreadable file fails only its own row (``status=error`` with the path).

The runner's :meth:`~emobench.editors.base.Editor.edit_batch` carries the image ids that finding
a file needs (the plain :meth:`Editor.edit` does not); it calls :meth:`PrecomputedEditor.edit_by_id`.

Example:
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from emobench.imageio import save_png
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = save_png(torch.ones(3, 32, 32), d / "img1" / "happy.png")
    >>> editor = PrecomputedEditor.from_config({"directory": str(d)})
    >>> out, errors = editor.edit_by_id(["img1"], torch.zeros(1, 3, 16, 16), [0], [[1, 2]], seeds=[0, 0])
    >>> out.images.shape, errors[0], errors[1].startswith("no precomputed edit")
    (torch.Size([2, 3, 16, 16]), None, True)
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from emobench.imageio import square_resize
from emobench.editors.base import (EditBatch, EditOutput, Editor, NoOptions, check_images, check_labels, check_seeds,
                                   options_from_mapping)
from emobench.imageio import ImageReadError, load_image
from emobench.labels import EMOTIONS

PATTERN_FIELDS = ("image_id", "target", "target_index", "source", "seed")


@dataclass(frozen=True)
class PrecomputedInit:
    """``directory``: folder of finished edits; ``pattern``: file path below it (see module doc)."""

    directory: str = ""
    pattern: str = "{image_id}/{target}.png"


class PrecomputedEditor(Editor):
    """Reads finished edits from disk instead of computing them."""

    Init = PrecomputedInit
    Params = NoOptions

    def __init__(self, init: PrecomputedInit):
        self.init = init
        if not init.directory:
            raise ValueError("directory is not set; pass --set directory=PATH (the folder of finished edits)")
        self.directory = Path(init.directory).expanduser().resolve()
        if not self.directory.is_dir():
            raise ValueError(f"directory {self.directory} is not a folder")
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(init.pattern) if name is not None}
        except ValueError as exc:
            raise ValueError(f"pattern {init.pattern!r}: {exc}") from exc
        unknown = sorted(fields - set(PATTERN_FIELDS))
        if unknown or "image_id" not in fields:
            raise ValueError(f"pattern {init.pattern!r}: expected fields among {{{', '.join(PATTERN_FIELDS)}}} "
                             f"including {{image_id}}, got {sorted(fields)}")

    @classmethod
    def from_config(cls, init: Mapping[str, Any], device: torch.device | str = "cpu") -> "PrecomputedEditor":
        return cls(options_from_mapping(PrecomputedInit, init, "init of precomputed"))

    def identity(self) -> dict[str, Any]:
        # The edits *are* the method: hash every file so other edits never share records.
        digest = hashlib.sha256()
        for path in sorted(p for p in self.directory.rglob("*") if p.is_file()):
            digest.update(path.relative_to(self.directory).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return {"editor": "precomputed", "directory": str(self.directory), "pattern": self.init.pattern,
                "checkpoints": {"edits": digest.hexdigest()}}

    def path_for(self, image_id: str, source: int, target: int, seed: int) -> Path:
        """Where the edit of ``image_id`` toward ``target`` should be."""
        rel = self.init.pattern.format(image_id=image_id, target=EMOTIONS[target], target_index=target,
                                       source=EMOTIONS[source], seed=seed)
        return self.directory / rel

    def _edit(self, images: torch.Tensor, source_labels: torch.Tensor, target_labels: torch.Tensor,
              seeds: list[int], params: Any) -> EditOutput:
        raise RuntimeError("the precomputed editor finds files by image id: run it through `emobench run` "
                           "or edit_batch (which carry image ids; edit_by_id does the lookup), not edit()")

    def edit_batch(self, batch: EditBatch) -> tuple[EditOutput, list[str | None]]:
        """The stored edits of a runner batch, found by image id."""
        return self.edit_by_id(batch.image_ids, batch.images, batch.source_labels, batch.targets, seeds=batch.seeds)

    def edit_by_id(self, image_ids: Sequence[str], images: torch.Tensor, source_labels: Sequence[int],
                   targets: Sequence[Sequence[int]], *, seeds: Sequence[int] | None = None
                   ) -> tuple[EditOutput, list[str | None]]:
        """The stored edit of image i toward each of ``targets[i]`` (image-major), and one error per row.

        A row whose file is missing or unreadable gets a black placeholder and its error message.
        """
        check_images(images)
        src = check_labels(source_labels, images.shape[0], "source_labels")
        if len(image_ids) != images.shape[0] or len(targets) != images.shape[0]:
            raise ValueError(f"expected one image id and one target list per image ({images.shape[0]}), "
                             f"got {len(image_ids)} ids and {len(targets)} target lists")
        rows = [(i, int(t)) for i, ts in enumerate(targets) for t in ts]
        seeds = check_seeds(seeds, len(rows))
        resolution = images.shape[-1]
        outputs, errors, used = [], [], []
        for (i, target), seed in zip(rows, seeds):
            path = self.path_for(image_ids[i], int(src[i]), target, seed)
            try:
                edit = load_image(path) if path.is_file() else None
            except ImageReadError as exc:
                edit, error = None, f"precomputed edit unreadable: {exc}"
            else:
                error = None if edit is not None else f"no precomputed edit at {path}"
            if edit is None:
                outputs.append(torch.zeros_like(images[i]))
            else:
                outputs.append(square_resize(edit, resolution))
            errors.append(error)
            used.append({"file": str(path)})
        return EditOutput(images=torch.stack(outputs), used=used), errors

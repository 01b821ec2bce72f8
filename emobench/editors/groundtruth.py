"""The ``groundtruth`` method: the dataset's real target image stands in for the edit.

On a protocol whose dataset knows the true target (the London set's real smile of the same
person, the synthetic faces' rendering of the target expression) this gives the paper's
"groundtruth" row: the emotion accuracy of real target photos, their identity similarity to
the source photo, and so on — the ceiling an editor is compared with. Requests whose target
has no real image become per-row errors naming the target.

Example:
    >>> import torch
    >>> from emobench.editors.base import EditBatch
    >>> ed = GroundTruthEditor.from_config({})
    >>> refs = {(0, 1): torch.ones(3, 8, 8)}  # image 0 has a real "happy" photo, not a "sad" one
    >>> batch = EditBatch(torch.rand(1, 3, 8, 8), ["a"], [0], [[1, 2]], [0, 0], references=lambda i, t: refs.get((i, t)))
    >>> out, errors = ed.edit_batch(batch)
    >>> bool(torch.equal(out.images[0], torch.ones(3, 8, 8))), errors[1] is not None
    (True, True)
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from emobench.editors.base import EditBatch, EditOutput, Editor, NoOptions
from emobench.options import options_from_mapping


class GroundTruthEditor(Editor):
    """Returns the dataset's reference image of each (source image, target) pair."""

    Init = NoOptions
    Params = NoOptions

    @classmethod
    def from_config(cls, init: Mapping[str, Any], device: torch.device | str = "cpu") -> "GroundTruthEditor":
        options_from_mapping(cls.Init, init, "init of groundtruth")
        return cls()

    def identity(self) -> dict[str, Any]:
        return {"editor": "groundtruth", "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "checkpoints": {}}

    def edit_batch(self, batch: EditBatch) -> tuple[EditOutput, list[str | None]]:
        """Each row's "edit" is the dataset's real image of that person with the target expression; a row
        without one gets a black placeholder and its error (the runner records it as that row's error)."""
        shape = batch.images.shape[1:]
        rows = [(i, int(t)) for i, ts in enumerate(batch.targets) for t in ts]
        out = torch.zeros(len(rows), *shape)
        errors: list[str | None] = []
        for k, (i, target) in enumerate(rows):
            ref = batch.references(i, target) if batch.references is not None else None
            if ref is None:
                errors.append("the dataset has no real image of this target for this source (groundtruth)")
                continue
            if tuple(ref.shape) != tuple(shape):
                errors.append(f"reference has shape {tuple(ref.shape)}, expected {tuple(shape)}")
                continue
            out[k] = ref
            errors.append(None)
        return EditOutput(images=out, used=[{"reference": True} for _ in rows]), errors

    def _edit(self, images: torch.Tensor, source_labels: torch.Tensor, target_labels: torch.Tensor,
              seeds: list[int], params: Any) -> EditOutput:
        raise ValueError("groundtruth returns the dataset's real target images: call edit_batch with a "
                         "references loader, or `emobench run` on a protocol whose dataset has them "
                         "(london-pairs, synthetic)")

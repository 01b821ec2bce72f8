"""The ``groundtruth`` method: the dataset's real target image stands in for the edit.

On a protocol whose dataset knows the true target (the London set's real smile of the same
person, the synthetic faces' rendering of the target expression) this gives the paper's
"groundtruth" row: the emotion accuracy of real target photos, their identity similarity to
the source photo, and so on — the ceiling an editor is compared with. Requests whose target
has no real image become per-row errors naming the target.

Example:
    >>> import torch
    >>> ed = GroundTruthEditor.from_config({})
    >>> out, errors = ed.edit_from_references(torch.rand(2, 3, 8, 8), [torch.ones(3, 8, 8), None])
    >>> bool(torch.equal(out.images[0], torch.ones(3, 8, 8))), errors[1] is not None
    (True, True)
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from emobench.editors.base import EditOutput, Editor, NoOptions, options_from_mapping


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

    def edit_from_references(self, images: torch.Tensor, references: Sequence[torch.Tensor | None]
                             ) -> tuple[EditOutput, list[str | None]]:
        """One output per reference (the runner passes one per request); ``None`` → a per-row error."""
        shape = images.shape[1:]
        out = torch.zeros(len(references), *shape)
        errors: list[str | None] = []
        for i, ref in enumerate(references):
            if ref is None:
                errors.append("the dataset has no real image of this target for this source (groundtruth)")
                continue
            if tuple(ref.shape) != tuple(shape):
                errors.append(f"reference has shape {tuple(ref.shape)}, expected {tuple(shape)}")
                continue
            out[i] = ref
            errors.append(None)
        return EditOutput(images=out, used=[{"reference": True} for _ in references]), errors

    def _edit(self, images: torch.Tensor, source_labels: torch.Tensor, target_labels: torch.Tensor,
              seeds: list[int], params: Any) -> EditOutput:
        raise ValueError("groundtruth returns the dataset's real target images, so it runs through `emobench run` "
                         "on a protocol whose dataset has them (london-pairs, synthetic), not on bare images")

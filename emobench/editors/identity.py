"""The identity editor: returns its input. The sanity row of every results table.

It shows the scores a method gets by doing nothing (perfect identity and quality, the
source emotion's accuracy) and exercises the whole pipeline without any weights.

Example:
    >>> import torch
    >>> editor = IdentityEditor.from_config({})
    >>> x = torch.rand(2, 3, 16, 16)
    >>> bool(torch.equal(editor.edit(x, [0, 0], [1, 2]).images, x))
    True
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from emobench.editors.base import EditOutput, Editor, NoOptions
from emobench.options import options_from_mapping


class IdentityEditor(Editor):
    """Returns the input unchanged (no options, no checkpoint)."""

    Init = NoOptions
    Params = NoOptions

    @classmethod
    def from_config(cls, init: Mapping[str, Any], device: torch.device | str = "cpu") -> "IdentityEditor":
        options_from_mapping(cls.Init, init, "init of identity")
        return cls()

    def identity(self) -> dict[str, Any]:
        return {"editor": "identity", "class": f"{type(self).__module__}.{type(self).__qualname__}", "checkpoints": {}}

    def _edit(self, images: torch.Tensor, source_labels: torch.Tensor, target_labels: torch.Tensor,
              seeds: list[int], params: Any) -> EditOutput:
        return EditOutput(images=images.clone(), used=[{"target": int(t)} for t in target_labels])

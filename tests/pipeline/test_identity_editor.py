import pytest
import torch

from emobench.editors import EDITORS
from emobench.editors.identity import IdentityEditor


def test_registered_and_returns_input():
    editor = EDITORS.get("identity").from_config({}, "cpu")
    x = torch.rand(3, 3, 16, 16)
    out = editor.edit(x, [0, 1, 7], [1, 2, 3], seeds=[0, 1, 2])
    assert torch.equal(out.images, x) and out.images.data_ptr() != x.data_ptr()
    many = editor.edit_many(x, [0, 1, 7], [[1, 2], [3], [4, 5, 6]], seeds=list(range(6)))
    assert torch.equal(many.images[5], x[2]) and many.images.shape[0] == 6
    assert editor.identity()["checkpoints"] == {}


@pytest.mark.parametrize("images, src, tgt, match", [
    (torch.rand(1, 3, 8, 8) * 2, [0], [1], r"expected values in \[0, 1\]"),
    (torch.rand(1, 1, 8, 8), [0], [1], r"shape \(N, 3, H, W\)"),
    (torch.rand(1, 3, 8, 8).double(), [0], [1], "float32"),
    (torch.rand(2, 3, 8, 8), [0], [1, 2], "source_labels: expected 2 labels"),
    (torch.rand(1, 3, 8, 8), [0], [9], r"indices in 0..7"),
])
def test_bad_input(images, src, tgt, match):
    with pytest.raises(ValueError, match=match):
        IdentityEditor.from_config({}).edit(images, src, tgt)


def test_unknown_option():
    with pytest.raises(TypeError, match=r"unknown option\(s\) checkpoint; accepted: \(none\)"):
        IdentityEditor.from_config({"checkpoint": "x"})
    with pytest.raises(TypeError, match=r"unknown option\(s\) guidance"):
        IdentityEditor.from_config({}).edit(torch.rand(1, 3, 8, 8), [0], [1], guidance=3.0)

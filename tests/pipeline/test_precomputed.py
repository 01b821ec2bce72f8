
import pytest
import torch

from emobench.cards import apply_overrides, load_method, load_protocol
from emobench.editors.precomputed import PrecomputedEditor
from emobench.imageio import load_image, save_png
from emobench.runner import RunOptions, run
from emobench.store import read_run
from tests.pipeline.conftest import write_method, write_protocol


def test_precomputed_evaluates_another_tools_edits(tmp_path, cards_dir):
    # "another tool": the fake editor's outputs, copied into image_id/target.png
    shift = run(*apply_overrides(load_method(str(write_method(cards_dir))),
                                 load_protocol(str(write_protocol(cards_dir))), []),
                RunOptions(out=tmp_path / "a", quiet=True))
    records = read_run(shift.run_dir)
    edits = tmp_path / "edits"
    for r in records[1:]:  # leave the first one out: a per-row error
        save_png(load_image(shift.run_dir / r["output"]), edits / r["image_id"] / f"{r['target']}.png")
    method, proto = apply_overrides(load_method("precomputed"), load_protocol(str(cards_dir / "fake.toml")),
                                    [f"directory={edits}"])
    result = run(method, proto, RunOptions(out=tmp_path / "b", quiet=True))
    got = read_run(result.run_dir)
    assert len(got) == len(records) and result.errors == 1
    assert got[0]["status"] == "error" and "no precomputed edit at" in got[0]["error"]
    for a, b in zip(records[1:], got[1:]):
        assert b["status"] == "ok" and b["output_sha256"] == a["output_sha256"]
        assert b["metric.mae"] == pytest.approx(a["metric.mae"], abs=1e-7)


def test_precomputed_identity_changes_with_files(tmp_path):
    save_png(torch.zeros(3, 8, 8), tmp_path / "x" / "happy.png")
    first = PrecomputedEditor.from_config({"directory": str(tmp_path)}).identity()
    save_png(torch.ones(3, 8, 8), tmp_path / "x" / "happy.png")
    assert PrecomputedEditor.from_config({"directory": str(tmp_path)}).identity() != first


@pytest.mark.parametrize("init, match", [
    ({"directory": ""}, "directory is not set"),
    ({"directory": "/nonexistent"}, "is not a folder"),
    ({"directory": ".", "pattern": "{target}.png"}, "including {image_id}"),
    ({"directory": ".", "pattern": "{image_id}/{emotion}.png"}, r"got \['emotion', 'image_id'\]"),
    ({"directory": ".", "pattern": "{image_id"}, "pattern"),
    ({"directory": ".", "patern": "x"}, r"unknown option\(s\) patern"),
])
def test_precomputed_bad_init(init, match):
    with pytest.raises((ValueError, TypeError), match=match):
        PrecomputedEditor.from_config(init)


def test_plain_edit_explains_itself(tmp_path):
    editor = PrecomputedEditor.from_config({"directory": str(tmp_path)})
    with pytest.raises(RuntimeError, match="edit_by_id"):
        editor.edit(torch.zeros(1, 3, 8, 8), [0], [1])

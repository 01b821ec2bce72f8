import shutil

import pytest

from emobench.datasets import DATASETS
from emobench.datasets.base import DatasetError


def _fixture(tmp_path, shared_data):
    src = shared_data / "london_256"
    for kind, ids in (("neutral", ["001", "002", "003"]), ("happy", ["001", "002"])):
        (tmp_path / kind).mkdir(parents=True)
        for i in ids:
            shutil.copy(src / kind / f"{i}.jpg", tmp_path / kind / f"{i}.jpg")
    return tmp_path


def test_london_pairs_and_reference(tmp_path, shared_data):
    root = _fixture(tmp_path, shared_data)
    ds = DATASETS.get("london").from_config({"root": str(root)})
    samples = ds.samples()
    assert [s.person for s in samples] == ["001", "002"]  # 003 has no smile -> no sample
    img = ds.load(samples[0], 32)
    ref = ds.reference(samples[0], 1, 32)
    assert img.shape == ref.shape == (3, 32, 32)
    assert ds.reference(samples[0], 2, 32) is None


def test_london_errors(tmp_path):
    with pytest.raises(DatasetError, match="neutral"):
        DATASETS.get("london").from_config({"root": str(tmp_path)})
    with pytest.raises(TypeError):
        DATASETS.get("london").from_config({"rot": "x"})


def test_groundtruth_row_on_london_pairs(tmp_path, shared_data, capsys):
    """The paper's "groundtruth" row: the real smile scored as if it were the edit."""
    import json

    from emobench.cli import main
    from emobench.store import read_run

    root = _fixture(tmp_path / "london", shared_data)
    argv = ["run", "--method", "groundtruth", "--protocol", "london-pairs", "--set", f"dataset.root={root}",
            "--set", "protocol.evaluators=[\"quality\", \"paired\"]", "--out", str(tmp_path / "runs"), "--quiet"]
    assert main(argv) == 0
    run_dir = next((tmp_path / "runs" / "london-pairs" / "groundtruth").iterdir())
    rows = read_run(run_dir)
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows)
    assert all(r["metric.paired.psnr"] == 80.0 and r["metric.paired.ssim"] == pytest.approx(1.0) for r in rows)
    assert all(r["metric.psnr"] < 40 for r in rows)  # the smile differs from the neutral source
    assert json.loads((run_dir / "manifest.json").read_text())["method"]["name"] == "groundtruth"


def test_groundtruth_without_a_reference_is_a_row_error(tmp_path):
    from emobench.editors.groundtruth import GroundTruthEditor

    with pytest.raises(ValueError, match="call edit_batch with a references loader"):
        GroundTruthEditor().edit(__import__("torch").rand(1, 3, 8, 8), [0], [1])

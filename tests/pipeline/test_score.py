"""``emobench score``: absolute paths, missing / damaged / changed edits become error rows (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from emobench.cli import main
from emobench.imageio import save_png
from emobench.store import read_manifest, read_run


def _folder_run(tmp_path: Path, monkeypatch, capsys) -> Path:
    start = tmp_path / "start"
    for label in ("neutral", "happy"):
        save_png(torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(len(label))),
                 start / "faces" / label / "p1.png")
    monkeypatch.chdir(start)  # dataset.root is relative to where the run starts
    argv = ["run", "--method", "identity", "--protocol", "folder", "--set", "dataset.root=faces",
            "--set", "protocol.evaluators=[\"quality\"]", "--set", "evaluators.quality.lpips=false",
            "--set", "resolution=16", "--set", "targets=happy,sad", "--out", str(tmp_path / "runs"), "--quiet",
            "--device", "cpu"]
    assert main(argv) == 0
    run_dir = Path(capsys.readouterr().out.split(":")[0])
    monkeypatch.chdir(tmp_path)  # score runs from elsewhere
    return run_dir


def test_the_manifest_holds_absolute_paths_and_score_works_from_any_folder(tmp_path, monkeypatch, capsys):
    run_dir = _folder_run(tmp_path, monkeypatch, capsys)
    root = read_manifest(run_dir)["config"]["protocol"]["dataset_options"]["root"]
    assert root == str((tmp_path / "start" / "faces").resolve())
    assert main(["score", str(run_dir), "--quiet", "--device", "cpu"]) == 0
    assert "rescored 3 edits" in capsys.readouterr().out


def test_missing_damaged_or_changed_edits_become_error_rows_and_come_back(tmp_path, monkeypatch, capsys):
    run_dir = _folder_run(tmp_path, monkeypatch, capsys)
    rows = sorted(read_run(run_dir), key=lambda r: r["request_id"])
    assert len(rows) == 3 and all(r["status"] == "ok" for r in rows)
    paths = [run_dir / r["output"] for r in rows]
    saved = [p.read_bytes() for p in paths]
    paths[0].unlink()  # missing
    paths[1].write_bytes(b"not a png")  # damaged
    save_png(torch.zeros(3, 16, 16), paths[2])  # a valid PNG, but not the one the run wrote
    assert main(["score", str(run_dir), "--quiet", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    assert "rescored 0 edits" in out and "3 marked status=error" in out and err == ""
    after = {r["request_id"]: r for r in read_run(run_dir)}
    errors = [after[r["request_id"]] for r in rows]
    assert all(r["status"] == "error" and r["metric.psnr"] is None for r in errors)
    assert "the edit is missing" in errors[0]["error"]
    assert "differs from the recorded" in errors[1]["error"]  # checked before decoding
    assert "differs from the recorded" in errors[2]["error"]
    for path, data in zip(paths, saved):
        path.write_bytes(data)
    assert main(["score", str(run_dir), "--quiet", "--device", "cpu"]) == 0
    assert "rescored 3 edits" in capsys.readouterr().out
    back = read_run(run_dir)
    assert all(r["status"] == "ok" and r["error"] is None and r["metric.psnr"] is not None for r in back)
    assert len((run_dir / "records.jsonl").read_text().splitlines()) == 3
    assert json.loads((run_dir / "manifest.json").read_text())["scored"]["failed"] == 0

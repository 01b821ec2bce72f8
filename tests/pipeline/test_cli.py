import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from emobench.cli import build_parser, main
from emobench.imageio import save_png
from emobench.store import read_run
from tests.pipeline.conftest import write_method, write_protocol

REPO = Path(__file__).resolve().parents[2]


def test_list_shows_cards_and_registries(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for text in ("identity", "Identity (no edit)", "licence MIT", "synthetic", "folder", "quality", "ldm-cgf"):
        assert text in out
    assert main(["list", "protocols"]) == 0
    assert "methods" not in capsys.readouterr().out.splitlines()[0]


def test_misspelled_method_suggests(capsys):
    assert main(["run", "--method", "idnetity", "--protocol", "synthetic"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "did you mean 'identity'" in err and "emobench list" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, match", [
    (["run", "--method", "identity", "--protocol", "synthetic", "--shard", "3/2"], "--shard"),
    (["run", "--method", "identity", "--protocol", "synthetic", "--set", "nonsense"], "expected key=value"),
    (["run", "--method", "identity", "--protocol", "folder"], "dataset.root"),
    (["run", "--method", "identity", "--protocol", "folder", "--set", "dataset.root=/nonexistent"], "not a folder"),
    (["score", "/nonexistent/run"], "not a run directory"),
    (["run", "--method", "precomputed", "--protocol", "synthetic"], "directory is not set"),
])
def test_user_errors_are_one_line(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err


def test_every_subcommand_has_help_with_examples(capsys):
    parser = build_parser()
    actions = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"][0]
    for name in ("list", "run", "score", "report"):
        help_text = actions.choices[name].format_help()
        assert "examples:" in help_text, name


def _faces(root: Path, n: int = 3) -> Path:
    g = torch.Generator().manual_seed(0)
    for label in ("neutral", "happy"):
        for i in range(n):
            save_png(torch.rand(3, 24, 20, generator=g), root / label / f"p{i}.png")
    return root


def test_python_m_emobench_run_folder_end_to_end(tmp_path):
    faces = _faces(tmp_path / "faces")
    (faces / "happy" / "bad.png").write_bytes(b"not a png")  # a corrupt file: error row, run goes on
    cmd = [sys.executable, "-m", "emobench", "run", "--method", "identity", "--protocol", "folder",
           "--set", f"dataset.root={faces}", "--set", "protocol.evaluators=[]", "--set", "resolution=16",
           "--out", str(tmp_path / "runs"), "--quiet", "--device", "cpu", "--threads", "1"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "new records (5 errors)" in proc.stdout
    run_dir = Path(proc.stdout.split(":")[0])
    records = read_run(run_dir)
    # 3 neutral x 6 targets + 4 happy (one corrupt) x 5 targets
    assert len(records) == 18 + 20
    bad = [r for r in records if r["image_id"] == "happy/bad"]
    assert len(bad) == 5 and all(r["status"] == "error" and "not a readable image" in r["error"] for r in bad)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["argv"][1:3] == ["run", "--method"] and manifest["status"] == "finished"
    assert len(list((run_dir / "edits").glob("*.png"))) == 33


def test_rank_world_size_pick_the_shard(tmp_path, cards_dir, monkeypatch, capsys):
    method, proto = write_method(cards_dir), write_protocol(cards_dir)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["run", "--method", str(method), "--protocol", str(proto), "--out", str(tmp_path), "--quiet"]) == 0
    assert "(shard 1/2)" in capsys.readouterr().out
    files = list(tmp_path.rglob("records*.jsonl"))
    assert [f.name for f in files] == ["records.shard-1-of-2.jsonl"]


def test_score_command(tmp_path, cards_dir, capsys):
    method, proto = write_method(cards_dir), write_protocol(cards_dir)
    assert main(["run", "--method", str(method), "--protocol", str(proto), "--out", str(tmp_path), "--quiet"]) == 0
    run_dir = Path(capsys.readouterr().out.split(":")[0])
    assert main(["score", str(run_dir), "--quiet", "--device", "cpu"]) == 0
    assert "rescored 10 edits" in capsys.readouterr().out
    assert main(["report", str(tmp_path), "--bootstrap", "20"]) == 0
    assert "index.html (2 tables" in capsys.readouterr().out
    assert (tmp_path / "report" / "tables" / "mean.csv").is_file()


def test_folder_protocol_on_the_shared_london_set(shared_data, tmp_path, capsys):
    london = shared_data / "london_256"
    if not (london / "neutral").is_dir():
        pytest.skip(f"London set not found at {london}")
    argv = ["run", "--method", "identity", "--protocol", "folder", "--set", f"dataset.root={london}",
            "--set", "per_class=2", "--set", "protocol.evaluators=[]", "--set", "resolution=64",
            "--out", str(tmp_path), "--quiet", "--device", "cpu"]
    assert main(argv) == 0
    run_dir = Path(capsys.readouterr().out.split(":")[0])
    records = read_run(run_dir)
    assert len(records) == 2 * 6 + 2 * 5 and all(r["status"] == "ok" for r in records)
    assert {r["image_id"] for r in records} == {"neutral/001", "neutral/002", "happy/001", "happy/002"}
    assert main(argv) == 0  # resumes: nothing new
    assert "0 new records" in capsys.readouterr().out


def test_cli_imports_no_torch_and_survives_a_broken_command(tmp_path):
    code = ("import sys; import emobench.commands as c; c.COMMAND_MODULES = c.COMMAND_MODULES + ('nosuch_cmd',); "
            "from emobench.cli import build_parser, main; build_parser(); assert 'torch' not in sys.modules, "
            "'a command module imports torch at import time'; sys.exit(main(['nosuch']))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "error: `emobench nosuch` is unavailable in this installation (ModuleNotFoundError" in proc.stderr


def test_a_clean_run_prints_nothing_on_stderr_from_third_party_loggers(tmp_path, shared_weights, shared_data):
    """OpenCV's DNN (YuNet), onnxruntime (SFace), timm and friends stay quiet: a clean --quiet run on real
    faces leaves stderr empty."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "EMOBENCH_HOME": str(tmp_path / "home"), "EMOBENCH_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "emobench", "run", "--method", "identity", "--protocol",
                           "london-pairs", "--set", f"dataset.root={shared_data / 'london_256'}", "--limit", "2",
                           "--quiet", "--out", str(tmp_path / "runs")], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr

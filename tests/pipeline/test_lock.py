"""One writer per run directory and shard, tested with real processes (issue 12, DESIGN §9)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from emobench.store import read_run
from tests.pipeline.conftest import write_method, write_protocol

REPO = Path(__file__).resolve().parents[2]
SLOW_CLI = REPO / "tests" / "pipeline" / "slow_cli.py"
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _run_cmd(method: Path, proto: Path, run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, str(SLOW_CLI), "run", "--method", str(method), "--protocol", str(proto),
            "--run-dir", str(run_dir), "--quiet", "--batch-size", "1", "--device", "cpu", "--threads", "1", *extra]


def _start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(run_dir: Path, pattern: str, count: int, procs: list[subprocess.Popen]) -> None:
    """Until ``count`` files match ``pattern``: the manifests exist once the runs hold their locks."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if len(list(run_dir.glob(pattern))) >= count:
            return
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    raise AssertionError("the runs did not start in time")


def _cards(cards_dir: Path, hold: Path) -> tuple[Path, Path]:
    # Each run waits at its first edit while `hold` exists: the test decides when it goes on.
    hold.write_text("")
    method = write_method(cards_dir, name="slow", editor="fake-slow", params=f'delay = 0.0\nhold = "{hold}"')
    return method, write_protocol(cards_dir)  # 10 requests


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    return lines[0]


def test_a_second_process_on_the_same_run_dir_stops_and_deletes_nothing(tmp_path, cards_dir):
    hold = tmp_path / "hold"
    method, proto = _cards(cards_dir, hold)
    run_dir = tmp_path / "run"
    first = _start(_run_cmd(method, proto, run_dir))
    _wait_for(run_dir, "manifest.json", 1, [first])
    (run_dir / "edits" / ".tmp-half-written.png").write_bytes(b"\x89PNG")  # what the first is writing
    second = _start(_run_cmd(method, proto, run_dir))
    score = _start([sys.executable, str(SLOW_CLI), "score", str(run_dir), "--quiet", "--device", "cpu"])
    out2, err2 = second.communicate(timeout=120)
    out3, err3 = score.communicate(timeout=120)
    assert first.poll() is None
    assert second.returncode == 2 and score.returncode == 2
    for err in (err2, err3):
        line = _one_error_line(err)
        assert f"is in use by process {first.pid} on " in line and "wait for it to finish" in line, line
    assert (run_dir / "edits" / ".tmp-half-written.png").exists(), "the second process deleted a file"
    hold.unlink()
    assert first.wait(timeout=120) == 0, first.communicate()
    records = read_run(run_dir)
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    assert len(records) == len(lines) == 10, "lost or duplicated records"
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "finished"
    pngs = [p.stem for p in (run_dir / "edits").glob("*.png") if not p.name.startswith(".tmp-")]
    assert sorted(pngs) == sorted(r["request_id"] for r in records)


def test_shards_write_side_by_side_and_exclude_an_unsharded_run(tmp_path, cards_dir):
    hold = tmp_path / "hold"
    method, proto = _cards(cards_dir, hold)
    run_dir = tmp_path / "run"
    shards = [_start(_run_cmd(method, proto, run_dir, "--shard", f"{i}/2")) for i in range(2)]
    _wait_for(run_dir, "manifest.shard-*-of-2.json", 2, shards)
    whole = subprocess.run(_run_cmd(method, proto, run_dir, "--overwrite"), cwd=REPO, env=ENV, capture_output=True,
                           text=True, timeout=120)
    assert all(s.poll() is None for s in shards)
    assert whole.returncode == 2
    line = _one_error_line(whole.stderr)
    assert "is in use by process" in line and "shard-" in line, line
    hold.unlink()
    for s in shards:
        assert s.wait(timeout=120) == 0, s.communicate()
    records = read_run(run_dir)
    assert len(records) == len({r["request_id"] for r in records}) == 10
    assert {r["shard"] for r in records} == {"0/2", "1/2"}

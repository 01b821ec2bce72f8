"""Kill a run with SIGKILL (or stop it with SIGTERM, a scheduler's time limit) mid-way, resume it,
and compare with a clean run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emobench.store import read_run
from tests.pipeline.conftest import write_method, write_protocol

REPO = Path(__file__).resolve().parents[2]
SLOW_CLI = REPO / "tests" / "pipeline" / "slow_cli.py"


def _cmd(method: Path, proto: Path, out: Path, overlap: str = "off") -> list[str]:
    return [sys.executable, str(SLOW_CLI), "run", "--method", str(method), "--protocol", str(proto),
            "--out", str(out), "--quiet", "--batch-size", "2", "--device", "cpu", "--threads", "1",
            "--overlap", overlap]


def _strip(records):
    return {r["request_id"]: {k: v for k, v in r.items() if k != "runtime_s"} for r in records}


@pytest.mark.parametrize("overlap", ["off", "on"])
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_kill_then_resume_equals_clean_run(tmp_path, cards_dir, signum, overlap):
    method = write_method(cards_dir, name="slow", editor="fake-slow")
    proto = write_protocol(cards_dir, sources='["neutral", "happy", "sad", "contempt"]',
                           targets='["happy", "sad", "anger"]', per_class=6)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed_out = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(method, proto, killed_out, overlap), cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    lines = 0
    while time.monotonic() < deadline and proc.poll() is None:
        files = list(killed_out.rglob("records.jsonl"))
        lines = files[0].read_text().count("\n") if files else 0
        if lines >= 8:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    run_dir = next(killed_out.rglob("manifest.json")).parent
    if signum == signal.SIGTERM:  # handled like Ctrl-C: one line, exit 128+15, the manifest says so
        assert proc.returncode == 143, err
        assert err.decode().strip() == "interrupted (SIGTERM); rerun the same command to resume"
        assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"
    partial = read_run(run_dir)
    assert 8 <= len(partial) < 60  # 6 people x (3+2+2+3) edits = 60 requests
    resumed = subprocess.run(_cmd(method, proto, killed_out, overlap), cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    clean = subprocess.run(_cmd(method, proto, tmp_path / "clean"), cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=120)
    assert clean.returncode == 0, clean.stderr
    clean_dir = next((tmp_path / "clean").rglob("manifest.json")).parent
    assert clean_dir.name == run_dir.name
    got, want = read_run(run_dir), read_run(clean_dir)
    assert len(want) == 60
    assert len(got) == len({r["request_id"] for r in got}) == 60, "duplicate or lost rows"
    assert _strip(got) == _strip(want)
    # no stray temporary files, one PNG per record
    assert sorted(p.name for p in (run_dir / "edits").iterdir()) == sorted(f"{r['request_id']}.png" for r in want)

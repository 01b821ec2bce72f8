"""README command 1, as written, in a fresh clone with a fresh venv: it installs, runs the main job on
the embedded default and writes the report within the time the README states for this machine (slow)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def readme_first_command() -> tuple[str, float]:
    """The first ```bash block of README's set-up section and the minutes README says it takes."""
    text = (REPO / "README.md").read_text()
    setup = text[text.index("## Set-up"):]
    command = re.search(r"```bash\n(.+?)\n```", setup, re.S).group(1).strip()
    minutes = re.search(r"The first command takes under (\d+) minutes", setup)
    assert minutes, "README: state 'The first command takes under N minutes' in the set-up section"
    return command, float(minutes.group(1))


def test_readme_command_one_in_a_fresh_clone(tmp_path):
    command, minutes = readme_first_command()
    assert command.startswith("python3 -m venv .venv") and "emobench run" in command and "emobench report" in command
    clone = tmp_path / "emobench"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=300)
    shared = Path(os.environ.get("EMOBENCH_SHARED", REPO.parent / "shared"))
    env = {**os.environ, "EMOBENCH_WEIGHTS": str(shared / "weights"), "EMOBENCH_HOME": str(tmp_path / "home")}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    start = time.monotonic()
    proc = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=int(minutes * 60 * 2))
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert (clone / "runs" / "synthetic" / "report" / "index.html").is_file()
    records = list((clone / "runs" / "synthetic" / "ldm").rglob("records.jsonl"))
    assert records and records[0].read_text().count("\n") > 0
    # The README's figure is for this machine (2 cores); the bound is the README's, not a new one.
    assert elapsed <= minutes * 60, f"README command 1 took {elapsed / 60:.1f} min; README says under {minutes:g}"

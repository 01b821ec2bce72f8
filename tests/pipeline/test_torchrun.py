"""Two ranks under torchrun (CPU, gloo-free: the runner needs no process group) give the records of
one unsharded run: each rank takes its shard from RANK/WORLD_SIZE and both write one run directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from emobench.store import read_run, record_files

REPO = Path(__file__).resolve().parents[2]


def _run(prefix: list[str], out: Path) -> subprocess.CompletedProcess:
    # The demo LDM at 4 DDIM steps on one synthetic person; batch 1, so no row shares a batch with
    # another and sharding cannot move a float.
    args = ["-m", "emobench", "run", "--method", "ldm", "--protocol", "synthetic", "--set", "ddim_steps=4",
            "--set", "dataset.identities=1", "--batch-size", "1", "--device", "cpu", "--threads", "1",
            "--quiet", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(prefix + args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_torchrun_two_ranks_equal_one_unsharded_run(tmp_path):
    ranks = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"],
                 tmp_path / "ranks")
    assert ranks.returncode == 0, ranks.stderr[-2000:]
    single = _run([sys.executable], tmp_path / "single")
    assert single.returncode == 0, single.stderr[-2000:]
    ranked_dir = next((tmp_path / "ranks").rglob("manifest*.json")).parent
    single_dir = next((tmp_path / "single").rglob("manifest.json")).parent
    assert ranked_dir.name == single_dir.name  # one config, one run directory
    assert len(record_files(ranked_dir)) == 2
    got = {r["request_id"]: r for r in read_run(ranked_dir)}
    want = {r["request_id"]: r for r in read_run(single_dir)}
    assert len(want) == 42 and set(got) == set(want)
    assert {got[k]["shard"] for k in got} == {"0/2", "1/2"}
    drop = {"runtime_s", "shard"}
    assert {k: {c: v for c, v in r.items() if c not in drop} for k, r in got.items()} == \
           {k: {c: v for c, v in r.items() if c not in drop} for k, r in want.items()}

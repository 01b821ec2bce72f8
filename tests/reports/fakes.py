"""Helpers of the report/study tests: tiny fake runs with saved edits, polling."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import numpy as np
from PIL import Image

T = TypeVar("T")


def study_run(root: Path, method: str, images: int = 4, targets: Sequence[str] = ("happy", "sad", "anger"),
              protocol: str = "proto", params: dict | None = None) -> Path:
    """A run directory with one random 16x16 PNG edit per (image, target), in the runner's layout."""
    suffix = "".join(f"{k}{v}" for k, v in (params or {}).items())
    run_dir = root / protocol / method / f"0123456789{suffix or 'ab'}"
    (run_dir / "edits").mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps({"config": {"protocol": {"name": protocol}}, "evaluators": []}))
    rng = np.random.default_rng(sum(map(ord, method + suffix)))
    rows = []
    for i in range(images):
        for target in targets:
            rid = f"{method}{suffix}-{i}-{target}"
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(run_dir / "edits" / f"{rid}.png")
            rows.append({"request_id": rid, "image_id": f"img{i}", "method": method, "target": target,
                         "status": "ok", "output": f"edits/{rid}.png",
                         **{f"param.{k}": v for k, v in (params or {}).items()}})
    (run_dir / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run_dir


def three_method_study(tmp_path: Path, kind: str = "realism", n: int = 2, seed: int = 0) -> Path:
    """``study make`` over fake ldm, ganmut and identity runs (3 images; happy and sad): the study folder."""
    from emobench.cli import main

    root = tmp_path / "runs"
    runs = [study_run(root, "ldm", images=3, targets=("happy", "sad")),
            study_run(root, "ganmut", images=3, targets=("happy", "sad")),
            study_run(root, "identity", images=3, targets=("happy",))]
    out = tmp_path / "study"
    assert main(["study", "make", *map(str, runs), "--kind", kind, "--out", str(out), "--n", str(n),
                 "--seed", str(seed)]) == 0
    return out


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy (or fail after ``timeout`` seconds)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def metric_run(root: Path, method: str, rows: Sequence[dict], *, protocol: str = "proto", status: str = "finished",
               expected: int | None = None, title: str = "", editor: str = "", shard_count: int = 1,
               backends: dict | None = None) -> Path:
    """A run directory whose records are ``rows`` (each: image_id, target and metric.* columns) and whose
    manifest has the runner's status and request counts (``expected`` defaults to the number of rows)."""
    suffix = "".join(sorted(f"{k}{v}" for r in rows for k, v in r.items() if k.startswith("param.")))[:12]
    run_dir = root / protocol / method / (hashlib.sha256(suffix.encode()).hexdigest()[:12] if suffix else "0123456789ab")
    run_dir.mkdir(parents=True)
    evaluators = [{"name": name, "backend": backend, "weights_sha256": {f"{name}.bin": "cd" * 32}}
                  for name, backend in (backends or {"emotion": "fake-judge", "identity": "sface"}).items()]
    manifest = {"config": {"protocol": {"name": protocol}}, "evaluators": evaluators, "status": status,
                "method": {"name": method, "title": title or method, "editor": editor or method},
                "requests": {"in_shard": len(rows) if expected is None else expected},
                "shard": {"index": 0, "count": shard_count}, "config_hash": "0123456789ab"}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with open(run_dir / "records.jsonl", "w") as fh:
        for i, row in enumerate(rows):
            fh.write(json.dumps({"request_id": f"{method}-{i}", "method": method, "editor": editor or method,
                                 "seed": 0, "status": "ok", **row}) + "\n")
    return run_dir

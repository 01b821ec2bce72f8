"""Runs as tables: one tidy row per edit, with the run's protocol, method, config hash and shard.

``records.jsonl`` stays the source of truth; this reads it (every shard, the last row of a retried
request) and adds the columns that make rows of several runs comparable in one frame. Written as
CSV (always) or Parquet (pandas with pyarrow installed: ``pip install pyarrow``).

Example:
    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "records.jsonl").write_text(json.dumps({"request_id": "a", "metric.psnr": 30.0}) + "\\n")
    >>> _ = (d / "manifest.json").write_text(json.dumps({"config_hash": "h", "method": {"name": "m"},
    ...     "config": {"protocol": {"name": "p"}}}))
    >>> run_frame(d)[["protocol", "method", "run_hash", "metric.psnr"]].values.tolist()
    [['p', 'm', 'h', 30.0]]
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from emobench.atomic import atomic_path
from emobench.errors import UserError
from emobench.store import find_run_dirs, read_manifest, read_run

FORMATS = ("csv", "parquet")
RUN_COLUMNS = ("protocol", "method", "run_hash")


def run_frame(run_dir: Path):
    """The records of one run directory as a pandas DataFrame (``protocol``, ``method``, ``run_hash`` first)."""
    import pandas as pd

    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if manifest is None:
        raise UserError(f"{run_dir}: no manifest.json (expected a run directory written by `emobench run`)")
    records = read_run(run_dir)
    protocol = (manifest.get("config", {}).get("protocol") or {}).get("name", "")
    head = {"protocol": protocol, "method": manifest.get("method", {}).get("name", ""),
            "run_hash": manifest.get("config_hash", "")}
    frame = pd.DataFrame([{**head, **r} for r in records])
    if frame.empty:
        frame = pd.DataFrame(columns=list(RUN_COLUMNS))
    return frame


def export(paths: Sequence[Path], dest: Path, fmt: str = "csv") -> tuple[Path, int]:
    """Write every edit of the runs under ``paths`` to ``dest``; returns (dest, rows)."""
    import pandas as pd

    if fmt not in FORMATS:
        raise UserError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    frame = pd.concat([run_frame(d) for d in find_run_dirs(paths)], ignore_index=True, sort=False)
    dest = Path(dest)
    with atomic_path(dest) as tmp:
        if fmt == "parquet":
            try:
                frame.to_parquet(tmp, index=False)
            except ImportError as exc:
                raise UserError(f"--format parquet needs pyarrow (pip install pyarrow): {exc}") from None
        else:
            frame.to_csv(tmp, index=False)
    return dest, len(frame)

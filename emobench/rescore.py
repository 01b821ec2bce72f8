"""Recompute the metric columns of a finished run from its saved edits (``emobench score``).

The protocol (dataset and evaluators with their options) is rebuilt from the run's
manifest (its paths are absolute), so fixing or upgrading a metric needs no re-editing. Each
records file is rewritten atomically with fresh ``metric.*`` columns. An ``ok`` row whose edit is
missing, unreadable or no longer the file the run wrote (its sha256 differs from
``output_sha256``), or whose source cannot be loaded, becomes ``status="error"`` with the reason
(``score: ...``); a later ``score`` retries such rows. The run directory's locks are taken
first, so a run still writing to it is refused (:class:`~emobench.runlock.RunDirBusy`).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from emobench.cards import CardError, protocol_from_config
from emobench.errors import UserError
from emobench.imageio import ImageReadError, load_image
from emobench.labels import EMOTIONS
from emobench.building import build_dataset, build_evaluators
from emobench.weights import sha256_file
from emobench.scoring import make_eval_batch, metric_infos, quantize, score_batch
from emobench.runlock import RunLock
from emobench.store import manifest_files, read_manifest, read_records, record_files, write_json_atomic, \
    write_text_atomic


@dataclasses.dataclass
class ScoreResult:
    """What ``score`` did: rows rescored, rows that could not be (missing edit or source)."""

    scored: int
    failed: int
    files: int


def _edit_of(run_dir: Path, record: dict[str, Any]) -> torch.Tensor:
    """The saved edit of ``record``, checked against its recorded sha256; raises ``ImageReadError``."""
    rel = Path(str(record.get("output") or ""))
    if not rel.parts or rel.is_absolute() or ".." in rel.parts:
        raise ImageReadError(f"output {record.get('output')!r} is not a path inside the run directory")
    path = run_dir / rel
    if not path.is_file():
        raise ImageReadError(f"{rel}: the edit is missing")
    expected = record.get("output_sha256")
    if expected and sha256_file(path) != expected:
        raise ImageReadError(f"{rel}: sha256 {sha256_file(path)[:12]}… differs from the recorded {expected[:12]}… "
                             f"(the file changed after the run wrote it); rerun with --retry-errors to redo it")
    return load_image(path)


def _scorable(record: dict[str, Any]) -> bool:
    # ok rows, and rows an earlier `score` marked as errors (their edit may be back)
    return record.get("status") == "ok" or str(record.get("error") or "").startswith("score:")


def rescore(run_dir: Path, device: str = "cpu", batch_size: int = 32, quiet: bool = False) -> ScoreResult:
    """Recompute every ``metric.*`` column of the run in ``run_dir`` (see the module docstring)."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if manifest is None:
        raise UserError(f"{run_dir}: not a run directory (no manifest.json); expected "
                        f"runs/<protocol>/<method>/<hash>/")
    with RunLock(run_dir, whole=True).acquire():
        return _rescore_locked(run_dir, manifest, device, batch_size, quiet)


def _rescore_locked(run_dir: Path, manifest: dict[str, Any], device: str, batch_size: int,
                    quiet: bool) -> ScoreResult:
    try:
        protocol = protocol_from_config(manifest["config"]["protocol"])
    except (KeyError, CardError) as exc:
        raise UserError(f"{run_dir}: manifest has no usable protocol config ({exc})") from exc
    dataset = build_dataset(protocol)
    samples = {s.id: s for s in dataset.samples()}
    evaluators = build_evaluators(protocol, device)
    names = [m.name for m in metric_infos(evaluators)]
    scored = failed = 0
    files = record_files(run_dir)
    for path in files:
        records = read_records(path)
        metrics: dict[int, dict[str, float | None]] = {}
        notes: dict[int, str] = {}
        unusable: set[int] = set()
        todo = [i for i, r in enumerate(records) if _scorable(r)]
        for start in tqdm(range(0, len(todo), batch_size), desc=f"scoring {path.name}", disable=quiet):
            chunk = todo[start:start + batch_size]
            rows, sources, edits = [], [], []
            for i in chunk:
                record = records[i]
                try:
                    edit = _edit_of(run_dir, record)
                    if record.get("image_id") not in samples:
                        raise ImageReadError(f"source image {record.get('image_id')!r} is not in the dataset any more")
                    sample = samples[record["image_id"]]
                    source = quantize(dataset.load(sample, protocol.resolution))
                    target = EMOTIONS.index(record["target"])
                except Exception as exc:  # noqa: BLE001 - one row's missing or damaged file fails only that row
                    reason = str(exc) if isinstance(exc, ImageReadError) else f"{type(exc).__name__}: {exc}"
                    notes[i] = f"score: cannot load the source or the edit: {reason}"
                    unusable.add(i)
                    failed += 1
                    continue
                sources.append(source)
                edits.append(edit)
                rows.append((i, sample, target))
            if not rows:
                continue
            batch = make_eval_batch(dataset, [s for _, s, _ in rows], [t for _, _, t in rows], torch.stack(sources),
                                    torch.stack(edits), protocol.resolution)
            values, problem = score_batch(evaluators, batch)
            for k, (i, _, _) in enumerate(rows):
                metrics[i] = {n: (float(values[n][k]) if np.isfinite(values[n][k]) else None) for n in names}
                if problem:
                    notes[i] = f"metrics: {problem}"
            scored += len(rows)
        lines = []
        for i, record in enumerate(records):
            new = {k: v for k, v in record.items() if not k.startswith("metric.") and k != "shard"}
            old_error = record.get("error") or ""
            if i in unusable:
                new["status"] = "error"
            elif i in metrics:
                new["status"] = "ok"  # scored now (an earlier score's error row whose edit is back)
            if i in notes:
                new["error"] = notes[i]
            elif old_error.startswith(("metrics:", "score:")):  # a metric problem this rescoring replaced
                new["error"] = None
            for name in names:
                new[f"metric.{name}"] = metrics.get(i, {}).get(name)
            new["shard"] = record.get("shard")
            lines.append(json.dumps(new, allow_nan=False) + "\n")
        write_text_atomic(path, "".join(lines))
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for path in manifest_files(run_dir):
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        data["evaluators"] = [dataclasses.asdict(ev.info()) for ev in evaluators]
        data["metrics"] = [dataclasses.asdict(m) for m in metric_infos(evaluators)]
        data["scored"] = {"at": now, "device": device, "rows": scored, "failed": failed}
        write_json_atomic(path, data)
    return ScoreResult(scored, failed, len(files))

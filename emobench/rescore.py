"""Recompute the metric columns of a finished run from its saved edits (``emobench score``).

The protocol (dataset and evaluators with their options) is rebuilt from the run's
manifest, so fixing or upgrading a metric needs no re-editing. Each records file is
rewritten atomically with fresh ``metric.*`` columns; rows with ``status="error"`` keep
null metrics. Score a run that no process is still writing to.
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
from emobench.scoring import make_eval_batch, metric_infos, quantize, score_batch
from emobench.store import manifest_files, read_manifest, read_records, record_files, write_json_atomic, \
    write_text_atomic


@dataclasses.dataclass
class ScoreResult:
    """What ``score`` did: rows rescored, rows that could not be (missing edit or source)."""

    scored: int
    failed: int
    files: int


def rescore(run_dir: Path, device: str = "cpu", batch_size: int = 32, quiet: bool = False) -> ScoreResult:
    """Recompute every ``metric.*`` column of the run in ``run_dir``."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if manifest is None:
        raise UserError(f"{run_dir}: not a run directory (no manifest.json); expected "
                        f"runs/<protocol>/<method>/<hash>/")
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
        todo = [i for i, r in enumerate(records) if r.get("status") == "ok" and r.get("output")]
        for start in tqdm(range(0, len(todo), batch_size), desc=f"scoring {path.name}", disable=quiet):
            chunk = todo[start:start + batch_size]
            rows, sources, edits = [], [], []
            for i in chunk:
                record = records[i]
                try:
                    sample = samples[record["image_id"]]
                    sources.append(quantize(dataset.load(sample, protocol.resolution)))
                    edits.append(load_image(run_dir / record["output"]))
                    rows.append((i, sample, EMOTIONS.index(record["target"])))
                except (KeyError, ImageReadError, OSError, ValueError) as exc:
                    del sources[len(rows):]
                    notes[i] = f"score: cannot load source or edit: {type(exc).__name__}: {exc}"
                    failed += 1
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

"""Find run directories, read their records into one tidy table, check they may be compared.

Example:
    >>> find_run_dirs([Path("/nonexistent")])
    Traceback (most recent call last):
    ...
    emobench.errors.UserError: /nonexistent: no such run directory (expected a folder with manifest.json)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from emobench.errors import UserError
from emobench.store import manifest_files, read_manifest, read_run

# The paper's five headline metrics: record column, header, higher-is-better.
HEADLINE = (("metric.accuracy", "Acc", True), ("metric.psnr", "PSNR", True), ("metric.ssim", "SSIM", True),
            ("metric.lpips", "LPIPS", False), ("metric.csim", "CSIM", True))


@dataclass
class RunSet:
    """Records of one or more runs (shards merged), their manifests, and what scored them."""

    records: pd.DataFrame
    manifests: list[dict[str, Any]]
    run_dirs: list[Path]
    mixed_backends: bool

    def directions(self) -> dict[str, bool]:
        """``metric.* column → higher_is_better`` from the manifests (headline defaults otherwise)."""
        out = {col: hib for col, _, hib in HEADLINE}
        for m in self.manifests:
            for info in m.get("metrics", []):
                out[f"metric.{info['name']}"] = bool(info["higher_is_better"])
        return out

    def caption_note(self) -> str:
        """Evaluator backends and weight hashes, for every caption."""
        parts = []
        seen = set()
        for m in self.manifests:
            for ev in m.get("evaluators", []):
                weights = ", ".join(f"{k} {str(v)[:12]}" for k, v in (ev.get("weights_sha256") or {}).items())
                text = f"{ev['name']}: {ev['backend']}" + (f" ({weights})" if weights else "")
                if text not in seen:
                    seen.add(text)
                    parts.append(text)
        note = "Evaluators — " + "; ".join(parts) if parts else "Evaluators — unknown"
        warnings = sorted({w for m in self.manifests for w in m.get("warnings", [])})
        if warnings:
            note += ". Warnings: " + " ".join(warnings).rstrip(".")
        if self.mixed_backends:
            note += ". MIXED evaluator backends across runs (--allow-mixed): numbers are not directly comparable"
        return note + ". PSNR/SSIM: piq, RGB [0,1], per image; LPIPS v0.1."


def find_run_dirs(paths: Sequence[Path]) -> list[Path]:
    """Run directories under ``paths`` (a run dir itself, or any folder containing run dirs)."""
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise UserError(f"{path}: no such run directory (expected a folder with manifest.json)")
        if manifest_files(path):
            found.append(path)
            continue
        below = sorted({p.parent for p in path.rglob("manifest*.json")})
        if not below:
            raise UserError(f"{path}: no runs found (no manifest.json in it or below it)")
        found += below
    return list(dict.fromkeys(found))


def _backends(manifest: dict[str, Any]) -> dict[str, str]:
    return {ev["name"]: ev["backend"] for ev in manifest.get("evaluators", [])}


def load_runs(paths: Sequence[Path], allow_mixed: bool = False) -> RunSet:
    """Read every run below ``paths``; refuse to mix evaluator backends unless ``allow_mixed``."""
    dirs = find_run_dirs(paths)
    frames, manifests = [], []
    for d in dirs:
        manifest = read_manifest(d) or {}
        rows = read_run(d)
        if not rows:
            continue
        frame = pd.DataFrame(rows)
        frame["run_dir"] = str(d)
        frame["protocol"] = manifest.get("config", {}).get("protocol", {}).get("name", d.parent.parent.name)
        frames.append(frame)
        manifests.append(manifest)
    if not frames:
        raise UserError(f"no records in {', '.join(map(str, dirs))}")
    backends = [_backends(m) for m in manifests]
    mixed = False
    for name in sorted({k for b in backends for k in b}):
        values = {b[name] for b in backends if name in b}
        if len(values) > 1:
            if not allow_mixed:
                raise UserError(f"runs were scored with different {name} backends ({', '.join(sorted(values))}); "
                                "re-score them with one backend (emobench score) or pass --allow-mixed")
            mixed = True
    records = pd.concat(frames, ignore_index=True)
    if "status" in records:
        records = records[records["status"].fillna("ok") == "ok"]
    return RunSet(records.reset_index(drop=True), manifests, dirs, mixed)


def setting_label(records: pd.DataFrame) -> pd.Series:
    """A readable label of each row's setting from the ``param.*`` columns that vary across rows."""
    params = [c for c in records.columns if c.startswith("param.")]
    varying = [c for c in params if records[c].astype(str).nunique() > 1]
    if not varying:
        return pd.Series([""] * len(records), index=records.index)
    return records[varying].astype(str).apply(
        lambda row: ", ".join(f"{c[len('param.'):]}={v}" for c, v in row.items()), axis=1)

"""Find run directories, read their records into one tidy table, check they may be compared,
and say how complete each run is (status and N from the manifests of all its shards).

Example:
    >>> find_run_dirs([Path("/nonexistent")])
    Traceback (most recent call last):
    ...
    emobench.errors.UserError: /nonexistent: no such run directory (expected a folder with manifest.json)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from emobench.errors import UserError
from emobench.store import find_run_dirs, manifest_files, read_manifest, read_run

# The paper's five headline metrics: record column, header, higher-is-better.
HEADLINE = (("metric.accuracy", "Acc", True), ("metric.psnr", "PSNR", True), ("metric.ssim", "SSIM", True),
            ("metric.lpips", "LPIPS", False), ("metric.csim", "CSIM", True))
# Paired metrics: the edit against the real target image (synthetic, london-pairs).
PAIRED = (("metric.paired.psnr", "pPSNR", True), ("metric.paired.ssim", "pSSIM", True),
          ("metric.paired.lpips", "pLPIPS", False), ("metric.paired.csim", "pCSIM", True))
# Editors whose rows are sanity checks (doing nothing; the real target photo): shown, never bolded.
SANITY_EDITORS = ("identity", "groundtruth")
# Manifest statuses of a run that is done; anything else (running, partial, failed, interrupted) is flagged.
DONE = "finished"


@dataclass(frozen=True)
class RunInfo:
    """One run directory: its method, card title, status over all shards and request counts.

    ``expected`` is the number of requests of the whole run (every shard's ``in_shard``), None
    when a shard never wrote a manifest or the manifests do not say; ``ok``/``errors`` count its
    records. ``status`` is the runner's (``finished``, ``partial``, ``running``, ``failed``,
    ``interrupted``), the worst over the shards, or ``unknown`` when the manifest has none.
    """

    run_dir: Path
    method: str
    title: str
    status: str
    expected: int | None
    ok: int
    errors: int
    shards: tuple[int, int] = (1, 1)  # (manifests found, shards the run was split into)

    @property
    def problems(self) -> list[str]:
        """What makes this run incomplete, in words (empty when it is complete or its status is unknown)."""
        out = []
        if self.status not in (DONE, "unknown"):
            out.append(self.status)
        if self.shards[0] < self.shards[1]:
            out.append(f"{self.shards[0]} of {self.shards[1]} shards started")
        if self.expected is not None and self.ok < self.expected:
            out.append(f"{self.ok} of {self.expected} requests ok")
        if self.errors:
            out.append(f"{self.errors} error rows")
        return out

    @property
    def complete(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """``status, N ok of expected`` for tables and the page.

        Example:
            >>> RunInfo(Path("r"), "ldm", "LDM", "partial", 96, 64, 0).summary()
            'partial: 64 of 96 requests ok'
        """
        n = f"{self.ok} of {self.expected} requests ok" if self.expected is not None else f"{self.ok} requests ok"
        if self.complete:
            return f"{'complete' if self.status == DONE else 'status unknown'}: {n}"
        flags = [p for p in self.problems if "requests ok" not in p]
        return f"{', '.join(flags) or 'incomplete'}: {n}"


@dataclass
class RunSet:
    """Records of one or more runs (shards merged), their manifests, what scored them, and how complete
    each run is. ``records`` holds the rows with status ok only."""

    records: pd.DataFrame
    manifests: list[dict[str, Any]]
    run_dirs: list[Path]
    mixed_backends: bool
    runs: list[RunInfo] = field(default_factory=list)

    def directions(self) -> dict[str, bool]:
        """``metric.* column → higher_is_better`` from the manifests (headline defaults otherwise)."""
        out = {col: hib for col, _, hib in HEADLINE + PAIRED}
        for m in self.manifests:
            for info in m.get("metrics", []):
                out[f"metric.{info['name']}"] = bool(info["higher_is_better"])
        return out

    @property
    def protocol(self) -> str:
        names = list(dict.fromkeys(str(p) for p in self.records.get("protocol", pd.Series(dtype=str))))
        return names[0] if len(names) == 1 else "+".join(names) or "runs"

    def titles(self) -> dict[str, str]:
        """Method name → the card's title (the name itself when a manifest has none)."""
        out: dict[str, str] = {}
        for info in self.runs:
            out.setdefault(info.method, info.title or info.method)
        return out

    def grid(self) -> dict[str, list[Any]]:
        """The protocol's ``[grid]`` (first manifest that has one): the sweep the curves follow, in card order."""
        for m in self.manifests:
            grid = m.get("config", {}).get("protocol", {}).get("grid") or {}
            if grid:
                return dict(grid)
        return {}

    def evaluator(self, name: str) -> dict[str, Any] | None:
        """The manifest entry of evaluator ``name`` (first run that has it), or None."""
        for m in self.manifests:
            for ev in m.get("evaluators", []):
                if ev.get("name") == name:
                    return ev
        return None

    def backends_note(self) -> str:
        """A short line for captions: which backend scored what, and the fidelity convention."""
        parts = []
        for m in self.manifests:
            for ev in m.get("evaluators", []):
                text = f"{ev['name']} {ev['backend']}"
                if text not in parts:
                    parts.append(text)
        note = ("Scored by " + ", ".join(parts) + ".") if parts else "Evaluator backends unknown."
        if self.mixed_backends:
            note += " MIXED evaluator backends across runs (--allow-mixed): numbers are not directly comparable."
        return note + " PSNR/SSIM: piq, RGB [0,1], per image; LPIPS v0.1."

    def caption_note(self) -> str:
        """Evaluator backends and weight hashes (for provenance.md; captions use :meth:`backends_note`)."""
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

    def warnings(self) -> list[str]:
        """Manifest warnings (e.g. a CGF loss network that is also an evaluator), each once."""
        return sorted({w for m in self.manifests for w in m.get("warnings", [])})


def _backends(manifest: dict[str, Any]) -> dict[str, str]:
    return {ev["name"]: ev["backend"] for ev in manifest.get("evaluators", [])}


def _status(manifests: Sequence[dict[str, Any]]) -> str:
    """The worst status over a run's shard manifests."""
    statuses = [str(m.get("status") or "unknown") for m in manifests]
    for bad in ("failed", "interrupted", "running", "partial", "unknown"):
        if bad in statuses:
            return bad
    return statuses[0] if statuses else "unknown"


def run_info(run_dir: Path, rows: Sequence[dict[str, Any]]) -> RunInfo:
    """Status and counts of one run directory from all its shard manifests and its records.

    Example:
        >>> run_info(Path("/nonexistent"), [{"status": "ok", "method": "m"}]).summary()
        'status unknown: 1 requests ok'
    """
    manifests = [json.loads(p.read_text(encoding="utf-8")) for p in manifest_files(run_dir)]
    first = manifests[0] if manifests else {}
    method = first.get("method", {}) or {}
    name = str(method.get("name") or (rows[0].get("method") if rows else run_dir.parent.name))
    count = int((first.get("shard") or {}).get("count") or 1)
    in_shard = [(m.get("requests") or {}).get("in_shard") for m in manifests]
    expected = sum(in_shard) if manifests and all(isinstance(n, int) for n in in_shard) and \
        len(manifests) >= count else None
    ok = sum(r.get("status", "ok") in ("ok", None) for r in rows)
    return RunInfo(Path(run_dir), name, str(method.get("title") or name), _status(manifests) if manifests
                   else "unknown", expected, ok, len(rows) - ok,
                   (len(manifests), count) if manifests else (1, 1))


def load_runs(paths: Sequence[Path], allow_mixed: bool = False) -> RunSet:
    """Read every run below ``paths``; refuse to mix evaluator backends unless ``allow_mixed``."""
    dirs = find_run_dirs(paths)
    frames, manifests, infos = [], [], []
    for d in dirs:
        manifest = read_manifest(d) or {}
        rows = read_run(d)
        if not rows:
            continue
        infos.append(run_info(d, rows))
        frame = pd.DataFrame(rows)
        for col in [c for c in frame.columns if c.startswith("param.")]:
            # object dtype keeps an int parameter an int when another run lacks it (NaN would make it 300.0)
            frame[col] = frame[col].astype(object)
        frame["run_dir"] = str(d)
        frame["protocol"] = manifest.get("config", {}).get("protocol", {}).get("name", d.parent.parent.name)
        if "method" not in frame:
            frame["method"] = infos[-1].method
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
    return RunSet(records.reset_index(drop=True), manifests, dirs, mixed, infos)


def setting_label(records: pd.DataFrame, order: Sequence[str] = ()) -> pd.Series:
    """A readable label of each row's setting from the ``param.*`` columns that vary across rows
    (a method without that parameter, e.g. the identity row beside a sweep, gets no label for it);
    parameters named in ``order`` (e.g. the protocol's grid) come first, in that order.

    Example:
        >>> df = pd.DataFrame({"param.guidance": [1.0, 3.0, None], "param.eta": [0.0, 0.0, None]})
        >>> setting_label(df).tolist()
        ['guidance=1.0', 'guidance=3.0', '']
    """
    params = [c for c in records.columns if c.startswith("param.")]
    varying = [c for c in params if records[c].dropna().astype(str).nunique() > 1]
    rank = {f"param.{k}": i for i, k in enumerate(order)}
    varying.sort(key=lambda c: rank.get(c, len(rank)))
    if not varying:
        return pd.Series([""] * len(records), index=records.index)
    return records[varying].apply(
        lambda row: ", ".join(f"{c[len('param.'):]}={v}" for c, v in row.items() if not pd.isna(v)), axis=1)

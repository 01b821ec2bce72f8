"""``provenance.md``: where every number of a report section came from (captions stay short).

Runs (directory, method, card title, status and counts, config hash, commit, started/finished,
argv), evaluators with their full weight sha256s, manifest warnings, the report's choices
(comparison, CSIM rule) and the published baselines with their sources.

Example:
    >>> "| method |" in runs_markdown([])
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from emobench.report.prepare import Prepared, ReportOptions
from emobench.report.runs import RunInfo


def runs_markdown(infos: Sequence[RunInfo]) -> str:
    """A Markdown table of the runs and their completeness."""
    lines = ["| method | title | status | run directory |", "|---|---|---|---|"]
    lines += [f"| {i.method} | {i.title} | {i.summary()} | `{i.run_dir}` |" for i in infos]
    return "\n".join(lines) + "\n"


def write_provenance(data: Prepared, options: ReportOptions, out: Path) -> Path:
    """Write ``out/provenance.md`` for one section."""
    runs = data.runs
    parts = [f"# Provenance: {data.protocol}", "", "## Runs", "", runs_markdown(runs.runs)]
    parts += ["## Per run", ""]
    for manifest, info in zip(runs.manifests, runs.runs):
        parts.append(f"- `{info.run_dir}`: config {manifest.get('config_hash', '?')}, "
                     f"emobench commit {manifest.get('git_commit') or 'unknown'}, started {manifest.get('started', '?')}, "
                     f"finished {manifest.get('finished') or '—'}, device {manifest.get('device', '?')}; "
                     f"argv `{' '.join(manifest.get('argv', []) or [])}`")
    parts += ["", "## Evaluators", ""]
    seen = set()
    for manifest in runs.manifests:
        for ev in manifest.get("evaluators", []):
            key = (ev.get("name"), ev.get("backend"), tuple(sorted((ev.get("weights_sha256") or {}).items())))
            if key in seen:
                continue
            seen.add(key)
            weights = ", ".join(f"`{k}` sha256 {v}" for k, v in (ev.get("weights_sha256") or {}).items()) or "none"
            settings = ", ".join(f"{k}={v}" for k, v in (ev.get("settings") or {}).items())
            parts.append(f"- **{ev.get('name')}**: {ev.get('backend')}; weights: {weights}"
                         + (f"; settings: {settings}" if settings else ""))
    warnings = runs.warnings()
    if warnings:
        parts += ["", "## Warnings", ""] + [f"- {w}" for w in warnings]
    parts += ["", "## Report choices", "",
              f"- comparison: `--compare {options.compare}`. {data.comparison.sentence()}",
              f"- CSIM: `--csim {options.csim}`. " + (data.csim.sentence() if data.csim else "no CSIM in these runs."),
              "- fidelity convention: piq PSNR/SSIM on RGB in [0, 1] (data_range 1), per image, at the protocol "
              "resolution; LPIPS v0.1 (lpips package); CIs: percentile bootstrap resampling images"
              f" ({options.n_boot} resamples)."]
    if runs.mixed_backends:
        parts.append("- MIXED evaluator backends (--allow-mixed): numbers across runs are not directly comparable.")
    if data.baselines:
        parts += ["", "## Published baselines (rows marked \"published\")", ""]
        for b in data.baselines:
            parts += [f"- `{b.name}`" + (f" (protocol {b.protocol})" if b.protocol else "") + ": "
                      + "; ".join(b.sources())]
    path = out / "provenance.md"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path

"""Result tables in the paper's shapes (rendered by :class:`emobench.report.table.Table`).

* ``per_target`` (paper Table 1): one row per method (and setting), for each target emotion
  Acc/PSNR/SSIM/LPIPS/CSIM; ``per_target_paired``: the same against the real target image
  where the protocol has one (synthetic, london-pairs);
* ``mean``: every metric averaged over the compared edits, N, the missing-face count and rate,
  the paired metrics, and bootstrap 95% CIs over images;
* ``ablation`` (paper Tables 3–4): one row per sweep setting, the mean target-class probability
  per target and the headline metrics.

Sanity rows (identity, ground truth) and published rows are shown and never bolded; published
rows have no CI and take no part in the comparison of requests.

Example:
    >>> t = Table("demo", "A caption.", ["Method", "Acc"], [["ldm", 0.87], ["ganmut", 0.9]], {"Acc": True})
    >>> "\\\\textbf{0.900}" in t.latex()
    True
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from emobench.labels import EMOTIONS, TARGET_EMOTIONS
from emobench.report.baselines import MEAN
from emobench.report.prepare import Prepared
from emobench.report.runs import HEADLINE, PAIRED
from emobench.report.stats import bootstrap_ci
from emobench.report.table import Table

__all__ = ["Table", "per_target_table", "mean_table", "ablation_table"]

NO_FACE = ("No face", "No face %")
_NAMES = {"Acc": "target accuracy", "PSNR": "PSNR (dB)"}


def _present(data: Prepared, metrics: Sequence[tuple[str, str, bool]]) -> list[tuple[str, str, bool]]:
    """Metrics with a value in the records, or in a published baseline shown in this section."""
    published = {v.metric for b in data.baselines for v in b.values}
    return [(c, h, hib) for c, h, hib in metrics
            if (c in data.records and data.records[c].notna().any()) or c.removeprefix("metric.") in published]


# Columns that are not metrics to average on their own (per-class probabilities, detection flags).
_NOT_HEADLINE = ("metric.emotion.", "metric.target_prob", "metric.face_detected", "metric.source_face_detected",
                 "metric.face_missing")


def other_metrics(data: Prepared) -> list[tuple[str, str, bool]]:
    """Metric columns of the records that are neither headline nor paired (a plugin evaluator's), with the
    manifests' directions: tables show them where the headline metrics are absent."""
    known = {c for c, _, _ in HEADLINE + PAIRED}
    directions = data.runs.directions()
    cols = [c for c in data.records.columns if c.startswith("metric.") and c not in known
            and not c.startswith(_NOT_HEADLINE) and data.records[c].notna().any()]
    return [(c, c[len("metric."):], directions.get(c, True)) for c in cols]


def _targets(data: Prepared, targets: Sequence[str]) -> list[str]:
    have = set(data.records["target"]) if "target" in data.records else set()
    have |= {v.target for b in data.baselines for v in b.values}
    return [t for t in targets if t in have]


def _published(data: Prepared, key: str):
    """The baseline of a published row key ``published:<baseline>:<method>``."""
    _, name, method = key.split(":", 2)
    return next(b for b in data.baselines if b.name == name), method


def _caption(data: Prepared, what: str, extra: Sequence[str] = ()) -> str:
    """Short caption: what the table is, what N is and which runs are incomplete, the CSIM rule, published rows."""
    parts = [what, data.comparison.sentence()]
    parts += [e for e in extra if e]
    if any(r.kind == "published" for r in data.rows):
        names = ", ".join(b.name for b in data.baselines)
        parts.append(f"Rows marked (published) are the papers' numbers ({names}), not recomputed; "
                     "no CI, no bold, not in the comparison.")
    parts.append("Bold: best edit method per column (sanity and published rows excluded).")
    parts.append(data.runs.backends_note())
    warnings = data.runs.warnings()
    if warnings:  # what a run's manifest warns about (leakage, face crops, short classes) belongs beside the numbers
        parts.append("Warnings: " + " ".join(w if w.endswith(".") else w + "." for w in warnings))
    parts.append("Provenance: provenance.md.")
    return " ".join(parts)


def _csim_sentence(data: Prepared, metrics: Sequence[tuple[str, str, bool]]) -> str:
    if data.csim is None or not any(c == "metric.csim" for c, _, _ in metrics):
        return ""
    ev = data.runs.evaluator("identity") or {}
    return data.csim.sentence(str(ev.get("backend", "")))


def per_target_table(data: Prepared, targets: Sequence[str] = TARGET_EMOTIONS, paired: bool = False) -> Table | None:
    """Paper Table 1: methods × (target × Acc/PSNR/SSIM/LPIPS/CSIM), or × the paired metrics."""
    metrics = _present(data, PAIRED if paired else HEADLINE)
    if not metrics and not paired:
        metrics = other_metrics(data)
    if not metrics:
        return None
    targets = _targets(data, targets)
    df = data.records
    header = ["Method", "N"] + [f"{h} @ {t}" for t in targets for _, h, _ in metrics]
    rows, kinds = [], []
    for row in data.rows:
        if row.kind == "published":
            baseline, method = _published(data, row.key)
            cells = [baseline.value(method, t, c) for t in targets for c, _, _ in metrics]
            if all(math.isnan(v) for v in cells):
                continue
            rows.append([row.label, "–", *cells])
        else:
            group = df[df["row"] == row.key]
            cells = []
            for t in targets:
                sub = group[group["target"] == t]
                cells += [float(sub[c].mean()) if c in sub and sub[c].notna().any() else math.nan
                          for c, _, _ in metrics]
            rows.append([row.label, int(len(group)), *cells])
        kinds.append(row.kind)
    if paired:
        what = (f"Per target on {data.protocol}: each edit against the real target image of the same person "
                "(pPSNR in dB, pSSIM, pLPIPS, pCSIM); N: edits per row over all targets.")
    else:
        named = ", ".join(_NAMES.get(h, h) for _, h, _ in metrics)
        what = (f"Per target on {data.protocol} (paper Table 1 layout): {named}"
                + (" (against the source)" if len(metrics) > 1 else "") + "; N: edits per row over all targets.")
    name = "per_target_paired" if paired else "per_target"
    return Table(name, _caption(data, what, [_csim_sentence(data, metrics)]), header, rows,
                 {h: hib for _, h, hib in metrics}, groups=[(t, len(metrics)) for t in targets], kinds=kinds,
                 label=f"tab:{data.protocol}:{name}", lead=2)


def mean_table(data: Prepared, n_boot: int = 1000, seed: int = 0) -> Table:
    """Every metric averaged over the compared edits per row, bootstrap 95% CIs over images, missing faces."""
    headline = _present(data, HEADLINE) or other_metrics(data)
    paired = _present(data, PAIRED)
    df = data.records
    faces = data.csim is not None and data.csim.detection and any(c == "metric.csim" for c, _, _ in headline)
    header = ["Method", "N"] + [h for _, h, _ in headline] + (list(NO_FACE) if faces else []) + \
        [f"{h[1:]} @ vs real target" for _, h, _ in paired]
    groups = [("vs source", len(headline))] + ([("missing face", 2)] if faces else []) + \
        ([("vs real target", len(paired))] if paired else [])
    rows, kinds, ci = [], [], {}
    for row in data.rows:
        i = len(rows)
        if row.kind == "published":
            baseline, method = _published(data, row.key)
            head_values = [baseline.value(method, MEAN, c) for c, _, _ in headline]
            paired_values = [baseline.value(method, MEAN, c) for c, _, _ in paired]
            if all(math.isnan(v) for v in head_values + paired_values):
                continue  # nothing of this baseline method in these columns
            rows.append([row.label, "–", *head_values, *(["–", math.nan] if faces else []), *paired_values])
            kinds.append(row.kind)
            continue
        group = df[df["row"] == row.key]
        cells = [row.label, int(len(group))]
        for c, h, _ in headline:
            cells.append(float(group[c].mean()) if c in group and group[c].notna().any() else math.nan)
            if c in group:
                ci[(i, h)] = bootstrap_ci(group, c, n_boot=n_boot, seed=seed)
        if faces:
            flags = group["metric.face_missing"].dropna() if "metric.face_missing" in group else group.iloc[0:0]
            cells += [int(flags.sum()), 100.0 * float(flags.mean()) if len(flags) else math.nan]
        for c, h, _ in paired:
            col = f"{h[1:]} @ vs real target"
            cells.append(float(group[c].mean()) if c in group and group[c].notna().any() else math.nan)
            if c in group:
                ci[(i, col)] = bootstrap_ci(group, c, n_boot=n_boot, seed=seed)
        rows.append(cells)
        kinds.append(row.kind)
    named = ", ".join(_NAMES.get(h, h) for _, h, _ in headline)
    what = (f"Means over the compared edits on {data.protocol}: {named}"
            + (" (fidelity and identity against the source)" if len(headline) > 1 else "")
            + (", the pairs with a missing face (count, %)" if faces else "")
            + (", and the same against the real target image" if paired else "") + ".")
    direction = {h: hib for _, h, hib in headline}
    direction.update({h[1:]: hib for _, h, hib in paired})
    return Table("mean", _caption(data, what, [_csim_sentence(data, headline)]), header, rows, direction, ci,
                 groups=groups, kinds=kinds, label=f"tab:{data.protocol}:mean", lead=2,
                 ci_note=f"[brackets]: bootstrap 95% CI ({n_boot} resamples of images).")


def ablation_table(data: Prepared) -> Table | None:
    """Paper Tables 3–4: one row per sweep setting with per-class target probabilities (None without a sweep)."""
    if not any(r.setting for r in data.rows):
        return None
    df = data.records
    metrics = [m for m in _present(data, HEADLINE) if m[0] in df]
    classes = [c for c in EMOTIONS if c in set(df["target"])]
    header = ["Method", "N"] + [f"{c} @ P(target)" for c in classes] + [h for _, h, _ in metrics]
    rows, kinds = [], []
    for row in data.run_rows():
        group = df[df["row"] == row.key]
        cells: list[Any] = [row.label, int(len(group))]
        for c in classes:
            sub = group[group["target"] == c]
            has = "metric.target_prob" in sub and sub["metric.target_prob"].notna().any()
            cells.append(float(sub["metric.target_prob"].mean()) if has else math.nan)
        cells += [float(group[c].mean()) if group[c].notna().any() else math.nan for c, _, _ in metrics]
        rows.append(cells)
        kinds.append(row.kind)
    direction = {**{c: True for c in classes}, **{h: hib for _, h, hib in metrics}}
    what = (f"Sweep of edit settings on {data.protocol} (paper Tables 3-4): mean probability of the target class "
            "per target, and the headline metrics over all targets (PSNR in dB).")
    groups = [("P(target class)", len(classes))] + ([("all targets", len(metrics))] if metrics else [])
    return Table("ablation", _caption(data, what, [_csim_sentence(data, metrics)]), header, rows, direction,
                 groups=groups, kinds=kinds, label=f"tab:{data.protocol}:ablation", lead=2)

"""Result tables in the paper's shapes, written as LaTeX (booktabs), CSV and Markdown.

* per-target (paper Table 1): one row per method (and setting), for each target emotion
  the columns Acc/PSNR/SSIM/LPIPS/CSIM;
* mean: one row per method (and setting), every metric averaged over all edits, with a
  bootstrap 95% CI (resampling images) in the CSV/Markdown;
* ablation (paper Tables 3–4): one row per sweep setting, per-class target probabilities
  and the headline metrics.

Example:
    >>> t = Table("demo", "A caption.", ["Method", "Acc"], [["ldm", 0.87], ["ganmut", 0.9]],
    ...           {"Acc": True})
    >>> "\\\\textbf{0.900}" in t.latex()
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from emobench.labels import EMOTIONS, TARGET_EMOTIONS
from emobench.report.runs import HEADLINE, RunSet, setting_label
from emobench.report.stats import bootstrap_ci


@dataclass
class Table:
    """A table with per-column directions (True = higher is better) used for arrows and bold."""

    name: str
    caption: str
    header: list[str]
    rows: list[list[Any]]
    direction: dict[str, bool] = field(default_factory=dict)
    ci: dict[tuple[int, str], tuple[float, float]] = field(default_factory=dict)  # (row, column) -> CI
    groups: list[tuple[str, int]] = field(default_factory=list)  # optional top header: (label, span)

    def _fmt(self, value: Any, column: str) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return "–"
            return f"{value:.2f}" if column.upper().startswith("PSNR") else f"{value:.3f}"
        return str(value)

    def _best(self) -> dict[int, set[int]]:
        """Column index → row indices holding the best value (ties all bold)."""
        best: dict[int, set[int]] = {}
        for j, col in enumerate(self.header):
            hib = self.direction.get(col.split(" ")[0])
            if hib is None:
                continue
            vals = [(i, r[j]) for i, r in enumerate(self.rows) if isinstance(r[j], float) and not math.isnan(r[j])]
            if len(vals) < 2:
                continue
            target = max(v for _, v in vals) if hib else min(v for _, v in vals)
            best[j] = {i for i, v in vals if round(v, 3) == round(target, 3)}
        return best

    def _head(self, col: str, arrows: tuple[str, str]) -> str:
        hib = self.direction.get(col.split(" ")[0])
        return col if hib is None else f"{col} {arrows[0] if hib else arrows[1]}"

    def latex(self, with_ci: bool = False) -> str:
        best = self._best()
        esc = lambda s: str(s).replace("_", "\\_").replace("%", "\\%").replace("&", "\\&")  # noqa: E731
        lines = ["\\begin{table}[t]", "\\centering", "\\small", f"\\begin{{tabular}}{{l{'c' * (len(self.header) - 1)}}}",
                 "\\toprule"]
        if self.groups:
            cells, rules, col = [""], [], 2
            for label, span in self.groups:
                cells.append(f"\\multicolumn{{{span}}}{{c}}{{{esc(label)}}}")
                rules.append(f"\\cmidrule(lr){{{col}-{col + span - 1}}}")
                col += span
            lines += [" & ".join(cells) + " \\\\", " ".join(rules)]
        lines.append(" & ".join(esc(self._head(c.split(" @ ")[0], ("$\\uparrow$", "$\\downarrow$"))) for c in self.header)
                     + " \\\\")
        lines.append("\\midrule")
        for i, row in enumerate(self.rows):
            cells = []
            for j, value in enumerate(row):
                text = esc(self._fmt(value, self.header[j]))
                if with_ci and (i, self.header[j]) in self.ci:
                    lo, hi = self.ci[(i, self.header[j])]
                    text += f" {{\\scriptsize [{self._fmt(lo, self.header[j])}, {self._fmt(hi, self.header[j])}]}}"
                cells.append(f"\\textbf{{{text}}}" if i in best.get(j, set()) else text)
            lines.append(" & ".join(cells) + " \\\\")
        lines += ["\\bottomrule", "\\end{tabular}", f"\\caption{{{esc(self.caption)}}}", f"\\label{{tab:{self.name}}}",
                  "\\end{table}"]
        return "\n".join(lines) + "\n"

    def frame(self, with_ci: bool = True) -> pd.DataFrame:
        cols = {}
        for j, col in enumerate(self.header):
            cols[col] = [r[j] for r in self.rows]
            if with_ci and any((i, col) in self.ci for i in range(len(self.rows))):
                cols[f"{col} CI95 low"] = [self.ci.get((i, col), (math.nan, math.nan))[0] for i in range(len(self.rows))]
                cols[f"{col} CI95 high"] = [self.ci.get((i, col), (math.nan, math.nan))[1] for i in range(len(self.rows))]
        return pd.DataFrame(cols)

    def markdown(self) -> str:
        best = self._best()
        head = [self._head(c, ("↑", "↓")) for c in self.header]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for i, row in enumerate(self.rows):
            cells = []
            for j, v in enumerate(row):
                text = self._fmt(v, self.header[j])
                if (i, self.header[j]) in self.ci:
                    lo, hi = self.ci[(i, self.header[j])]
                    text += f" [{self._fmt(lo, self.header[j])}, {self._fmt(hi, self.header[j])}]"
                cells.append(f"**{text}**" if i in best.get(j, set()) else text)
            lines.append("| " + " | ".join(cells) + " |")
        return f"**{self.caption}**\n\n" + "\n".join(lines) + "\n"

    def write(self, out: Path, latex_ci: bool = False) -> list[Path]:
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / f"{self.name}.tex", out / f"{self.name}.csv", out / f"{self.name}.md"]
        paths[0].write_text(self.latex(latex_ci), encoding="utf-8")
        self.frame().to_csv(paths[1], index=False)
        paths[2].write_text(self.markdown(), encoding="utf-8")
        return paths


def _row_keys(runs: RunSet) -> pd.DataFrame:
    df = runs.records.copy()
    label = setting_label(df)
    df["row"] = df["method"].astype(str) + label.map(lambda s: f" [{s}]" if s else "")
    return df


def _present(df: pd.DataFrame) -> list[tuple[str, str, bool]]:
    return [(c, h, hib) for c, h, hib in HEADLINE if c in df and df[c].notna().any()]


def per_target_table(runs: RunSet, targets: Sequence[str] = TARGET_EMOTIONS) -> Table:
    """Paper Table 1: methods × (target × Acc/PSNR/SSIM/LPIPS/CSIM)."""
    df = _row_keys(runs)
    metrics = _present(df)
    targets = [t for t in targets if (df["target"] == t).any()]
    header = ["Method"] + [f"{h} @ {t}" for t in targets for _, h, _ in metrics]
    rows = []
    for key, group in df.groupby("row", sort=False):
        row: list[Any] = [key]
        for t in targets:
            sub = group[group["target"] == t]
            row += [float(sub[c].mean()) if len(sub) and sub[c].notna().any() else math.nan for c, _, _ in metrics]
        rows.append(row)
    direction = {h: hib for _, h, hib in metrics}
    caption = f"Per-target results (paper Table 1 layout). {runs.caption_note()}"
    # LaTeX shows the target in a grouped header row; CSV/Markdown keep "Acc @ happy" names.
    return Table("per_target", caption, header, rows, direction, groups=[(t, len(metrics)) for t in targets])


def mean_table(runs: RunSet, n_boot: int = 1000, seed: int = 0) -> Table:
    """Every headline metric averaged over all edits per method/setting, with bootstrap 95% CIs."""
    df = _row_keys(runs)
    metrics = _present(df)
    rows, ci = [], {}
    for i, (key, group) in enumerate(df.groupby("row", sort=False)):
        row: list[Any] = [key, int(len(group))]
        for c, h, _ in metrics:
            row.append(float(group[c].mean()))
            ci[(i, h)] = bootstrap_ci(group, c, n_boot=n_boot, seed=seed)
        rows.append(row)
    caption = f"Mean over all edits, bootstrap 95% CI over images. {runs.caption_note()}"
    return Table("mean", caption, ["Method", "N"] + [h for _, h, _ in metrics], rows,
                 {h: hib for _, h, hib in metrics}, ci)


def ablation_table(runs: RunSet) -> Table | None:
    """Paper Tables 3–4: one row per sweep setting with per-class target probabilities (None without a sweep)."""
    df = runs.records.copy()
    label = setting_label(df)
    if (label == "").all():
        return None
    df["row"] = df["method"].astype(str) + " " + label
    metrics = _present(df)
    classes = [c for c in EMOTIONS if c in set(df["target"])]
    header = ["Setting"] + [f"P({c})" for c in classes] + [h for _, h, _ in metrics]
    rows = []
    for key, group in df.groupby("row", sort=False):
        row: list[Any] = [key]
        for c in classes:
            sub = group[group["target"] == c]
            row.append(float(sub["metric.target_prob"].mean()) if "metric.target_prob" in sub and len(sub) else math.nan)
        row += [float(group[c].mean()) for c, _, _ in metrics]
        rows.append(row)
    direction = {**{f"P({c})": True for c in classes}, **{h: hib for _, h, hib in metrics}}
    caption = f"Sweep of edit settings: mean target-class probability per target and headline metrics. {runs.caption_note()}"
    return Table("ablation", caption, header, rows, direction)

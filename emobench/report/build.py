"""``build_report``: every table, plot and grid of a set of runs, plus an ``index.html`` that shows them.

Example:
    >>> build_report([Path("runs/synthetic")], Path("runs/synthetic/report"))  # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from emobench.report.grids import image_grid, source_images
from emobench.report.plots import per_class_bars, tradeoff_plots
from emobench.report.runs import load_runs
from emobench.report.tables import Table, ablation_table, mean_table, per_target_table


@dataclass
class Report:
    out: Path
    tables: list[Table] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def build_report(paths: Sequence[Path], out: Path, *, allow_mixed: bool = False, latex_ci: bool = False,
                 n_boot: int = 1000, grid_rows: int = 6) -> Report:
    """Read runs (records only, never models) and write tables, plots, grids and ``index.html`` into ``out``."""
    runs = load_runs(paths, allow_mixed=allow_mixed)
    report = Report(out)
    tables = [per_target_table(runs), mean_table(runs, n_boot=n_boot)]
    ablation = ablation_table(runs)
    if ablation is not None:
        tables.append(ablation)
    for table in tables:
        report.files += table.write(out / "tables", latex_ci)
    report.tables = tables
    report.figures += [p for p in tradeoff_plots(runs.records, out / "figures") if p.suffix == ".png"]
    report.figures += [p for p in per_class_bars(runs.records, out / "figures") if p.suffix == ".png"]
    sources = source_images(runs.records)
    for method in dict.fromkeys(runs.records["method"]):
        grid = image_grid(runs.records, out / "grids", str(method), max_rows=grid_rows, sources=sources or None)
        if grid is not None:
            report.figures.append(grid)
    (out / "runs.json").write_text(json.dumps([str(d) for d in runs.run_dirs], indent=2) + "\n")
    write_index(report, runs.caption_note())
    return report


def write_index(report: Report, note: str) -> Path:
    """A self-contained page (relative links) with every table and figure."""
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>emobench report</title>",
             "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;"
             "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
             "td:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}</style></head><body>",
             "<h1>emobench report</h1>", f"<p class='note'>{html.escape(note)}</p>", "<h2>Tables</h2>"]
    for table in report.tables:
        frame = table.frame(with_ci=True)
        parts.append(f"<h3 id='{table.name}'>{html.escape(table.name)}</h3><p>{html.escape(table.caption)}</p>")
        parts.append(frame.to_html(index=False, float_format=lambda v: f"{v:.3f}", classes=f"table {table.name}",
                                   na_rep="–"))
        parts.append(f"<p>LaTeX: <a href='tables/{table.name}.tex'>{table.name}.tex</a> · "
                     f"CSV: <a href='tables/{table.name}.csv'>{table.name}.csv</a> · "
                     f"Markdown: <a href='tables/{table.name}.md'>{table.name}.md</a></p>")
    parts.append("<h2>Figures</h2>")
    for fig in report.figures:
        rel = fig.relative_to(report.out).as_posix()
        parts.append(f"<figure><img src='{html.escape(rel)}' alt='{html.escape(fig.stem)}'>"
                     f"<figcaption>{html.escape(fig.stem)}</figcaption></figure>")
    parts.append("</body></html>")
    path = report.out / "index.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    report.files.append(path)
    return path

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
from emobench.report.runs import find_run_dirs, load_runs
from emobench.store import read_manifest
from emobench.report.tables import Table, ablation_table, mean_table, per_target_table


@dataclass
class Report:
    out: Path
    tables: list[Table] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # protocol names when the report has several


def build_report(paths: Sequence[Path], out: Path, *, allow_mixed: bool = False, latex_ci: bool = False,
                 n_boot: int = 1000, grid_rows: int = 6) -> Report:
    """Read runs (records only, never models) and write tables, plots, grids and ``index.html`` into ``out``.

    Runs of several protocols get one section each (``out/<protocol>/``, its own tables, figures and
    backend check: numbers are only compared within a protocol) and ``out/index.html`` links them.
    """
    dirs = find_run_dirs(paths)
    by_protocol: dict[str, list[Path]] = {}
    for d in dirs:
        name = (read_manifest(d) or {}).get("config", {}).get("protocol", {}).get("name", d.parent.parent.name)
        by_protocol.setdefault(str(name), []).append(d)
    if len(by_protocol) <= 1:
        return _build_one(dirs, out, allow_mixed, latex_ci, n_boot, grid_rows)
    sections = {name: _build_one(ds, out / name, allow_mixed, latex_ci, n_boot, grid_rows)
                for name, ds in by_protocol.items()}
    report = Report(out, sections=list(sections))
    for section in sections.values():
        report.tables += section.tables
        report.figures += section.figures
        report.files += section.files
    report.files.append(write_overview(out, sections))
    return report


def _build_one(dirs: Sequence[Path], out: Path, allow_mixed: bool, latex_ci: bool, n_boot: int,
               grid_rows: int) -> Report:
    runs = load_runs(dirs, allow_mixed=allow_mixed)
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


def write_overview(out: Path, sections: dict[str, Report]) -> Path:
    """``out/index.html`` for a multi-protocol report: each protocol's mean table, figures and a link."""
    parts = [PAGE_HEAD, "<p>One section per protocol; numbers are compared within a protocol only.</p>"]
    for name, section in sections.items():
        parts.append(f"<h2 id='{html.escape(name)}'>{html.escape(name)} — "
                     f"<a href='{html.escape(name)}/index.html'>full section</a></h2>")
        mean = next((t for t in section.tables if t.name == "mean"), None)
        if mean is not None:
            parts.append(f"<p>{html.escape(mean.caption)}</p>")
            parts.append(_table_html(mean))
        parts += [_figure_html(fig, out, f"{name}: {fig.stem}") for fig in section.figures]
    return _write_page(out, parts)


PAGE_HEAD = ("<!doctype html><html><head><meta charset='utf-8'><title>emobench report</title>"
             "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;"
             "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
             "td:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}</style></head><body>\n"
             "<h1>emobench report</h1>")


def _table_html(table: Table) -> str:
    return table.frame(with_ci=True).to_html(index=False, float_format=lambda v: f"{v:.3f}",
                                             classes=f"table {table.name}", na_rep="–")


def _figure_html(fig: Path, root: Path, caption: str) -> str:
    rel = fig.relative_to(root).as_posix()
    return (f"<figure><img src='{html.escape(rel)}' alt='{html.escape(fig.stem)}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _write_page(root: Path, parts: list[str]) -> Path:
    path = root / "index.html"
    path.write_text("\n".join(parts + ["</body></html>"]), encoding="utf-8")
    return path


def write_index(report: Report, note: str) -> Path:
    """A self-contained page (relative links) with every table and figure."""
    parts = [PAGE_HEAD, f"<p class='note'>{html.escape(note)}</p>", "<h2>Tables</h2>"]
    for table in report.tables:
        parts.append(f"<h3 id='{table.name}'>{html.escape(table.name)}</h3><p>{html.escape(table.caption)}</p>")
        parts.append(_table_html(table))
        parts.append(f"<p>LaTeX: <a href='tables/{table.name}.tex'>{table.name}.tex</a> · "
                     f"CSV: <a href='tables/{table.name}.csv'>{table.name}.csv</a> · "
                     f"Markdown: <a href='tables/{table.name}.md'>{table.name}.md</a></p>")
    parts.append("<h2>Figures</h2>")
    parts += [_figure_html(fig, report.out, fig.stem) for fig in report.figures]
    path = _write_page(report.out, parts)
    report.files.append(path)
    return path

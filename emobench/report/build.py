"""``build_report``: every table, plot and grid of a set of runs, plus an ``index.html`` that shows them.

Example:
    >>> build_report([Path("runs/synthetic")], Path("runs/synthetic/report"))  # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from emobench.report.completeness import banner
from emobench.report.definition import ReportDefinition, load_definition
from emobench.report.figure import Figure
from emobench.report.grids import image_grid, source_images
from emobench.report.page import banner_html, figure_html, runs_html, section_page, table_html, write_page
from emobench.report.plots import per_class_bars, tradeoff_plots
from emobench.report.prepare import Prepared, ReportOptions, prepare
from emobench.report.provenance import write_provenance
from emobench.report.runs import find_run_dirs, load_runs
from emobench.report.table import Table
from emobench.report.tables import ablation_table, mean_table, per_target_table
from emobench.store import read_manifest


@dataclass
class Report:
    out: Path
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # protocol names when the report has several
    banners: dict[str, str] = field(default_factory=dict)  # protocol -> banner text (incomplete sections only)
    notes: list[str] = field(default_factory=list)  # e.g. a baseline not shown because of its protocol


def build_report(paths: Sequence[Path], out: Path, options: ReportOptions | None = None,
                 definition: ReportDefinition | None = None) -> Report:
    """Read runs (records only, never models) and write tables, plots, grids and ``index.html`` into ``out``.

    Runs of several protocols get one section each (``out/<protocol>/``, its own tables, figures and
    backend check: numbers are only compared within a protocol) and ``out/index.html`` links them.
    """
    options = options or ReportOptions()
    definition = definition or load_definition("default")
    dirs = find_run_dirs(paths)
    by_protocol: dict[str, list[Path]] = {}
    for d in dirs:
        name = (read_manifest(d) or {}).get("config", {}).get("protocol", {}).get("name", d.parent.parent.name)
        by_protocol.setdefault(str(name), []).append(d)
    if len(by_protocol) <= 1:
        report = _build_one(dirs, out, options, definition)
    else:
        sections = {name: _build_one(ds, out / name, options, definition) for name, ds in by_protocol.items()}
        report = Report(out, sections=list(sections))
        for section in sections.values():
            report.tables += section.tables
            report.figures += section.figures
            report.files += section.files
            report.banners.update(section.banners)
        report.files.append(write_overview(out, sections))
    for b in options.baselines:
        if b.protocol is not None and b.protocol not in (report.sections or list(by_protocol)):
            report.notes.append(f"baseline {b.name} is for protocol {b.protocol}; no section of this report has it, "
                                "so it is not shown")
    return report


def _grids(data: Prepared, out: Path, options: ReportOptions) -> list[Figure]:
    sources = source_images(data.records)
    grids = [image_grid(data, out / "grids", method, max_rows=options.grid_rows, sources=sources or None)
             for method in dict.fromkeys(r.method for r in data.run_rows())]
    return [g for g in grids if g is not None]


# What a report definition's names stand for (emobench.report.definition.TABLES / FIGURES).
TABLE_BUILDERS: dict[str, Callable[[Prepared, ReportOptions], Table | None]] = {
    "per_target": lambda data, o: per_target_table(data),
    "per_target_paired": lambda data, o: per_target_table(data, paired=True),
    "mean": lambda data, o: mean_table(data, n_boot=o.n_boot),
    "ablation": lambda data, o: ablation_table(data),
}
FIGURE_BUILDERS: dict[str, Callable[[Prepared, Path, ReportOptions], list[Figure]]] = {
    "tradeoff": lambda data, out, o: tradeoff_plots(data, out / "figures", o.n_boot),
    "tradeoff_paired": lambda data, out, o: tradeoff_plots(data, out / "figures", o.n_boot, paired=True),
    "per_class": lambda data, out, o: per_class_bars(data, out / "figures"),
    "grids": _grids,
}


def _build_one(dirs: Sequence[Path], out: Path, options: ReportOptions, definition: ReportDefinition) -> Report:
    runs = load_runs(dirs, allow_mixed=options.allow_mixed)
    data = prepare(runs, options, options.baselines)
    report = Report(out)
    tables = [TABLE_BUILDERS[name](data, options) for name in definition.tables]
    report.tables = [t for t in tables if t is not None]
    for table in report.tables:
        report.files += table.write(out / "tables", options.latex_ci)
    report.figures = [f for name in definition.figures for f in FIGURE_BUILDERS[name](data, out, options)]
    report.files.append(write_provenance(data, options, out))
    (out / "runs.json").write_text(json.dumps([str(d) for d in runs.run_dirs], indent=2) + "\n")
    text = banner(runs.runs, data.comparison)
    if text:
        report.banners[data.protocol] = text
    report.files.append(section_page(out, data.protocol, text, runs.runs, report.tables, report.figures))
    return report


def write_overview(out: Path, sections: dict[str, Report]) -> Path:
    """``out/index.html`` for a multi-protocol report: each protocol's banner, mean table, figures and a link."""
    parts = ["<p>One section per protocol; numbers are compared within a protocol only.</p>"]
    incomplete = {name: s.banners[name] for name, s in sections.items() if name in s.banners}
    if incomplete:
        parts.append(banner_html("Incomplete: " + " ".join(f"[{name}] {text}" for name, text in incomplete.items())))
    number = 0
    for name, section in sections.items():
        parts.append(f"<h2 id='{html.escape(name)}'>{html.escape(name)} — "
                     f"<a href='{html.escape(name)}/index.html'>full section</a></h2>")
        mean = next((t for t in section.tables if t.name == "mean"), None)
        if mean is not None:
            parts.append(table_html(mean).replace("href='tables/", f"href='{html.escape(name)}/tables/"))
        for fig in section.figures:
            number += 1
            parts.append(figure_html(fig, out, number))
    return write_page(out, parts)


__all__ = ["Report", "ReportOptions", "build_report", "runs_html"]

"""``index.html``: one self-contained page (relative links) per report section, and an overview.

The page opens with a banner when anything is incomplete (a run partial, running, failed or with
error rows; rows over different requests), then the runs and their status, every table with its
caption and every figure with its caption.

Example:
    >>> "class='banner'" in banner_html("Incomplete runs: ldm (partial).")
    True
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Sequence

from emobench.report.figure import Figure
from emobench.report.runs import RunInfo
from emobench.report.table import Table

PAGE_HEAD = ("<!doctype html><html><head><meta charset='utf-8'><title>emobench report</title>"
             "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;"
             "font-size:13px;margin-bottom:6px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}tr.sanity td{color:#555}tr.published td{font-style:italic}"
             "small{color:#666}img{max-width:100%;border:1px solid #eee}figure{margin:18px 0}"
             "figcaption{font-size:13px;color:#333;max-width:900px}"
             ".banner{background:#fff3cd;border:2px solid #e0a800;padding:8px 12px;margin:12px 0;font-weight:bold}"
             ".caption{font-size:13px;color:#333;max-width:1000px}</style></head><body>\n<h1>emobench report</h1>")


def banner_html(text: str | None) -> str:
    return f"<div class='banner' id='incomplete'>{html.escape(text)}</div>" if text else ""


def runs_html(infos: Sequence[RunInfo]) -> str:
    rows = "".join(f"<tr class='{'complete' if i.complete else 'incomplete'}'><td>{html.escape(i.method)}</td>"
                   f"<td>{html.escape(i.title)}</td><td>{html.escape(i.summary())}</td></tr>" for i in infos)
    return ("<table class='runs'><thead><tr><th>method</th><th>title</th><th>status</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def table_html(table: Table) -> str:
    return (f"<h3 id='{html.escape(table.name)}'>{html.escape(table.name)}</h3>"
            f"<p class='caption'>{html.escape(table.caption_with(True))}</p>{table.html()}"
            f"<p>LaTeX: <a href='tables/{table.name}.tex'>{table.name}.tex</a> · "
            f"CSV: <a href='tables/{table.name}.csv'>{table.name}.csv</a> · "
            f"Markdown: <a href='tables/{table.name}.md'>{table.name}.md</a></p>")


def figure_html(fig: Figure, root: Path, number: int) -> str:
    rel = fig.png.relative_to(root).as_posix()
    return (f"<figure id='{html.escape(fig.name)}'><img src='{html.escape(rel)}' alt='{html.escape(fig.caption)}'>"
            f"<figcaption><b>Figure {number}.</b> {html.escape(fig.caption)}</figcaption></figure>")


def write_page(root: Path, parts: Sequence[str]) -> Path:
    path = root / "index.html"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([PAGE_HEAD, *parts, "</body></html>"]), encoding="utf-8")
    return path


def section_page(root: Path, protocol: str, banner: str | None, infos: Sequence[RunInfo], tables: Sequence[Table],
                 figures: Sequence[Figure]) -> Path:
    """The page of one section."""
    parts = [f"<h2>{html.escape(protocol)}</h2>", banner_html(banner), "<h3>Runs</h3>", runs_html(infos),
             "<p>Where every number came from: <a href='provenance.md'>provenance.md</a>.</p>", "<h2>Tables</h2>"]
    parts += [table_html(t) for t in tables]
    parts.append("<h2>Figures</h2>")
    parts += [figure_html(f, root, k + 1) for k, f in enumerate(figures)]
    return write_page(root, parts)

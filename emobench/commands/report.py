"""``emobench report RUN_DIR...``: paper-ready tables, trade-off plots, image grids and an index.html.

Reads records only (never runs a model). Several runs (and the shards of a run) are merged;
runs scored with different evaluator backends are refused unless ``--allow-mixed``.
"""

from __future__ import annotations

import argparse

from emobench.commands.text import plain_doc

EXAMPLES = """examples:
  emobench report runs/synthetic                       # every run below a protocol folder
  emobench report runs/synthetic/ldm/* runs/synthetic/identity/* --out paper/report
  emobench report runs/affectnet-val --latex-ci        # CIs inside the LaTeX cells too

Writes OUT/tables/{per_target,mean,ablation}.{tex,csv,md}, OUT/figures/*.{pdf,png},
OUT/grids/grid_<method>.png and OUT/index.html (default OUT: <first path>/report)."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("report", help="tables, plots, image grids and index.html from runs",
                              description=plain_doc(__doc__), epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", help="run directories or folders holding them")
    p.add_argument("--out", help="report directory (default: <first path>/report)")
    p.add_argument("--allow-mixed", action="store_true", help="allow runs scored by different evaluator backends")
    p.add_argument("--latex-ci", action="store_true", help="print bootstrap 95%% CIs in the LaTeX tables too")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the CIs (default 1000)")
    p.add_argument("--grid-rows", type=int, default=6, help="source images per method grid (default 6)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from emobench.report.build import build_report

    paths = [Path(p) for p in args.paths]
    out = Path(args.out) if args.out else paths[0] / "report"
    report = build_report(paths, out, allow_mixed=args.allow_mixed, latex_ci=args.latex_ci,
                          n_boot=args.bootstrap, grid_rows=args.grid_rows)
    if not getattr(args, "quiet", False):
        for table in report.tables:
            print(table.markdown())
    print(f"report: {out / 'index.html'} ({len(report.tables)} tables, {len(report.figures)} figures)")
    return 0

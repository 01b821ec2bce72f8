"""``emobench report RUN_DIR...``: paper-ready tables, trade-off curves, image grids and an index.html.

Reads records only (never runs a model). Several runs (and the shards of a run) are merged;
runs scored with different evaluator backends are refused unless ``--allow-mixed``. Runs that
are partial, running or failed are flagged in every table, in the captions and in a banner on
the page; methods are compared on the requests they all share unless ``--compare all``. CSIM
is averaged over pairs with a face found on both sides (the others are counted as "No face")
unless ``--csim all``. ``--baseline`` puts published numbers beside the runs, marked
"published" and kept out of every statistic.
"""

from __future__ import annotations

import argparse

from emobench.commands.text import plain_doc

EXAMPLES = """examples:
  emobench report runs/synthetic-sweep                 # every run below a protocol folder
  emobench report runs/synthetic runs/london-pairs --out runs/report   # one section per protocol
  emobench report runs/affectnet-val --baseline paper-table1           # the paper's Table 1 beside your runs
  emobench report runs/affectnet-val --baseline published.csv --latex-ci
  emobench report runs/synthetic --compare all --csim all             # full N; CSIM over every pair (old)

Writes, per section, OUT/tables/{per_target,per_target_paired,mean,ablation}.{tex,csv,md}
(.tex needs \\usepackage{booktabs,array}), OUT/figures/{tradeoff,tradeoff_paired,per_class_accuracy}.{pdf,png},
OUT/grids/grid_<method>.png, OUT/provenance.md and OUT/index.html (default OUT: <first path>/report).
A baseline FILE is CSV (method,target,metric,value,source,citation[,protocol]) or TOML (docs/reports.md)."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("report", help="tables, trade-off curves, image grids and index.html from runs",
                              description=plain_doc(__doc__), epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", help="run directories or folders holding them")
    p.add_argument("--out", help="report directory (default: <first path>/report)")
    p.add_argument("--definition", default="default", metavar="NAME|PATH",
                   help="which tables and figures (a report definition in reports/: default, paper; or a .toml)")
    p.add_argument("--compare", choices=("shared", "all"), default=None,
                   help="shared: methods compared on the requests every row has (default); all: every record (full N)")
    p.add_argument("--csim", choices=("aligned", "all"), default=None,
                   help="aligned: CSIM over pairs with a face found in source and edit, the others counted as "
                        "'No face' (default); all: every recorded CSIM value (the old behaviour)")
    p.add_argument("--baseline", action="append", default=[], metavar="FILE|paper-table1",
                   help="published values to show beside the runs (repeatable); paper-table1: the paper's Table 1 "
                        "(affectnet-val)")
    p.add_argument("--allow-mixed", action="store_true", help="allow runs scored by different evaluator backends")
    p.add_argument("--latex-ci", action="store_true", default=None,
                   help="print bootstrap 95%% CIs in the LaTeX tables too")
    p.add_argument("--bootstrap", type=int, default=None, help="bootstrap resamples for the CIs (default 1000)")
    p.add_argument("--grid-rows", type=int, default=None, help="people per method grid (default 6)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from emobench.errors import UserError
    from emobench.report.baselines import load_baseline
    from emobench.report.build import build_report
    from emobench.report.definition import load_definition
    from emobench.report.prepare import ReportOptions

    definition = load_definition(args.definition)
    # The command line wins over the definition's [options], which win over ReportOptions' defaults.
    given = {"compare": args.compare, "csim": args.csim, "latex_ci": args.latex_ci, "n_boot": args.bootstrap,
             "grid_rows": args.grid_rows}
    chosen = {**dict(definition.options), **{k: v for k, v in given.items() if v is not None}}
    baselines = tuple(load_baseline(spec) for spec in args.baseline)
    try:
        options = ReportOptions(allow_mixed=args.allow_mixed, baselines=baselines, **chosen)
    except (TypeError, ValueError) as exc:
        raise UserError(f"report options ({definition.path or definition.name} and the command line): {exc}") from None
    paths = [Path(p) for p in args.paths]
    out = Path(args.out) if args.out else paths[0] / "report"
    report = build_report(paths, out, options, definition)
    if not getattr(args, "quiet", False):
        for table in report.tables:
            print(table.markdown())
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for protocol, text in report.banners.items():
        print(f"warning: [{protocol}] {text}", file=sys.stderr)
    print(f"report: {out / 'index.html'} ({len(report.tables)} tables, {len(report.figures)} figures)")
    return 0

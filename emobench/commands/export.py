"""``emobench export RUN_DIR... --out FILE``: every edit of one or more runs as one tidy table."""

from __future__ import annotations

import argparse

EPILOG = """examples:
  emobench export runs/synthetic --out synthetic.csv                      # every run under runs/synthetic
  emobench export runs/affectnet-val/ldm/* --format parquet --out ldm.parquet
  python -c "import pandas as pd; print(pd.read_csv('synthetic.csv').groupby('method')['metric.psnr'].mean())"

One row per edit: protocol, method, run_hash, then the columns of records.jsonl (ids, labels,
param.*, metric.*, status, shard). Parquet needs pyarrow (pip install pyarrow)."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("export", help="write the edits of runs as one CSV or Parquet table",
                              description="Write every edit of the given runs (run directories, or folders "
                              "above them) as one tidy table readable by pandas and polars.",
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run directories or folders containing them")
    p.add_argument("--out", required=True, help="the file to write (.csv or .parquet)")
    p.add_argument("--format", choices=("csv", "parquet"), default=None,
                   help="table format (default: from --out's suffix, else csv)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from emobench.export import export

    fmt = args.format or ("parquet" if args.out.endswith(".parquet") else "csv")
    dest, rows = export([Path(r) for r in args.runs], Path(args.out), fmt)
    print(f"{dest}: {rows} rows")
    return 0

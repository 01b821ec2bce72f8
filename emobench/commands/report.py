"""``emobench report``: placeholder until the reports module lands; lists runs and their record counts.

The reports helper replaces this file with tables, plots and index.html.
"""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "report", help="summarise runs (for now: list runs and record counts)",
        description="List run directories with their method, protocol and record counts.",
        epilog="examples:\n  emobench report runs/\n  emobench report runs/synthetic/identity/*",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="*", default=["runs"], help="run directories or folders holding them")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from emobench.store import read_manifest, read_run

    found = 0
    for root in args.paths:
        for manifest in sorted(set(Path(root).rglob("manifest*.json"))):
            run_dir = manifest.parent
            if manifest.name != sorted(run_dir.glob("manifest*.json"))[0].name:
                continue
            info = read_manifest(run_dir) or {}
            records = read_run(run_dir)
            ok = sum(r.get("status") == "ok" for r in records)
            print(f"{run_dir}: method {info.get('method', {}).get('name')}, protocol "
                  f"{info.get('config', {}).get('protocol', {}).get('name')}, {ok} ok / {len(records)} records")
            found += 1
    if not found:
        print("no runs found")
    return 0

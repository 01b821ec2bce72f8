"""``emobench score RUN_DIR``: recompute metrics of saved edits without re-editing."""

from __future__ import annotations

import argparse

EPILOG = """examples:
  emobench score runs/synthetic/identity/0123456789ab
  emobench score runs/affectnet-val/ldm/* --device cuda --batch-size 64
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "score", help="recompute the metric columns of runs from their saved edits",
        description="Rebuild the protocol's evaluators from each run's manifest, score the saved PNG edits "
                    "again and rewrite the metric.* columns of records*.jsonl atomically. Rows whose edit is "
                    "missing, unreadable or changed (sha256) become status=error; a run still being written "
                    "to is refused.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (holding manifest.json)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default: auto)")
    p.add_argument("--batch-size", type=int, default=32, help="edits per evaluator call (default: 32)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from emobench.errors import UserError
    from emobench.rescore import rescore
    from emobench.building import resolve_device

    if args.batch_size < 1:
        raise UserError(f"--batch-size: expected a positive integer, got {args.batch_size}")
    if args.threads is not None:
        import torch

        torch.set_num_threads(max(1, args.threads))
    device = resolve_device(args.device)
    for run_dir in args.run_dirs:
        result = rescore(run_dir, device=device, batch_size=args.batch_size, quiet=args.quiet)
        print(f"{run_dir}: rescored {result.scored} edits in {result.files} record file(s)"
              + (f"; {result.failed} marked status=error (edit or source missing, unreadable or "
                 f"changed: see their error column)" if result.failed else ""))
    return 0

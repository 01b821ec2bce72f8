"""``emobench train``: placeholder; another module of the project replaces this file."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("train", help="(train: not available in this build yet)",
                              description="This command is not available in this build yet.")
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from emobench.errors import UserError

    raise UserError("`emobench train` is not available in this build yet")

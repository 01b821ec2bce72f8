"""``emobench train``: placeholder until the LDM trainer lands (its module replaces this file).

``emobench train cgf ...`` already delegates to ``emobench.editors.ldm.cgf_train``
(``add_arguments(parser)`` / ``run(args)``) when that module is installed; the module is
imported only when the command runs, so ``emobench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train", help="train models (cgf: CLIP-guided finetuning of the LDM)",
        description="Train models. Available here: cgf (CLIP-guided finetuning), when its module is installed.",
        epilog="examples:\n  emobench train cgf --help", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", help="what to train (cgf)")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments of that trainer (see `emobench train WHAT --help`)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from emobench.errors import UserError

    if args.what != "cgf":
        raise UserError(f"`emobench train {args.what}` is not available in this build yet (available: cgf)")
    try:
        module = importlib.import_module("emobench.editors.ldm.cgf_train")
    except ModuleNotFoundError as exc:
        raise UserError(f"`emobench train cgf` is not available in this build ({exc})") from exc
    parser = argparse.ArgumentParser(prog="emobench train cgf", formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(args.rest)) or 0)

"""The ``emobench`` command line: one argparse parser, one subcommand per module.

Bad input (unknown names, bad cards, missing weights) prints ``error: ...`` and exits 2,
without a traceback.

Example:
    >>> main(["run", "--method", "idnetity", "--protocol", "synthetic"])
    2
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from emobench._version import __version__
from emobench.commands import COMMAND_MODULES

EPILOG = """examples:
  emobench list                                   # methods, protocols, evaluators, datasets
  emobench run --method identity --protocol synthetic
  emobench run --method ldm --protocol affectnet-val --set guidance=3 --shard 0/4
  emobench score runs/synthetic/identity/<hash>   # recompute metrics of saved edits
  emobench report runs/synthetic/*/*              # tables, plots, index.html
  emobench study make runs/london-pairs --kind realism --out study   # a user-study questionnaire
"""


def build_parser() -> argparse.ArgumentParser:
    """The full parser (every subcommand module is imported, none imports torch)."""
    parser = argparse.ArgumentParser(
        prog="emobench",
        description="Benchmark image-based facial emotion editing: run methods on protocols, score, report.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"emobench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"emobench.commands.{name}")
        except Exception as exc:  # noqa: BLE001 - one broken command must not take the others down
            _add_broken(subparsers, name.removesuffix("_cmd"), exc)
            continue
        module.add_parser(subparsers)
    return parser


def _add_broken(subparsers: argparse._SubParsersAction, command: str, exc: Exception) -> None:
    reason = f"{type(exc).__name__}: {exc}"
    p = subparsers.add_parser(command, help=f"(unavailable: {reason})", description=f"unavailable: {reason}")
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def run(args: argparse.Namespace) -> int:
        from emobench.errors import UserError

        raise UserError(f"`emobench {command}` is unavailable in this installation ({reason})")

    p.set_defaults(func=run)


def _user_error_types() -> tuple[type[BaseException], ...]:
    # Imported only when an exception happens, so `emobench --help` stays fast.
    from emobench.errors import UserError
    from emobench.registry import UnknownNameError
    from emobench.weights import MissingWeightError

    types: list[type[BaseException]] = [UserError, UnknownNameError, MissingWeightError]
    if "emobench.datasets.base" in sys.modules:
        types.append(sys.modules["emobench.datasets.base"].DatasetError)
    return tuple(types)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 bad input, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - only user errors are turned into messages
        if isinstance(exc, _user_error_types()):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

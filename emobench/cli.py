"""The ``emobench`` command line: one argparse parser, one subcommand per module.

Every failure prints one ``error: ...`` line saying what to do, without a traceback: bad input
and the environment (unknown names, bad cards or options, missing weights, a full disk) exit 2,
a plugin's or emobench's own bug exits 1 (:mod:`emobench.failure`). ``--debug`` (before or
after the command) or ``EMOBENCH_DEBUG=1`` adds the traceback. Ctrl-C and SIGTERM stop a run
as ``interrupted`` (resumable), exit 130 / 143.

Example:
    >>> main(["run", "--method", "idnetity", "--protocol", "synthetic"])
    2
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import traceback
from typing import Mapping, Sequence

from emobench._version import __version__
from emobench.commands import COMMAND_MODULES

DEBUG_HELP = "on an error, also print the traceback (or set EMOBENCH_DEBUG=1)"

EPILOG = """examples:
  emobench list                                   # methods, protocols, evaluators, datasets
  emobench run --method identity --protocol synthetic
  emobench run --method ldm --protocol affectnet-val --set guidance=3 --shard 0/4
  emobench prepare affectnet-val --set dataset.root=/data/AffectNet   # align the faces once, ahead of runs
  emobench prepare-aus openface.csv --out aus.csv # per-class mean AUs for ganimation (au_csv)
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
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"emobench.commands.{name}")
        except Exception as exc:  # noqa: BLE001 - one broken command must not take the others down
            _add_broken(subparsers, name.removesuffix("_cmd"), exc)
            continue
        module.add_parser(subparsers)
    for sub in subparsers.choices.values():  # `emobench run ... --debug` works as well as `emobench --debug run`
        if sub.get_default("func") is not None and "--debug" not in sub._option_string_actions:
            sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def _add_broken(subparsers: argparse._SubParsersAction, command: str, exc: Exception) -> None:
    reason = f"{type(exc).__name__}: {exc}"
    p = subparsers.add_parser(command, help=f"(unavailable: {reason})", description=f"unavailable: {reason}")
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def run(args: argparse.Namespace) -> int:
        from emobench.errors import UserError

        raise UserError(f"`emobench {command}` is unavailable in this installation ({reason})")

    p.set_defaults(func=run)


def debug_requested(args: argparse.Namespace, environ: Mapping[str, str]) -> bool:
    """``--debug`` given, or ``EMOBENCH_DEBUG`` set to anything but empty/``0``.

    Example:
        >>> debug_requested(argparse.Namespace(debug=False), {"EMOBENCH_DEBUG": "1"})
        True
    """
    return bool(getattr(args, "debug", False)) or environ.get("EMOBENCH_DEBUG", "") not in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 bad input, 1 a bug, 130 / 143 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    debug = debug_requested(args, os.environ)
    from emobench.interrupts import terminate_as_interrupt

    try:
        with terminate_as_interrupt():
            return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        if debug:
            traceback.print_exc()
        print(f"interrupted ({signal.Signals(signum).name}); rerun the same command to resume", file=sys.stderr)
        return 128 + int(signum)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line (the traceback only with --debug)
        from emobench.failure import explain

        code, message = explain(exc)
        if debug:
            traceback.print_exc()
        print(f"error: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

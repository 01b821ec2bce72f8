"""Subcommands of the ``emobench`` CLI, one module each.

Each module imports quickly (no torch at module level) and defines
``add_parser(subparsers) -> ArgumentParser`` (help text with examples; sets ``func=run``)
and ``run(args) -> int`` (the exit code; bad input raises :class:`emobench.errors.UserError`).
"""

#: Module names under ``emobench.commands``, in the order ``emobench --help`` lists them.
COMMAND_MODULES = ("list_cmd", "run", "prepare", "prepare_aus", "score", "report", "export", "weights", "train",
                   "study")

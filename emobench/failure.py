"""What the CLI says when a command fails: one ``error: ...`` line and an exit code.

Failure classes (docs/spine.md lists them): bad input (:class:`~emobench.errors.UserError` and
the registry's, weights' and datasets' errors) and the environment (a missing or unwritable
file, a full disk, out of memory) exit 2 with a line saying what to do; a plugin's own exception
(:class:`~emobench.errors.PluginError`) and anything unforeseen exit 1 as a bug report. Only
``--debug`` (or ``EMOBENCH_DEBUG=1``) shows the traceback.

Example:
    >>> explain(OSError(28, "No space left on device", "runs/x/records.jsonl"))[0]
    2
    >>> explain(ZeroDivisionError("division by zero"))
    (1, 'internal error (ZeroDivisionError: division by zero); this is a bug in emobench: please report it with the traceback that --debug shows')
"""

from __future__ import annotations

import errno

from emobench.errors import PluginError, UserError

#: Exit codes: 2 for what the user can fix (input, files, disk, memory), 1 for a bug.
BAD_INPUT, BUG = 2, 1


def _one_line(text: str) -> str:
    # Library messages (torch's unpickler, argparse) can span many lines; the first says what happened.
    lines = [line for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _is_user_error(exc: BaseException) -> bool:
    from emobench.registry import UnknownNameError

    return isinstance(exc, (UserError, UnknownNameError))


def explain(exc: BaseException) -> tuple[int, str]:
    """``(exit code, message)`` for an exception that ended a command (the message has no ``error:``)."""
    if _is_user_error(exc):
        return BAD_INPUT, str(exc)
    if isinstance(exc, PluginError):
        return BUG, str(exc)
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return BAD_INPUT, (f"no space left on the device{where}: free some space or write elsewhere (--out), "
                               f"then rerun the same command; a run resumes where it stopped")
        if exc.errno is not None:
            return BAD_INPUT, f"{exc.strerror or 'cannot access a file'}{where}; check the path and its permissions"
        return BAD_INPUT, _one_line(exc)  # e.g. MissingWeightError: the message says what to fetch
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":  # torch.cuda's, without torch
        return BAD_INPUT, (f"out of memory ({_one_line(exc) or type(exc).__name__}); lower --batch-size or use "
                           f"another --device; a run resumes where it stopped")
    return BUG, (f"internal error ({type(exc).__name__}: {_one_line(exc)}); this is a bug in emobench: please "
                 f"report it with the traceback that --debug shows")

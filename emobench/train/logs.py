"""The training log every trainer writes: ``OUT/train.log``, echoed to stdout unless quiet.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> log = file_logger(out, quiet=True); log("step 1")
    >>> (out / "train.log").read_text()
    'step 1\\n'
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable


def file_logger(out: Path, quiet: bool = False) -> Callable[[str], None]:
    """A ``log(line)`` that appends to ``out/train.log`` (created) and prints unless ``quiet``."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "train.log"

    def log(line: str) -> None:
        if not quiet:
            print(line, flush=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    return log

"""Atomic file writes: a temporary file in the same folder, flushed to disk, then ``os.replace``.

A reader sees the old file or the new one, never half of one; a killed writer leaves at most a
``.tmp-*`` file, never a truncated target.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a" / "x.json"
    >>> write_json_atomic(p, {"ok": True}); p.read_text()
    '{\\n  "ok": true\\n}\\n'
    >>> with atomic_path(p.with_name("y.bin")) as tmp:
    ...     _ = tmp.write_bytes(b"data")
    >>> p.with_name("y.bin").read_bytes()
    b'data'
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Iterator


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path for libraries that write by file name (safetensors, torch.save); it becomes
    ``path`` when the block ends without an error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The name ends in .tmp, so no *.png / *.safetensors glob ever sees a half-written file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix + ".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "wb") -> Iterator[BinaryIO]:
    """An open temporary file that becomes ``path`` when the block ends without an error."""
    with atomic_path(path) as tmp, open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
        yield fh


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_file(path, "wb") as fh:
        fh.write(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_file(path, "w") as fh:
        fh.write(text)


def write_json_atomic(path: str | Path, value: Any) -> None:
    """JSON (indented, no NaN) written atomically."""
    write_text_atomic(path, json.dumps(value, indent=2, sort_keys=False, allow_nan=False) + "\n")

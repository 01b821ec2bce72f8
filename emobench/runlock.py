"""One writer per run directory (per shard): a lock file held for the whole run.

``emobench run`` holds ``<run_dir>/.lock`` (unsharded) or ``.lock.shard-<i>-of-<N>`` (one shard),
so shards of one run (``torchrun``, ``--shard``) write side by side while a second process on the
same run directory and shard stops at once with one line naming the process that holds it, before
it reads or deletes anything. An unsharded run (which may clear every shard's files) and
``emobench score`` (which rewrites every records file) also need every shard's lock free; a
sharded run needs the unsharded lock free. The locks are ``filelock`` (``flock``) locks: the
kernel drops them when the holder dies, so a killed run never leaves a stale lock. Who holds a
lock is written beside it (``<lock>.owner``: pid, host, start, command) for the message.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with RunLock(folder, 0, 2):
    ...     with RunLock(folder, 1, 2):
    ...         pass  # another shard: no conflict
    >>> with RunLock(folder, 0, 1):
    ...     RunLock(folder, 0, 1).acquire()
    Traceback (most recent call last):
    ...
    emobench.runlock.RunDirBusy: ... is in use by process ... on ... (started ...) [unsharded run]; wait for it to finish, or use another --run-dir
"""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from emobench.errors import UserError

LOCK = ".lock"


class RunDirBusy(UserError):
    """Another process holds the lock of this run directory (and shard)."""


def lock_path(run_dir: Path, shard: int, num_shards: int) -> Path:
    """``.lock`` for an unsharded run, ``.lock.shard-<i>-of-<N>`` for a shard."""
    return Path(run_dir) / (LOCK if num_shards == 1 else f"{LOCK}.shard-{shard}-of-{num_shards}")


def _owner(path: Path) -> str:
    try:
        info = json.loads(Path(f"{path}.owner").read_text(encoding="utf-8"))
        return (f"process {info['pid']} on {info['host']} (started {info['started']}: "
                f"{' '.join(info.get('argv', [])) or '?'})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (started just now, or one that left no owner note)"


def _busy(path: Path, run_dir: Path) -> RunDirBusy:
    shard = path.name[len(LOCK) + 1:] if path.name != LOCK else "unsharded run"
    return RunDirBusy(f"{run_dir} is in use by {_owner(path)} [{shard}]; wait for it to finish, or use another "
                      f"--run-dir")


def _held_elsewhere(path: Path) -> bool:
    probe = FileLock(str(path))
    try:
        probe.acquire(timeout=0)
    except Timeout:
        return True
    probe.release()
    return False


class RunLock:
    """The lock of one shard of a run directory (``with RunLock(...)`` or ``acquire()``/``release()``).

    ``whole=True`` (``emobench score``) takes the unsharded lock and checks that no shard is held.
    """

    def __init__(self, run_dir: Path, shard: int = 0, num_shards: int = 1, whole: bool = False):
        self.run_dir = Path(run_dir)
        self.path = lock_path(self.run_dir, 0, 1) if whole else lock_path(self.run_dir, shard, num_shards)
        self.whole = whole or num_shards == 1
        self._lock = FileLock(str(self.path))

    def acquire(self, argv: tuple[str, ...] = ()) -> "RunLock":
        """Take the lock or raise :class:`RunDirBusy` naming the holder; never waits."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise _busy(self.path, self.run_dir) from None
        try:
            self._check_others()
            self._write_owner(argv)
        except BaseException:
            self._lock.release()
            raise
        return self

    def _check_others(self) -> None:
        # Shard locks and the unsharded lock exclude each other; shard locks of one layout do not.
        if self.whole:
            others = sorted(p for p in self.run_dir.glob(f"{LOCK}.shard-*") if not p.name.endswith(".owner"))
        else:
            others = [lock_path(self.run_dir, 0, 1)]
        for other in others:
            if other.exists() and _held_elsewhere(other):
                raise _busy(other, self.run_dir)

    def _write_owner(self, argv: tuple[str, ...]) -> None:
        info: dict[str, Any] = {"pid": os.getpid(), "host": socket.gethostname(),
                                "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                "argv": list(argv or sys.argv)}
        Path(f"{self.path}.owner").write_text(json.dumps(info) + "\n", encoding="utf-8")

    def release(self) -> None:
        """Give the lock back (the owner note stays; it is only read while the lock is held)."""
        self._lock.release()

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

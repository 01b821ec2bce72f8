"""The run directory on disk: ``manifest.json``, append-only ``records.jsonl`` and ``edits/``.

Layout (DESIGN §3)::

    runs/<protocol>/<method>/<config-hash12>/
        manifest.json                 (manifest.shard-<i>-of-<N>.json when sharded)
        records.jsonl                 (records.shard-<i>-of-<N>.jsonl when sharded)
        edits/<request_id>.png

Records are appended one JSON line at a time, flushed and fsynced, and only after their
PNG exists, so a killed run loses at most the line it was writing; readers drop a
truncated last line and :meth:`RunStore.open` cuts it off before appending again.

Example:
    >>> import tempfile
    >>> store = RunStore(Path(tempfile.mkdtemp()))
    >>> store.append([{"request_id": "r1", "status": "ok"}])
    >>> sorted(store.done_ids()), store.records_path.name
    (['r1'], 'records.jsonl')
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from emobench.atomic import write_json_atomic, write_text_atomic  # noqa: F401 - the store's writers
from emobench.errors import UserError

MANIFEST = "manifest.json"
RECORDS = "records.jsonl"


def shard_suffix(shard: int, num_shards: int) -> str:
    """``""`` for an unsharded run, else ``".shard-<i>-of-<N>"``."""
    return "" if num_shards == 1 else f".shard-{shard}-of-{num_shards}"


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records of one file; a truncated last line (a killed writer) is dropped.

    A damaged line anywhere else raises ``ValueError`` naming the line.
    """
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    complete, tail = lines[:-1], lines[-1]  # text after the last newline was never finished
    records = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: damaged record line ({exc})") from exc
    if tail.strip():
        try:  # a last line without newline but complete JSON still counts
            records.append(json.loads(tail))
        except json.JSONDecodeError:
            pass
    return records


def record_files(run_dir: Path) -> list[Path]:
    """Every records file of a run (all shards), sorted."""
    return sorted(Path(run_dir).glob("records*.jsonl"))


def manifest_files(run_dir: Path) -> list[Path]:
    """Every manifest of a run (one per shard), sorted."""
    return sorted(Path(run_dir).glob("manifest*.json"))


def find_run_dirs(paths: Sequence[Path]) -> list[Path]:
    """Run directories under ``paths`` (a run dir itself, or any folder containing run dirs)."""
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise UserError(f"{path}: no such run directory (expected a folder with manifest.json)")
        if manifest_files(path):
            found.append(path)
            continue
        below = sorted({p.parent for p in path.rglob("manifest*.json")})
        if not below:
            raise UserError(f"{path}: no runs found (no manifest.json in it or below it)")
        found += below
    return list(dict.fromkeys(found))


def read_run(run_dir: Path) -> list[dict[str, Any]]:
    """All records of a run, shards merged in file order, one per request id.

    A request retried with ``--retry-errors`` has several rows; the last one written wins
    (at the position of the first).
    """
    latest: dict[Any, dict[str, Any]] = {}
    for path in record_files(run_dir):
        for i, record in enumerate(read_records(path)):
            latest[record.get("request_id", (path.name, i))] = record
    return list(latest.values())


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """The first manifest of a run (they share the config), or None."""
    for path in manifest_files(run_dir):
        return json.loads(path.read_text(encoding="utf-8"))
    return None


def read_json_or_none(path: Path) -> dict[str, Any] | None:
    """A manifest's content, or None when it is missing or damaged (then it matches no config)."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


class RunStore:
    """Writes one shard's records and edits into a run directory."""

    def __init__(self, run_dir: Path, shard: int = 0, num_shards: int = 1):
        self.run_dir = Path(run_dir)
        self.shard, self.num_shards = shard, num_shards
        suffix = shard_suffix(shard, num_shards)
        self.records_path = self.run_dir / f"records{suffix}.jsonl"
        self.manifest_path = self.run_dir / f"manifest{suffix}.json"
        self.edits_dir = self.run_dir / "edits"

    def open(self) -> None:
        """Create the folders and cut a truncated last line off this shard's records file."""
        self.edits_dir.mkdir(parents=True, exist_ok=True)
        if self.num_shards == 1:  # PNGs half-written by a killed run; shards may be writing theirs right now
            for tmp in self.edits_dir.glob(".tmp-*"):
                tmp.unlink(missing_ok=True)
        if not self.records_path.is_file():
            return
        data = self.records_path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            try:  # a complete JSON line that only lacks its newline is kept
                json.loads(data[keep:])
                keep = len(data)
            except ValueError:
                pass
            with open(self.records_path, "r+b") as fh:
                fh.truncate(keep)
                if keep == len(data):
                    fh.seek(0, os.SEEK_END)
                    fh.write(b"\n")
                fh.flush()
                os.fsync(fh.fileno())

    def output_relpath(self, request_id: str) -> str:
        """Where an edit lives, relative to the run directory (the ``output`` column)."""
        return f"edits/{request_id}.png"

    def done_ids(self, ok_only: bool = False) -> set[str]:
        """Request ids recorded by any shard (resume skips them); ``ok_only``: only rows with status ok."""
        return {r["request_id"] for r in read_run(self.run_dir)
                if "request_id" in r and (not ok_only or r.get("status") == "ok")}

    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append records as JSON lines; flushed and fsynced before returning."""
        lines = "".join(json.dumps(dict(r), allow_nan=False) + "\n" for r in records)
        if not lines:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.records_path, "a", encoding="utf-8") as fh:
            fh.write(lines)
            fh.flush()
            os.fsync(fh.fileno())

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        write_json_atomic(self.manifest_path, dict(manifest))

    def clear(self) -> None:
        """Remove this store's records, manifest and edits (``--overwrite``).

        Unsharded: every records file, manifest and edit of the run (its lock excludes every shard).
        One shard: only that shard's records file, manifest and the edits of its request ids, since
        the other shards may be writing theirs right now.
        """
        if self.num_shards == 1:
            paths = record_files(self.run_dir) + manifest_files(self.run_dir)
        else:
            paths = [self.records_path, self.manifest_path]
        for path in paths:
            path.unlink(missing_ok=True)
        if self.edits_dir.is_dir():
            for png in self.edits_dir.glob("*.png"):
                if self.num_shards == 1 or self.owns(png.stem):
                    png.unlink(missing_ok=True)

    def owns(self, request_id: str) -> bool:
        """Whether ``request_id`` belongs to this shard (the partition of :func:`emobench.protocol.in_shard`)."""
        from emobench.protocol import in_shard

        try:
            return in_shard(request_id, self.shard, self.num_shards)
        except ValueError:  # not a request id (a file someone else put there): not ours to delete
            return False

"""The study server's answer database: SQLite in WAL mode, one row per answer as it is given.

Tables: ``participants`` (id, platform and its ids, arrival index, the item order shown, started /
finished times, completion code) and ``answers`` (participant, item, choice, when; every answer is
kept, a changed one as a new row, the latest counts). A closed tab loses nothing: the page resumes
from :meth:`AnswerDB.start`. ``study ingest``/``analyze`` read it through :func:`answers_csv`,
the same CSV the questionnaire downloads, so both are validated the same way.

Example:
    >>> import tempfile, pathlib
    >>> db = AnswerDB(pathlib.Path(tempfile.mkdtemp()) / "answers.sqlite", "emotion-0")
    >>> db.start("p1", "direct", {}, lambda arrival: ["q2", "q1"]).order
    ['q2', 'q1']
    >>> db.answer("p1", "q1", "happy"); db.answer("p1", "q1", "sad")
    >>> answers_csv(db.path).splitlines()[1]
    'emotion-0,p1,q1,sad'
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from emobench.errors import UserError
from emobench.study.page import ANSWER_COLUMNS

SCHEMA = """
CREATE TABLE IF NOT EXISTS participants (
  id TEXT PRIMARY KEY, study_id TEXT NOT NULL, platform TEXT NOT NULL, platform_ids TEXT NOT NULL,
  arrival INTEGER NOT NULL, item_order TEXT NOT NULL, started TEXT NOT NULL, finished TEXT, completion TEXT);
CREATE TABLE IF NOT EXISTS answers (
  row INTEGER PRIMARY KEY AUTOINCREMENT, study_id TEXT NOT NULL, participant TEXT NOT NULL REFERENCES participants(id),
  item_id TEXT NOT NULL, choice TEXT NOT NULL, answered TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS answers_by_participant ON answers(participant, item_id);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Participant:
    """Where a participant stands: the order they see, their latest answers, whether they finished."""

    id: str
    order: list[str]
    answers: dict[str, str] = field(default_factory=dict)
    finished: bool = False
    completion: str | None = None


class AnswerDB:
    """One study's answers. Safe to share across the server's threads (one connection per thread)."""

    def __init__(self, path: Path, study_id: str):
        self.path, self.study_id = Path(path), study_id
        self._local = threading.local()
        self._write = threading.Lock()  # one writer at a time; WAL lets readers go on meanwhile
        with self._conn() as conn:
            conn.executescript(SCHEMA)
            other = conn.execute("SELECT DISTINCT study_id FROM participants WHERE study_id != ?",
                                 (study_id,)).fetchone()
        if other:
            raise UserError(f"{self.path} holds answers to study {other[0]!r}, not {study_id!r}: use another --db")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # an answer acknowledged is an answer on disk
            self._local.conn = conn
        return conn

    def participant(self, pid: str) -> Participant | None:
        conn = self._conn()
        row = conn.execute("SELECT item_order, finished, completion FROM participants WHERE id = ?", (pid,)).fetchone()
        if row is None:
            return None
        answers = dict(conn.execute("SELECT item_id, choice FROM answers WHERE participant = ? ORDER BY row",
                                    (pid,)).fetchall())
        return Participant(pid, json.loads(row[0]), answers, row[1] is not None, row[2])

    def platform_of(self, pid: str) -> tuple[str, dict[str, str]]:
        row = self._conn().execute("SELECT platform, platform_ids FROM participants WHERE id = ?", (pid,)).fetchone()
        return (row[0], json.loads(row[1])) if row else ("direct", {})

    def finished(self, pid: str) -> bool | None:
        """Whether ``pid`` has finished; None for a participant who never started."""
        row = self._conn().execute("SELECT finished FROM participants WHERE id = ?", (pid,)).fetchone()
        return None if row is None else row[0] is not None

    def start(self, pid: str, platform: str, platform_ids: Mapping[str, str],
              order_for: Callable[[int], Sequence[str]]) -> Participant:
        """The participant's state; a new participant gets the order ``order_for(arrival_index)``."""
        with self._write:
            known = self.participant(pid)
            if known is not None:
                return known
            conn = self._conn()
            arrival = conn.execute("SELECT COUNT(*) FROM participants").fetchone()[0]
            chosen = list(order_for(arrival))
            conn.execute("INSERT INTO participants VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                         (pid, self.study_id, platform, json.dumps(dict(platform_ids), sort_keys=True), arrival,
                          json.dumps(chosen), _now()))
            return Participant(pid, chosen)

    def answer(self, pid: str, item_id: str, choice: str) -> None:
        with self._write:
            self._conn().execute("INSERT INTO answers (study_id, participant, item_id, choice, answered) "
                                 "VALUES (?, ?, ?, ?, ?)", (self.study_id, pid, item_id, choice, _now()))

    def finish(self, pid: str, code: str | None = None) -> str:
        """Mark the participant finished (once); returns their completion code."""
        with self._write:
            conn = self._conn()
            row = conn.execute("SELECT completion FROM participants WHERE id = ?", (pid,)).fetchone()
            if row is not None and row[0]:
                return row[0]
            code = code or secrets.token_hex(4).upper()
            conn.execute("UPDATE participants SET finished = ?, completion = ? WHERE id = ?", (_now(), code, pid))
            return code

    def status(self) -> dict[str, Any]:
        """Participants started/finished and answers per item (latest answer per participant and item)."""
        conn = self._conn()
        started = conn.execute("SELECT COUNT(*) FROM participants").fetchone()[0]
        finished = conn.execute("SELECT COUNT(*) FROM participants WHERE finished IS NOT NULL").fetchone()[0]
        per_item = dict(conn.execute("SELECT item_id, COUNT(DISTINCT participant) FROM answers GROUP BY item_id"))
        rows = conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        return {"study_id": self.study_id, "participants_started": started, "participants_finished": finished,
                "answer_rows": rows, "answers_per_item": per_item}


def answers_csv(path: Path) -> str:
    """The latest answer of every participant to every item, as the questionnaire's CSV download (rows of
    another study stay in, for the validator to name)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such answer database")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        rows = conn.execute(
            "SELECT a.study_id, a.participant, a.item_id, a.choice FROM answers a JOIN "
            "(SELECT participant, item_id, MAX(row) AS last FROM answers GROUP BY participant, item_id) l "
            "ON a.row = l.last ORDER BY a.participant, a.row").fetchall()
        conn.close()
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{path}: not an emobench study database ({exc})") from None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ANSWER_COLUMNS)
    writer.writerows(rows)
    return out.getvalue()

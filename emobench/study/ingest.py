"""Read, validate and merge participants' answer files (``emobench study ingest``).

An answers file is the CSV the questionnaire downloads (or the study server's ``answers.sqlite``, read as that CSV):
a header ``study_id,participant,item_id,choice``
and one row per answered item. Every problem is collected and reported at once, each naming the
file and line: a missing or extra column, a row with the wrong number of fields or an empty field,
a participant id the page would not accept, answers to another study, an item id the design does
not have, a choice that is not one of the study's choices, and a second answer of a participant
to the same item (in the same or another file). A participant who skipped items is not an error
(:meth:`Answers.incomplete` lists them).

Example:
    >>> item = Item("q1", 1, "ldm", "img0", "happy", "happy", ("images/a.png",), ("ldm",), ("r0",))
    >>> design = StudyDesign("emotion-0", "emotion", 0, 1, "?", ("happy", "sad"), ("ldm",), ("ldm",), (item,))
    >>> read_answers(design, [Path("/nonexistent.csv")])
    Traceback (most recent call last):
    ...
    emobench.errors.UserError: answers are not valid:
      /nonexistent.csv: file not found
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from emobench.errors import UserError
from emobench.study.design import Item, StudyDesign
from emobench.study.page import ANSWER_COLUMNS, PARTICIPANT_PATTERN

MAX_ERRORS = 20


@dataclass(frozen=True)
class Answer:
    """One participant's choice for one item, and where it was read."""

    participant: str
    item_id: str
    choice: str
    file: str
    line: int


@dataclass(frozen=True)
class Answers:
    """The validated answers of many participants to one study."""

    design: StudyDesign
    rows: tuple[Answer, ...]

    def participants(self) -> list[str]:
        return list(dict.fromkeys(a.participant for a in self.rows))

    def incomplete(self) -> dict[str, int]:
        """Participants who answered fewer than all items → how many they answered."""
        counts: dict[str, int] = {}
        for a in self.rows:
            counts[a.participant] = counts.get(a.participant, 0) + 1
        return {p: c for p, c in counts.items() if c < len(self.design.items)}

    def frame(self) -> pd.DataFrame:
        """One row per answer with its item's comparison, target, key and ``success`` (choice == key)."""
        rows = []
        for a in self.rows:
            item = self.design.by_id[a.item_id]
            rows.append({"participant": a.participant, "item_id": a.item_id, "choice": a.choice,
                         "comparison": item.comparison, "image_id": item.image_id, "target": item.target,
                         "key": item.key, "success": item.success(a.choice)})
        columns = ["participant", "item_id", "choice", "comparison", "image_id", "target", "key", "success"]
        return pd.DataFrame(rows, columns=columns)


DATABASE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def _read_file(path: Path, design: StudyDesign, seen: dict[tuple[str, str], str],
               errors: list[str]) -> list[Answer]:
    if not path.is_file():
        errors.append(f"{path}: file not found")
        return []
    if path.suffix.lower() in DATABASE_SUFFIXES:
        # The server's database, as the CSV the questionnaire downloads (latest answer per item), so it is
        # validated by the same rules as the participants' files.
        from emobench.study.db import answers_csv

        try:
            text = answers_csv(path)
        except UserError as exc:
            errors.append(str(exc))
            return []
        return _read_text(path, text, design, seen, errors)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        errors.append(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})")
        return []
    return _read_text(path, text, design, seen, errors)


def _read_text(path: Path, text: str, design: StudyDesign, seen: dict[tuple[str, str], str],
               errors: list[str]) -> list[Answer]:
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = next(reader)
    except StopIteration:
        errors.append(f"{path}: empty file; expected the header {','.join(ANSWER_COLUMNS)}")
        return []
    except csv.Error as exc:
        errors.append(f"{path}, line 1: malformed CSV ({exc})")
        return []
    header = [h.strip() for h in header]
    if sorted(header) != sorted(ANSWER_COLUMNS):
        missing = [c for c in ANSWER_COLUMNS if c not in header]
        extra = [c for c in header if c not in ANSWER_COLUMNS]
        detail = "; ".join(part for part in (f"missing {', '.join(missing)}" if missing else "",
                                              f"unexpected {', '.join(map(repr, extra))}" if extra else "") if part)
        errors.append(f"{path}, line 1: expected the columns {','.join(ANSWER_COLUMNS)}, got "
                      f"{','.join(header) or '(none)'} ({detail or 'duplicated columns'})")
        return []
    pattern = re.compile(PARTICIPANT_PATTERN)
    out = []
    wrong: dict[str, list[int]] = {}  # another study's id -> [first line, rows]
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(f"{path}, line {reader.line_num}: malformed CSV ({exc})")
            break
        line = reader.line_num
        where = f"{path}, line {line}"
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            errors.append(f"{where}: malformed row: expected {len(header)} fields ({','.join(header)}), "
                          f"got {len(fields)}")
            continue
        row = {h: f.strip() for h, f in zip(header, fields)}
        empty = [c for c in ANSWER_COLUMNS if not row[c]]
        if empty:
            errors.append(f"{where}: malformed row: empty {', '.join(empty)}")
            continue
        if not pattern.match(row["participant"]):
            errors.append(f"{where}: malformed participant id {row['participant']!r}: expected 1-64 letters, "
                          "digits, '.', '_' or '-'")
            continue
        if row["study_id"] != design.study_id:
            wrong.setdefault(row["study_id"], [line, 0])[1] += 1
            continue
        item = design.by_id.get(row["item_id"])
        if item is None:
            ids = f"{design.items[0].item_id}..{design.items[-1].item_id}" if design.items else "none"
            errors.append(f"{where}: unknown item id {row['item_id']!r} (study {design.study_id} has the items {ids})")
            continue
        if row["choice"] not in design.choices:
            errors.append(f"{where}: choice {row['choice']!r} for item {row['item_id']}: expected one of "
                          f"{', '.join(design.choices)}")
            continue
        key = (row["participant"], row["item_id"])
        if key in seen:
            errors.append(f"{where}: duplicate answer of participant {key[0]!r} to item {key[1]!r} "
                          f"(first at {seen[key]})")
            continue
        seen[key] = where
        out.append(Answer(row["participant"], row["item_id"], row["choice"], str(path), line))
    for other, (first, count) in wrong.items():
        errors.append(f"{path}, line {first}: answers to study {other!r} ({count} rows), but the design is study "
                      f"{design.study_id!r} (wrong study or wrong design folder)")
    return out


def read_answers(design: StudyDesign, paths: Sequence[Path]) -> Answers:
    """Validate and merge answer files; raise ``UserError`` listing every problem (file, line, what)."""
    if not paths:
        raise UserError("no answer files given; expected one or more answers*.csv downloaded from the questionnaire")
    errors: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    rows: list[Answer] = []
    for path in paths:
        rows += _read_file(Path(path), design, seen, errors)
    if errors:
        shown = errors[:MAX_ERRORS]
        more = f"\n  ... and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        raise UserError("answers are not valid:\n  " + "\n  ".join(shown) + more)
    if not rows:
        raise UserError(f"no answers in {', '.join(map(str, paths))} (only headers)")
    return Answers(design, tuple(rows))


def write_answers(answers: Answers, path: Path) -> Path:
    """Write the merged answers (same columns as the questionnaire's download)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(ANSWER_COLUMNS)
        for a in answers.rows:
            writer.writerow([answers.design.study_id, a.participant, a.item_id, a.choice])
    return path

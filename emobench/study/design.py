"""A study's design: which item shows what, and the choice that counts as a success (its key).

``emobench study make`` writes the design as ``design.json`` (read back by ``ingest`` and
``analyze``) and ``design.csv`` (the same items, one row each, for a spreadsheet) beside the
questionnaire folder. Participants' answers carry only the study id, their id, item ids and
choices; everything else is looked up here, so the page never holds the answer key.

Every item is scored the same way: a success is ``choice == key``.

* realism (2AFC): two images, ``conditions = (left, right)``; the comparison ``"A vs B"``
  counts choices of A, so ``key`` is the side A was shown on (``"left"``/``"right"``).
* emotion identification: one image, ``key`` is the target emotion of the edit.

Example:
    >>> item = Item("q1", 1, "ldm vs real", "img0", "happy", "right", ("edits/real.png", "edits/e.png"),
    ...             ("real", "ldm"), ("r0", "r1"))
    >>> item.success("right"), item.shown("left")
    (True, 'real')
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from emobench.errors import UserError
from emobench.labels import TARGET_EMOTIONS

KINDS = ("realism", "emotion")
SIDES = ("left", "right")
REAL = "real"
ATTENTION = "attention check"  # realism items whose answer is obvious: a real photo vs its tiles shuffled
SCRAMBLED = "scrambled"
DESIGN_JSON = "design.json"
DESIGN_CSV = "design.csv"
QUESTIONNAIRE = "questionnaire"
FORMAT_VERSION = 1

QUESTIONS = {
    "realism": "Which of the two photos looks more realistic, more like a real, unedited photo?",
    "emotion": "Which emotion does this face show?",
}


@dataclass(frozen=True)
class Item:
    """One question of a study.

    ``images`` are paths relative to the questionnaire folder (left then right for realism);
    ``conditions`` and ``requests`` say which method (or ``real``) and which record each shows.
    """

    item_id: str
    position: int
    comparison: str
    image_id: str
    target: str
    key: str
    images: tuple[str, ...]
    conditions: tuple[str, ...]
    requests: tuple[str, ...]

    def success(self, choice: str) -> bool:
        """Whether ``choice`` counts for the comparison's first condition (realism) or is correct (emotion)."""
        return choice == self.key

    def shown(self, side: str) -> str:
        """The condition shown on ``side`` (``left``/``right``) of a realism item."""
        return self.conditions[SIDES.index(side)]


@dataclass(frozen=True)
class StudyDesign:
    """A questionnaire's full design; ``study_id`` is a hash of the kind, seed and items."""

    study_id: str
    kind: str
    seed: int
    n: int
    question: str
    choices: tuple[str, ...]
    conditions: tuple[str, ...]
    comparisons: tuple[str, ...]
    items: tuple[Item, ...]
    runs: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    version: int = FORMAT_VERSION

    @cached_property
    def by_id(self) -> dict[str, Item]:
        """Items by ``item_id``."""
        return {item.item_id: item for item in self.items}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any], where: str = "design") -> "StudyDesign":
        """Rebuild a design from ``to_json`` output; raises ``UserError`` naming ``where`` on bad data."""
        try:
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(f"expected format version {FORMAT_VERSION}, got {data.get('version')!r}")
            items = tuple(Item(**{**raw, "images": tuple(raw["images"]), "conditions": tuple(raw["conditions"]),
                                  "requests": tuple(raw["requests"])}) for raw in data["items"])
            tuples = ("choices", "conditions", "comparisons", "runs", "notes")
            design = StudyDesign(**{**data, "items": items, **{k: tuple(data.get(k, ())) for k in tuples}})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UserError(f"{where}: not a study design written by `emobench study make` "
                            f"({type(exc).__name__}: {exc})") from exc
        if design.kind not in KINDS:
            raise UserError(f"{where}: unknown study kind {design.kind!r}; expected one of {', '.join(KINDS)}")
        return design


def study_id(kind: str, seed: int, items: list[Item]) -> str:
    """``<kind>-<10 hex digits>``, stable for the same items and seed.

    Example:
        >>> study_id("emotion", 0, [])
        'emotion-70a068dcc6'
    """
    text = json.dumps([kind, seed, [asdict(i) for i in items]], sort_keys=True)
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def default_choices(kind: str) -> tuple[str, ...]:
    """The answer options of a kind: the two sides, or the paper's six target emotions.

    Example:
        >>> default_choices("realism")
        ('left', 'right')
    """
    return SIDES if kind == "realism" else TARGET_EMOTIONS


def write_design(design: StudyDesign, out: Path) -> list[Path]:
    """Write ``design.json`` and ``design.csv`` into ``out``."""
    from emobench.atomic import write_json_atomic

    out.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out / DESIGN_JSON, out / DESIGN_CSV
    write_json_atomic(json_path, design.to_json())
    width = max((len(i.images) for i in design.items), default=1)
    header = ["study_id", "item_id", "position", "comparison", "image_id", "target", "key"]
    for k in range(1, width + 1):
        header += [f"image_{k}", f"condition_{k}", f"request_{k}"]
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for i in design.items:
            row = [design.study_id, i.item_id, i.position, i.comparison, i.image_id, i.target, i.key]
            for k in range(width):
                row += [i.images[k], i.conditions[k], i.requests[k]] if k < len(i.images) else ["", "", ""]
            writer.writerow(row)
    return [json_path, csv_path]


def load_design(path: Path) -> StudyDesign:
    """The design in ``path`` (a folder written by ``study make``, or its ``design.json``).

    Example:
        >>> load_design(Path("/nonexistent"))
        Traceback (most recent call last):
        ...
        emobench.errors.UserError: /nonexistent: no design.json (expected the folder written by `emobench study make`)
    """
    path = Path(path)
    file = path if path.suffix == ".json" else path / DESIGN_JSON
    if not file.is_file():
        raise UserError(f"{path}: no {DESIGN_JSON} (expected the folder written by `emobench study make`)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{file}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise UserError(f"{file}: expected a JSON object, got {type(data).__name__}")
    return StudyDesign.from_json(data, str(file))

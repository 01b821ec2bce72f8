"""Study tables from a design and validated answers (``emobench study analyze``).

* realism: paper Table 2 — per comparison ``A vs B`` the proportion of choices of A, the count,
  n, exact binomial p-values against 0.5 (two-sided, one-sided "A is chosen more often") and
  their Holm-adjusted values over all comparisons;
* emotion: identification accuracy per method and per method × target against chance 1/6
  (two-sided and one-sided "above chance", Holm within each table), and a confusion table.

Tables are :class:`emobench.report.tables.Table` objects (LaTeX booktabs, CSV, Markdown); p-values
are printed in scientific notation with 3 significant digits and kept exact (float) in the CSV.

Example:
    >>> t = StudyTable("t", "c", ["Comparison", "Proportion", "p (two-sided)"], [["a vs b", 0.65, 0.00012]])
    >>> t.markdown().splitlines()[-1]
    '| a vs b | 0.650 | 1.20e-04 |'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emobench.report.tables import Table
from emobench.study.analyze import analyze_counts
from emobench.study.design import ATTENTION
from emobench.study.ingest import Answers

P_COLUMNS = ("p (two-sided)", "p (one-sided)", "p Holm (two-sided)", "p Holm (one-sided)")
_P_KEYS = ("p_two_sided", "p_greater", "p_two_sided_holm", "p_greater_holm")


def format_p(p: float) -> str:
    """Scientific notation, three significant digits, at every size (a tiny p-value never prints as 0).

    Example:
        >>> format_p(0.26317), format_p(0.000123), format_p(2.6e-55), format_p(1.0)
        ('2.63e-01', '1.23e-04', '2.60e-55', '1.00e+00')
    """
    if math.isnan(p):
        return "–"
    return f"{p:.2e}"


class StudyTable(Table):
    """A :class:`Table` that prints p-value columns (headers starting with ``p``) as :func:`format_p`."""

    def _fmt(self, value: Any, column: str) -> str:
        if isinstance(value, float) and column.startswith("p "):
            return format_p(value)
        return super()._fmt(value, column)


@dataclass
class StudyResult:
    """The tables of one analysis, and a one-line summary of the answers."""

    tables: list[StudyTable]
    summary: str

    def write(self, out: Path) -> list[Path]:
        paths: list[Path] = []
        for table in self.tables:
            paths += table.write(out)
        return paths


def _tested(counts: dict[str, tuple[int, int]], p0: float) -> dict[str, dict]:
    return {row["comparison"]: row for row in analyze_counts(counts, p0=p0)} if counts else {}


def _numbers(row: dict) -> list[Any]:
    """Proportion, count, n and the four p-values of one ``analyze_counts`` row."""
    return [row["proportion"], row["successes"], row["trials"], *(row[k] for k in _P_KEYS)]


def _summary(answers: Answers) -> str:
    incomplete = answers.incomplete()
    text = (f"{len(answers.rows)} answers of {len(answers.participants())} participants to study "
            f"{answers.design.study_id} ({len(answers.design.items)} items)")
    if incomplete:
        text += f"; {len(incomplete)} participants did not answer every item"
    return text


def attention_table(answers: Answers) -> StudyTable | None:
    """Per participant: attention checks answered and passed (None when the study has none)."""
    df = answers.frame()
    checks = df[df["comparison"] == ATTENTION]
    if not any(item.comparison == ATTENTION for item in answers.design.items):
        return None
    rows = []
    for participant in answers.participants():
        sub = checks[checks["participant"] == participant]
        passed = int(sub["success"].sum())
        rows.append([participant, len(sub), passed, passed / len(sub) if len(sub) else float("nan")])
    caption = (f"Attention checks (a real photo against its own tiles shuffled) per participant: "
               f"{attention_summary(rows)}. They are not part of the comparisons; {_summary(answers)}.")
    return StudyTable("attention", caption, ["Participant", "Checks", "Passed", "Rate"], rows)


def attention_summary(rows: list[list[Any]]) -> str:
    """``"1 of 3 participants missed at least one"`` from the attention table's rows."""
    failed = sum(1 for r in rows if r[1] and r[2] < r[1])
    return f"{failed} of {len(rows)} participants missed at least one"


def realism_tables(answers: Answers) -> StudyResult:
    """Paper Table 2: one row per comparison that has answers (attention checks in their own table)."""
    df = answers.frame()
    counts = {}
    for comparison in answers.design.comparisons:
        sub = df[df["comparison"] == comparison]
        if len(sub):
            counts[comparison] = (int(sub["success"].sum()), len(sub))
    tested = _tested(counts, 0.5)
    rows = [[name, *_numbers(r)] for name, r in tested.items()]
    summary = _summary(answers)
    caption = (f"Realism 2AFC: proportion of answers choosing the first method of each comparison as the more "
               f"realistic photo, exact binomial tests against 0.5 (one-sided: the first is chosen more often), "
               f"Holm-adjusted over {len(rows)} comparisons. {summary}.")
    header = ["Comparison", "Proportion", "Count", "N", *P_COLUMNS]
    tables = [StudyTable("realism", caption, header, rows)]
    attention = attention_table(answers)
    if attention is not None:
        tables.append(attention)
        summary += f"; attention checks: {attention_summary(attention.rows)}"
    return StudyResult(tables, summary)


def emotion_tables(answers: Answers) -> StudyResult:
    """Accuracy per method and per method × target against chance 1/6, and the confusion counts."""
    df = answers.frame()
    design = answers.design
    chance = 1 / len(design.choices)
    summary = _summary(answers)
    by_method = {c: (int(g["success"].sum()), len(g)) for c, g in df.groupby("comparison", sort=False)}
    by_method = {c: by_method[c] for c in design.conditions if c in by_method}
    tested = _tested(by_method, chance)
    rows = [[c, *_numbers(r)] for c, r in tested.items()]
    note = (f"exact binomial tests against chance 1/{len(design.choices)} (one-sided: above chance), "
            f"Holm-adjusted over the rows. {summary}.")
    header = ["Method", "Accuracy", "Correct", "N", *P_COLUMNS]
    tables = [StudyTable("emotion_by_method", f"Emotion identification accuracy per method, {note}", header, rows)]
    cells: dict[str, tuple[int, int]] = {}
    order: list[tuple[str, str]] = []
    for c in design.conditions:
        for t in design.choices:
            sub = df[(df["comparison"] == c) & (df["target"] == t)]
            if len(sub):
                cells[f"{c} / {t}"] = (int(sub["success"].sum()), len(sub))
                order.append((c, t))
    tested = _tested(cells, chance)
    rows = [[c, t, *_numbers(tested[f"{c} / {t}"])] for c, t in order]
    tables.append(StudyTable("emotion_by_target", f"Emotion identification accuracy per method and target, {note}",
                             ["Method", "Target", "Accuracy", "Correct", "N", *P_COLUMNS], rows))
    confusion = []
    for c, t in order:
        sub = df[(df["comparison"] == c) & (df["target"] == t)]
        confusion.append([c, t, *(int((sub["choice"] == k).sum()) for k in design.choices), len(sub)])
    tables.append(StudyTable("emotion_confusion", f"Answers per shown target (rows) and chosen emotion (columns). "
                             f"{summary}.", ["Method", "Target", *design.choices, "N"], confusion))
    return StudyResult(tables, summary)


def analyze_study(answers: Answers) -> StudyResult:
    """The tables of the answers' study kind."""
    return realism_tables(answers) if answers.design.kind == "realism" else emotion_tables(answers)

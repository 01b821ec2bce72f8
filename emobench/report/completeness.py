"""Compare like with like: restrict the rows of a report to the requests every compared row shares.

A request is an (image, target, seed) triple, independent of the method (its ``request_id`` is
not: it hashes the method). A partial or still-running run has fewer of them than a finished
one; averaging each over what it has would compare different image subsets. By default the
report keeps the requests shared by every table row (method × setting), the intersection, and
says how many it dropped; ``mode = "all"`` keeps every record (the full-N view) and says so.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"image_id": ["a", "b", "a"], "target": ["happy"] * 3, "seed": [0] * 3,
    ...                    "row": ["ldm", "ldm", "ganmut"]})
    >>> kept, c = compare_on(df, "shared")
    >>> len(kept), c.shared, c.dropped
    (2, 1, {'ldm': 1})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import pandas as pd

from emobench.report.runs import RunInfo

MODES = ("shared", "all")
KEY = ("image_id", "target", "seed")


@dataclass(frozen=True)
class Comparison:
    """What a table was computed over: ``mode``, the number of shared requests, rows dropped per table row,
    N per table row, and the runs that are incomplete."""

    mode: str
    shared: int
    dropped: dict[str, int] = field(default_factory=dict)
    n: dict[str, int] = field(default_factory=dict)
    incomplete: tuple[RunInfo, ...] = ()

    @property
    def uneven(self) -> bool:
        """True when the table rows cover different requests (only possible in the ``all`` view)."""
        return len(set(self.n.values())) > 1

    def sentence(self) -> str:
        """One sentence for captions: what N is, and which runs are incomplete.

        Example:
            >>> Comparison("shared", 64, {"identity": 20}, {"ldm": 64, "identity": 64}).sentence()
            'Compared on the 64 requests every row shares (20 of identity left out).'
        """
        if self.mode == "shared":
            text = f"Compared on the {self.shared} requests every row shares"
            if self.dropped:
                text += " (" + ", ".join(f"{k} of {row}" for row, k in self.dropped.items()) + " left out)"
            text += "."
        else:
            text = "Every record of every run (--compare all)"
            text += ": rows cover different requests." if self.uneven else "."
        if self.incomplete:
            text += " Incomplete: " + "; ".join(f"{r.method} ({r.summary()})" for r in self.incomplete) + "."
        return text


def request_key(records: pd.DataFrame) -> pd.Series:
    """The method-independent request of each row: ``image_id|target|seed`` (columns that exist)."""
    cols = [c for c in KEY if c in records]
    if not cols:
        return pd.Series([str(i) for i in range(len(records))], index=records.index)
    return records[cols].astype(str).agg("|".join, axis=1)


def compare_on(records: pd.DataFrame, mode: str, incomplete: Sequence[RunInfo] = ()) -> tuple[pd.DataFrame,
                                                                                             Comparison]:
    """Rows of ``records`` (with a ``row`` column: the table row) kept under ``mode``, and what was kept.

    ``shared``: only requests present in every table row. If no request is shared by all rows
    (disjoint runs), nothing would be left: every record is kept and the sentence says so.
    """
    if mode not in MODES:
        raise ValueError(f"compare mode must be one of {', '.join(MODES)}, got {mode!r}")
    if records.empty:
        return records, Comparison(mode, 0, incomplete=tuple(incomplete))
    key = request_key(records)
    groups = {row: set(key[records["row"] == row]) for row in dict.fromkeys(records["row"])}
    common = set.intersection(*groups.values())
    if mode == "all" or not common:
        n = {row: int((records["row"] == row).sum()) for row in groups}
        return records, Comparison("all", len(common), {}, n, tuple(incomplete))
    keep = key.isin(common)
    kept = records[keep]
    dropped = {row: int(((records["row"] == row) & ~keep).sum()) for row in groups}
    n = {row: int((kept["row"] == row).sum()) for row in groups}
    return kept, Comparison(mode, len(common), {r: k for r, k in dropped.items() if k}, n, tuple(incomplete))


def banner(runs: Sequence[RunInfo], comparison: Comparison) -> str | None:
    """The warning the index page shows when anything is incomplete (None when everything is).

    Example:
        >>> from pathlib import Path
        >>> r = RunInfo(Path("x"), "ldm", "LDM", "partial", 96, 64, 0)
        >>> banner([r], Comparison("shared", 64, {}, {"ldm": 64}))
        'Incomplete runs: ldm (partial: 64 of 96 requests ok). Compared on the 64 requests every row shares.'
    """
    bad = [r for r in runs if not r.complete]
    if not bad and not comparison.dropped and not comparison.uneven:
        return None
    head = ("Incomplete runs: " + "; ".join(f"{r.method} ({r.summary()})" for r in bad) + ". ") if bad else ""
    body = Comparison(comparison.mode, comparison.shared, comparison.dropped, comparison.n).sentence()
    return head + body

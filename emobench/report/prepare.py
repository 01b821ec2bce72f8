"""From a :class:`RunSet` to what every table and figure of a report section uses.

Applies, in order: the CSIM rule (aligned pairs only, :mod:`emobench.report.csim`), the table
rows (method × setting, with the card's title, the run's status flag and a kind: sanity, run,
published) and the comparison (the requests every row shares, :mod:`emobench.report.completeness`).

Example:
    >>> ReportOptions().compare, ReportOptions().csim
    ('shared', 'aligned')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import pandas as pd

from emobench.report.baselines import Baseline
from emobench.report.completeness import MODES as COMPARE_MODES, Comparison, compare_on
from emobench.report.csim import MODES as CSIM_MODES, CsimRule, apply_csim_rule
from emobench.report.runs import DONE, SANITY_EDITORS, RunInfo, RunSet, setting_label


@dataclass(frozen=True)
class ReportOptions:
    """compare: shared (the requests every row shares, default) | all (every record, full N);
    csim: aligned (pairs aligned on both sides, default) | all (every recorded value, the old behaviour);
    latex_ci: CIs in the LaTeX cells too; n_boot: bootstrap resamples; grid_rows: people per image grid;
    allow_mixed: merge runs scored by different evaluator backends; baselines: published values to show."""

    compare: str = "shared"
    csim: str = "aligned"
    latex_ci: bool = False
    n_boot: int = 1000
    grid_rows: int = 6
    allow_mixed: bool = False
    baselines: tuple[Baseline, ...] = ()

    def __post_init__(self) -> None:
        if self.compare not in COMPARE_MODES:
            raise ValueError(f"compare must be one of {', '.join(COMPARE_MODES)}, got {self.compare!r}")
        if self.csim not in CSIM_MODES:
            raise ValueError(f"csim must be one of {', '.join(CSIM_MODES)}, got {self.csim!r}")
        if self.n_boot < 1 or self.grid_rows < 1:
            raise ValueError(f"n_boot and grid_rows must be >= 1, got {self.n_boot} and {self.grid_rows}")


@dataclass(frozen=True)
class Row:
    """One table row: ``key`` (method + setting) groups records; ``label`` is what tables print."""

    key: str
    label: str
    kind: str
    method: str
    setting: str = ""


@dataclass
class Prepared:
    """A report section's records (``row`` column = :attr:`Row.key`) and what they mean."""

    runs: RunSet
    records: pd.DataFrame
    rows: list[Row]
    comparison: Comparison
    csim: CsimRule | None
    baselines: list[Baseline] = field(default_factory=list)

    @property
    def protocol(self) -> str:
        return self.runs.protocol

    def run_rows(self) -> list[Row]:
        """Rows backed by records (sanity and run rows), in table order."""
        return [r for r in self.rows if r.kind != "published"]


def _flag(info: RunInfo) -> str:
    """A short word for a row label when the run is incomplete."""
    if info.complete:
        return ""
    return info.status if info.status not in (DONE, "unknown") else "incomplete"


def card_title(method: str) -> str:
    """The title of a built-in method card (for published rows), or the name itself."""
    from emobench.cards import builtin_names, load_method
    from emobench.errors import UserError

    if method not in builtin_names("methods"):
        return method
    try:
        return load_method(method).title or method
    except (UserError, OSError):  # a broken card must not stop a report: the name is a fine label
        return method


def prepare(runs: RunSet, options: ReportOptions, baselines: Sequence[Baseline] = ()) -> Prepared:
    """Apply the CSIM rule, build the rows and restrict to the compared requests."""
    records, rule = apply_csim_rule(runs.records, options.csim)
    records = records.copy()
    label = setting_label(records, order=list(runs.grid()))
    records["row"] = records["method"].astype(str) + label.map(lambda s: f" [{s}]" if s else "")
    editors = records["editor"].astype(str) if "editor" in records else records["method"].astype(str)
    infos = {i.method: i for i in runs.runs}
    titles = runs.titles()
    rows: list[Row] = []
    for key, index in records.groupby("row", sort=False).groups.items():
        first = records.loc[index[0]]
        method = str(first["method"])
        setting = str(label.loc[index[0]])
        flag = _flag(infos[method]) if method in infos else ""
        text = titles.get(method, method) + (f" [{setting}]" if setting else "") + (f" ({flag})" if flag else "")
        kind = "sanity" if editors.loc[index[0]] in SANITY_EDITORS or method in SANITY_EDITORS else "run"
        rows.append(Row(str(key), text, kind, method, setting))
    rows.sort(key=lambda r: ("sanity", "run").index(r.kind))  # stable: run order within a kind
    applicable = [b for b in baselines if b.applies_to(runs.protocol)]
    for b in applicable:
        for method in b.methods():
            rows.append(Row(f"published:{b.name}:{method}", f"{card_title(method)} (published)", "published", method))
    incomplete = [i for i in runs.runs if not i.complete]
    kept, comparison = compare_on(records, options.compare, incomplete)
    return Prepared(runs, kept.reset_index(drop=True), rows, comparison, rule, applicable)

"""Report definitions: which tables and figures a report has, as TOML cards in ``reports/``.

A definition names tables and figures from :data:`TABLES` and :data:`FIGURES` (in page order) and
may set defaults for the report options (``[options]``: ``grid_rows``, ``compare``, ``csim``,
``latex_ci``, ``n_boot``); the command line wins over them. Built-in definitions (``default``,
``paper``) ship inside the wheel like the method and protocol cards; a path to your own ``.toml``
works too (``emobench report RUN... --definition my_report.toml``).

Example:
    >>> d = load_definition("paper")
    >>> d.tables, d.figures
    (('per_target', 'mean', 'ablation'), ('tradeoff', 'grids'))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from emobench.cards import CardError, read_toml, find_card
from emobench.registry import suggest

TABLES = ("per_target", "per_target_paired", "mean", "ablation")
FIGURES = ("tradeoff", "tradeoff_paired", "per_class", "grids")
OPTION_KEYS = ("grid_rows", "compare", "csim", "latex_ci", "n_boot")


@dataclass(frozen=True)
class ReportDefinition:
    """One report layout: the tables and figures of each protocol section, in page order."""

    name: str
    description: str = ""
    tables: tuple[str, ...] = TABLES
    figures: tuple[str, ...] = FIGURES
    options: Mapping[str, Any] = field(default_factory=dict)
    path: str = ""


def _names(values: Any, allowed: tuple[str, ...], key: str, where: str) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise CardError(f"{where}: [report] {key} must be a list of names, got {values!r}")
    for v in values:
        if v not in allowed:
            raise CardError(f"{where}: [report] {key}: {suggest(v, list(allowed), key[:-1])}")
    return tuple(values)


def load_definition(name_or_path: str) -> ReportDefinition:
    """A built-in definition by name (``default``, ``paper``) or a ``.toml`` path; strict keys."""
    path = find_card("reports", name_or_path)
    data, _ = read_toml(path)
    where = str(path)
    unknown = sorted(set(data) - {"report", "options"})
    if unknown:
        raise CardError(f"{where}: unknown table(s) {', '.join(unknown)}; expected [report] and [options]")
    report = dict(data.get("report", {}))
    extra = sorted(set(report) - {"name", "description", "tables", "figures"})
    if extra:
        raise CardError(f"{where}: unknown [report] key(s) {', '.join(extra)}; expected name, description, "
                        "tables, figures")
    options = dict(data.get("options", {}))
    bad = sorted(set(options) - set(OPTION_KEYS))
    if bad:
        raise CardError(f"{where}: unknown [options] key(s) {', '.join(bad)}; expected {', '.join(OPTION_KEYS)}")
    return ReportDefinition(name=str(report.get("name", path.stem)), description=str(report.get("description", "")),
                            tables=_names(report.get("tables", list(TABLES)), TABLES, "tables", where),
                            figures=_names(report.get("figures", list(FIGURES)), FIGURES, "figures", where),
                            options=options, path=where)

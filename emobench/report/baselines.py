"""Published baselines: numbers from papers beside one's own runs, marked "published".

``emobench report RUN... --baseline FILE`` reads a CSV or TOML of published values, one per
(method, target, metric), with their source and citation. They become table rows marked
"published" and points on the trade-off plots; they are never mixed into statistics over edits
(no CI, no bold, not in the shared-request comparison). A row per target with no ``mean`` row
gets the mean over its targets (the paper's six-target means come from its per-target values).

``--baseline paper-table1`` is built in: the paper's Table 1 (AffectNet validation, seven
methods) for the ``affectnet-val`` protocol.

CSV columns: ``method,target,metric,value,source,citation`` (optional ``protocol``); ``target``
is an emotion or ``mean``; ``metric`` a record metric name (``accuracy``, ``psnr``, ``ssim``,
``lpips``, ``csim``, ``paired.psnr``, ...). TOML: top-level ``source``, ``citation``, ``protocol``
defaults and ``[[rows]]`` tables with the same keys.

Example:
    >>> b = load_baseline("paper-table1")
    >>> b.protocol, sorted(b.methods())[:3]
    ('affectnet-val', ['ganimation', 'ganmut', 'gganmut'])
    >>> round(b.value("ldm", "mean", "accuracy"), 4)
    0.7423
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emobench.errors import UserError
from emobench.labels import TARGET_EMOTIONS

BUILTIN = {"paper-table1": (Path(__file__).parent / "data" / "paper_table1.csv", "affectnet-val")}
COLUMNS = ("method", "target", "metric", "value", "source", "citation")
MEAN = "mean"


@dataclass(frozen=True)
class PublishedValue:
    method: str
    target: str
    metric: str  # record metric name without "metric." (accuracy, psnr, paired.lpips, ...)
    value: float
    source: str
    citation: str


@dataclass(frozen=True)
class Baseline:
    """Published values of one file; ``protocol``: the protocol they belong to (None: any)."""

    name: str
    values: tuple[PublishedValue, ...]
    protocol: str | None = None

    def methods(self) -> list[str]:
        return list(dict.fromkeys(v.method for v in self.values))

    def applies_to(self, protocol: str) -> bool:
        return self.protocol is None or self.protocol == protocol

    def value(self, method: str, target: str, metric: str) -> float:
        """The published value, the mean over the method's per-target values for ``mean`` when the
        file gives none, NaN when absent."""
        metric = metric.removeprefix("metric.")
        hits = [v.value for v in self.values if (v.method, v.target, v.metric) == (method, target, metric)]
        if hits:
            return hits[0]
        if target == MEAN:
            per = [v.value for v in self.values if v.method == method and v.metric == metric and v.target != MEAN]
            return sum(per) / len(per) if per else math.nan
        return math.nan

    def sources(self) -> list[str]:
        return list(dict.fromkeys(f"{v.source} — {v.citation}" if v.citation else v.source for v in self.values))


def _row(raw: dict[str, Any], where: str, defaults: dict[str, Any]) -> PublishedValue:
    values = {**defaults, **{k: v for k, v in raw.items() if v not in (None, "")}}
    missing = [c for c in ("method", "target", "metric", "value", "source") if c not in values]
    if missing:
        raise UserError(f"{where}: expected the columns {', '.join(COLUMNS)}; missing {', '.join(missing)}")
    target = str(values["target"]).strip().lower()
    if target not in (*TARGET_EMOTIONS, "neutral", "contempt", MEAN):
        raise UserError(f"{where}: target must be an emotion ({', '.join(TARGET_EMOTIONS)}) or 'mean', got {target!r}")
    try:
        value = float(values["value"])
    except (TypeError, ValueError):
        raise UserError(f"{where}: value must be a number, got {values['value']!r}") from None
    return PublishedValue(str(values["method"]).strip(), target, str(values["metric"]).strip().removeprefix("metric."),
                          value, str(values["source"]), str(values.get("citation", "")))


def _read_csv(path: Path) -> tuple[list[PublishedValue], str | None]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        if not set(COLUMNS[:5]) <= set(header):
            raise UserError(f"{path}: expected a header with {', '.join(COLUMNS)} (optional: protocol), "
                            f"got {', '.join(header) or 'nothing'}")
        rows = list(reader)
    protocols = {r.get("protocol") for r in rows if r.get("protocol")}
    if len(protocols) > 1:
        raise UserError(f"{path}: expected one protocol per baseline file, got {', '.join(sorted(protocols))}")
    return [_row(r, f"{path}:{i + 2}", {}) for i, r in enumerate(rows)], (protocols.pop() if protocols else None)


def _read_toml(path: Path) -> tuple[list[PublishedValue], str | None]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"source", "citation", "protocol", "rows"})
    if unknown:
        raise UserError(f"{path}: unknown key(s) {', '.join(unknown)}; expected source, citation, protocol, [[rows]]")
    rows = data.get("rows")
    if not isinstance(rows, list) or not rows:
        raise UserError(f"{path}: expected [[rows]] tables with {', '.join(COLUMNS[:4])}, got none")
    defaults = {k: data[k] for k in ("source", "citation") if k in data}
    return [_row(dict(r), f"{path}: rows[{i}]", defaults) for i, r in enumerate(rows)], data.get("protocol")


def load_baseline(spec: str) -> Baseline:
    """A built-in baseline by name (``paper-table1``) or a CSV/TOML file."""
    if spec in BUILTIN:
        path, protocol = BUILTIN[spec]
        values, _ = _read_csv(path)
        return Baseline(spec, tuple(values), protocol)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise UserError(f"--baseline {spec}: expected a built-in name ({', '.join(BUILTIN)}) or a .csv/.toml file; "
                        "no such file")
    if path.suffix.lower() == ".toml":
        values, protocol = _read_toml(path)
    elif path.suffix.lower() == ".csv":
        values, protocol = _read_csv(path)
    else:
        raise UserError(f"--baseline {spec}: expected a .csv or .toml file, got {path.suffix or 'no suffix'}")
    return Baseline(path.name, tuple(values), protocol)

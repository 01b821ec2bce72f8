"""A result table and its renderings: LaTeX (booktabs, sized to fit a page), CSV, Markdown and HTML.

Rows have a kind: ``run`` (an edit method), ``sanity`` (identity / ground-truth rows: shown, never
bolded) or ``published`` (numbers from a paper: shown, never bolded, no CI). Bold marks the best
``run`` value of a column. Columns named ``"X @ G"`` are shown as ``X`` under a grouped header
``G`` in LaTeX (the paper's Table 1 layout: a group per target). The LaTeX table is a ``table*``
that fits a 6.5 in (469 pt) text width — a one-column article with 1 in margins, or a two-column
paper's full width: when the columns do not fit in one ``tabular`` at ``\\small``, it takes a
smaller size, then splits the column groups into stacked blocks (two halves of three emotions).
CIs go into the LaTeX cells only on request (``with_ci``), and the caption mentions them only then.

The ``.tex`` file is a fragment for ``\\input``: it needs ``\\usepackage{booktabs,array}``.

Example:
    >>> t = Table("demo", "A caption.", ["Method", "Acc"], [["ldm", 0.87], ["ganmut", 0.9], ["identity", 0.95]],
    ...           {"Acc": True}, kinds=["run", "run", "sanity"])
    >>> "\\\\textbf{0.900}" in t.latex(), "\\\\textbf{0.950}" in t.latex()
    (True, False)
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

KINDS = ("sanity", "run", "published")
TEXTWIDTH_PT = 469.0  # 6.5 in: article with 1 in margins; also within a two-column paper's \textwidth
FIRST_COLUMN_CM = 2.6  # wrapped (ragged right) method/setting column
# Font size commands and width scales relative to 10 pt, calibrated against pdflatex's real widths
# (the smaller Computer Modern sizes are relatively wider than their point size).
SIZES = (("\\small", 0.86), ("\\footnotesize", 0.79), ("\\scriptsize", 0.73))
TABCOLSEP_PT = 3.0

_LATEX_CHARS = {"\\": "\\textbackslash{}", "_": "\\_", "%": "\\%", "&": "\\&", "#": "\\#", "$": "\\$",
                "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}",
                "—": "---", "–": "--", "×": "$\\times$", "±": "$\\pm$", "γ": "$\\gamma$", "λ": "$\\lambda$",
                "≥": "$\\geq$", "≤": "$\\leq$", "↑": "$\\uparrow$", "↓": "$\\downarrow$", "…": "\\dots{}",
                "’": "'", "·": "$\\cdot$", "≈": "$\\approx$"}


def latex_escape(text: Any) -> str:
    """Text safe for pdflatex without extra packages (other non-ASCII letters lose their accents).

    Example:
        >>> latex_escape("ldm_cgf 95% γ=3 — ok")
        'ldm\\\\_cgf 95\\\\% $\\\\gamma$=3 --- ok'
    """
    out = []
    for ch in str(text):
        if ch in _LATEX_CHARS:
            out.append(_LATEX_CHARS[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append(unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode())
    return "".join(out)


def _char_width(ch: str) -> float:
    """Rough Computer Modern width in pt at 10 pt (conservative: a little wide)."""
    if ch.isdigit():
        return 5.0
    if ch.isupper():
        return 7.6
    if ch.islower():
        return 5.2
    return 3.9 if ch != " " else 3.4


def text_width(text: str, scale: float) -> float:
    """Estimated width in pt of plain text at a font scale (1 = 10 pt)."""
    return scale * sum(_char_width(c) for c in text)


@dataclass
class Table:
    """A table with per-column directions (True = higher is better) used for arrows and bold.

    ``ci``: (row, column) → 95% interval; ``groups``: (label, span) over the columns after the first
    ``lead`` ones (the grouped header, and the units LaTeX blocks are made of); ``kinds``: per row
    (``run`` by default); ``label``: the LaTeX label (default ``tab:<name>``); ``ci_note``: the
    sentence appended to the caption wherever the CIs are shown.
    """

    name: str
    caption: str
    header: list[str]
    rows: list[list[Any]]
    direction: dict[str, bool] = field(default_factory=dict)
    ci: dict[tuple[int, str], tuple[float, float]] = field(default_factory=dict)
    groups: list[tuple[str, int]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    label: str = ""
    lead: int = 1
    ci_note: str = ""

    def __post_init__(self) -> None:
        if not self.kinds:
            self.kinds = ["run"] * len(self.rows)
        if len(self.kinds) != len(self.rows):
            raise ValueError(f"table {self.name}: expected one kind per row ({len(self.rows)}), got {len(self.kinds)}")
        bad = sorted(set(self.kinds) - set(KINDS))
        if bad:
            raise ValueError(f"table {self.name}: row kinds must be {', '.join(KINDS)}, got {', '.join(bad)}")
        if self.groups and sum(span for _, span in self.groups) != len(self.header) - self.lead:
            raise ValueError(f"table {self.name}: groups span {sum(s for _, s in self.groups)} columns, expected "
                             f"{len(self.header) - self.lead} (all after the first {self.lead})")

    # ------------------------------------------------------------------ cells
    @staticmethod
    def base(column: str) -> str:
        """The metric part of a column name: ``"PSNR @ happy"`` → ``"PSNR"``."""
        return column.split(" @ ")[0]

    def _fmt(self, value: Any, column: str) -> str:
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, float):
            if math.isnan(value):
                return "–"
            base = self.base(column)
            if base.startswith(("PSNR", "pPSNR")):
                return f"{value:.2f}"
            if base.endswith("%"):
                return f"{value:.1f}"
            return f"{value:.3f}"
        return str(value)

    def _hib(self, column: str) -> bool | None:
        return self.direction.get(self.base(column))

    def _best(self) -> dict[int, set[int]]:
        """Column index → indices of ``run`` rows holding the best value (ties all bold)."""
        best: dict[int, set[int]] = {}
        for j, col in enumerate(self.header):
            hib = self._hib(col)
            if hib is None:
                continue
            vals = [(i, r[j]) for i, r in enumerate(self.rows) if self.kinds[i] == "run"
                    and isinstance(r[j], float) and not math.isnan(r[j])]
            if len(vals) < 2:
                continue
            target = max(v for _, v in vals) if hib else min(v for _, v in vals)
            shown = lambda v: self._fmt(v, col)  # noqa: E731 - ties as printed
            best[j] = {i for i, v in vals if shown(v) == shown(target)}
        return best

    def _ci_text(self, i: int, col: str) -> str | None:
        if (i, col) not in self.ci:
            return None
        lo, hi = self.ci[(i, col)]
        if math.isnan(lo):
            return None
        return f"[{self._fmt(lo, col)}, {self._fmt(hi, col)}]"

    def has_ci(self) -> bool:
        return any(not math.isnan(v[0]) for v in self.ci.values())

    def caption_with(self, with_ci: bool) -> str:
        return f"{self.caption} {self.ci_note}".strip() if with_ci and self.ci_note and self.has_ci() else self.caption

    def arrow(self, column: str, up: str, down: str) -> str:
        hib = self._hib(column)
        return "" if hib is None else (up if hib else down)

    # ------------------------------------------------------------------ LaTeX
    def latex_label(self) -> str:
        return re.sub(r"[^A-Za-z0-9:.-]+", "-", self.label or f"tab:{self.name}")

    def _group_columns(self) -> list[list[int]]:
        """Column indices of each group (one group of all columns when there are none)."""
        if not self.groups:
            return [list(range(self.lead, len(self.header)))]
        out, start = [], self.lead
        for _, span in self.groups:
            out.append(list(range(start, start + span)))
            start += span
        return out

    def _column_width(self, j: int, scale: float, with_ci: bool) -> float:
        col = self.header[j]
        head = text_width(self.base(col), scale) + (7.0 * scale if self._hib(col) is not None else 0.0)
        cells = [text_width(self._fmt(r[j], col), scale) for r in self.rows]
        if with_ci:
            cells += [text_width(t, scale * 5 / 7) for i in range(len(self.rows))
                      if (t := self._ci_text(i, col)) is not None]
        return max([head, *cells]) + 2 * TABCOLSEP_PT

    def layout(self, with_ci: bool = False) -> tuple[str, list[list[int]]]:
        """The font size command and the column groups of each stacked block: the fewest blocks,
        then the largest size, whose estimated width fits :data:`TEXTWIDTH_PT`."""
        groups = self._group_columns()
        first = FIRST_COLUMN_CM * 72.27 / 2.54 + 2 * TABCOLSEP_PT
        for n_blocks in range(1, len(groups) + 1):
            per = math.ceil(len(groups) / n_blocks)
            blocks = [groups[k:k + per] for k in range(0, len(groups), per)]
            for size, scale in SIZES:
                lead = sum(self._column_width(j, scale, with_ci) for j in range(1, self.lead))
                widths = [first + lead + sum(self._column_width(j, scale, with_ci) for g in b for j in g)
                          for b in blocks]
                if max(widths) <= TEXTWIDTH_PT - 4:
                    return size, [[j for g in b for j in g] for b in blocks]
        return SIZES[-1][0], groups

    def _latex_block(self, columns: list[int], best: dict[int, set[int]], with_ci: bool) -> list[str]:
        cols = list(range(self.lead)) + columns
        spec = f">{{\\raggedright\\arraybackslash}}p{{{FIRST_COLUMN_CM}cm}}" + "r" * (self.lead - 1) + \
            "c" * len(columns)
        lines = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
        if self.groups:
            cells, rules, at = [""] * self.lead, [], self.lead + 1
            start = self.lead
            for label, span in self.groups:
                inside = [j for j in range(start, start + span) if j in columns]
                start += span
                if not inside:
                    continue
                cells.append(f"\\multicolumn{{{len(inside)}}}{{c}}{{{latex_escape(label)}}}")
                rules.append(f"\\cmidrule(lr){{{at}-{at + len(inside) - 1}}}")
                at += len(inside)
            lines += [" & ".join(cells) + " \\\\", " ".join(rules)]
        heads = [latex_escape(self.base(self.header[j])) + self.arrow(self.header[j], " $\\uparrow$",
                                                                        " $\\downarrow$") for j in cols]
        lines += [" & ".join(heads) + " \\\\", "\\midrule"]
        previous = None
        for i, row in enumerate(self.rows):
            if previous is not None and self.kinds[i] != previous:
                lines.append("\\midrule")
            previous = self.kinds[i]
            cells = []
            for j in cols:
                text = latex_escape(self._fmt(row[j], self.header[j]))
                cells.append(f"\\textbf{{{text}}}" if i in best.get(j, set()) else text)
            lines.append(" & ".join(cells) + " \\\\")
            if with_ci:
                cis = [self._ci_text(i, self.header[j]) if j >= self.lead else None for j in cols]
                if any(cis):
                    lines.append(" & ".join("" if c is None else f"{{\\tiny {latex_escape(c)}}}" for c in cis)
                                 + " \\\\")
        lines += ["\\bottomrule", "\\end{tabular}"]
        return lines

    def latex(self, with_ci: bool = False) -> str:
        best = self._best()
        size, blocks = self.layout(with_ci)
        lines = ["% emobench table; needs \\usepackage{booktabs,array}", "\\begin{table*}[t]", "\\centering", size,
                 f"\\setlength{{\\tabcolsep}}{{{TABCOLSEP_PT:g}pt}}"]
        for k, columns in enumerate(blocks):
            if k:
                lines.append("\\par\\medskip")
            lines += self._latex_block(columns, best, with_ci)
        lines += [f"\\caption{{{latex_escape(self.caption_with(with_ci))}}}", f"\\label{{{self.latex_label()}}}",
                  "\\end{table*}"]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ CSV / Markdown / HTML
    def frame(self, with_ci: bool = True) -> pd.DataFrame:
        """The table as a DataFrame (exact values; CI columns next to their column when ``with_ci``), and a
        ``Row kind`` column when some rows are sanity or published rows."""
        cols: dict[str, list[Any]] = {}
        n = range(len(self.rows))
        for j, col in enumerate(self.header):
            cols[col] = [r[j] for r in self.rows]
            if with_ci and any((i, col) in self.ci for i in n):
                cols[f"{col} CI95 low"] = [self.ci.get((i, col), (math.nan, math.nan))[0] for i in n]
                cols[f"{col} CI95 high"] = [self.ci.get((i, col), (math.nan, math.nan))[1] for i in n]
        if any(k != "run" for k in self.kinds):
            cols["Row kind"] = list(self.kinds)
        return pd.DataFrame(cols)

    def markdown(self) -> str:
        best = self._best()
        head = [c + self.arrow(c, " ↑", " ↓") for c in self.header]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for i, row in enumerate(self.rows):
            cells = []
            for j, v in enumerate(row):
                text = self._fmt(v, self.header[j])
                ci = self._ci_text(i, self.header[j])
                if ci:
                    text += f" {ci}"
                cells.append(f"**{text}**" if i in best.get(j, set()) else text)
            lines.append("| " + " | ".join(cells) + " |")
        return f"**{self.caption_with(True)}**\n\n" + "\n".join(lines) + "\n"

    def html(self) -> str:
        """A ``<table>`` (class ``table <name>``; rows classed by kind; CIs in small print)."""
        best = self._best()
        esc = html.escape
        parts = [f"<table class='table {esc(self.name)}'><thead><tr>"]
        parts += [f"<th>{esc(c + self.arrow(c, ' ↑', ' ↓'))}</th>" for c in self.header]
        parts.append("</tr></thead><tbody>")
        for i, row in enumerate(self.rows):
            parts.append(f"<tr class='{self.kinds[i]}'>")
            for j, v in enumerate(row):
                text = esc(self._fmt(v, self.header[j]))
                ci = self._ci_text(i, self.header[j])
                if ci:
                    text += f" <small>{esc(ci)}</small>"
                parts.append(f"<td><b>{text}</b></td>" if i in best.get(j, set()) else f"<td>{text}</td>")
            parts.append("</tr>")
        parts.append("</tbody></table>")
        return "".join(parts)

    def write(self, out: Path, latex_ci: bool = False) -> list[Path]:
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / f"{self.name}.tex", out / f"{self.name}.csv", out / f"{self.name}.md"]
        paths[0].write_text(self.latex(latex_ci), encoding="utf-8")
        self.frame().to_csv(paths[1], index=False)
        paths[2].write_text(self.markdown(), encoding="utf-8")
        return paths

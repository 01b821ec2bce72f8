"""Trade-off curves (accuracy vs PSNR/SSIM/LPIPS/CSIM over a protocol's grid, paper Figs. 8–9) and
per-class bars.

A curve follows the protocol's first grid axis (γ, t0, λ_dir, ...): one line per method (and per
value of any further axis), points labelled by the setting, 95% bootstrap CI bars (resampling
images) on both axes. Sanity rows are reference lines (the identity row's PSNR of identical images,
80 dB, is a sentinel: it is named in the legend, not drawn, so it cannot stretch the axis); published
values are crosses. Axes carry units (dB) and directions.

Example:
    >>> point_label("guidance", 3.0), point_label("t0", 500)
    ('γ=3', 't0=500')
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
import pandas as pd  # noqa: E402

from emobench.labels import TARGET_EMOTIONS  # noqa: E402
from emobench.report.baselines import MEAN  # noqa: E402
from emobench.report.figure import Figure  # noqa: E402
from emobench.report.prepare import Prepared  # noqa: E402
from emobench.report.runs import HEADLINE, PAIRED  # noqa: E402
from emobench.report.stats import bootstrap_ci  # noqa: E402

SYMBOLS = {"guidance": "γ", "lambda_dir": "λ_dir", "ddim_steps": "T", "eta": "η"}
UNITS = {"PSNR": "PSNR (dB)", "pPSNR": "PSNR vs real target (dB)", "pSSIM": "SSIM vs real target",
         "pLPIPS": "LPIPS vs real target", "pCSIM": "CSIM vs real target"}


def point_label(param: str, value: Any) -> str:
    """``γ=3`` for guidance 3.0; integers without a decimal point."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{SYMBOLS.get(param, param)}={value}"


def _save(fig, out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}.pdf", bbox_inches="tight")
    fig.savefig(out / f"{name}.png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    return out / f"{name}.png"


def _axes_params(data: Prepared, group: pd.DataFrame) -> tuple[str | None, list[str]]:
    """(the curve's axis, the further axes that split lines) among the grid keys this method varies."""
    keys = [k for k in data.runs.grid() if f"param.{k}" in group and group[f"param.{k}"].nunique() > 1]
    return (keys[0], keys[1:]) if keys else (None, [])


def _point(group: pd.DataFrame, col: str, n_boot: int) -> tuple[float, float, float]:
    mean = float(group[col].mean()) if group[col].notna().any() else math.nan
    lo, hi = bootstrap_ci(group, col, n_boot=n_boot) if not math.isnan(mean) else (math.nan, math.nan)
    # Clamped: the interval of a constant column can sit a rounding error inside its own mean.
    return mean, max(mean - lo, 0.0), max(hi - mean, 0.0)


def _panel(ax, data: Prepared, col: str, head: str, hib: bool, n_boot: int) -> list[str]:
    """One panel; returns the settings-axis descriptions it used (for the caption)."""
    df = data.records
    used: list[str] = []
    xs: list[float] = []
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    methods = list(dict.fromkeys(r.method for r in data.rows if r.kind == "run"))
    for m_i, method in enumerate(methods):
        group = df[(df["method"] == method) & df[col].notna()]
        if group.empty:
            continue
        axis, further = _axes_params(data, group)
        colour = colours[m_i % len(colours)]
        title = next(r.label.split(" [")[0] for r in data.rows if r.method == method)
        lines = [((), group)] if not further else list(group.groupby([f"param.{k}" for k in further], sort=True))
        for l_i, (fixed, sub) in enumerate(lines):
            fixed = fixed if isinstance(fixed, tuple) else (fixed,)
            name = title + "".join(f", {point_label(k, v)}" for k, v in zip(further, fixed))
            points = [(v, s) for v, s in sub.groupby(f"param.{axis}", sort=True)] if axis else [(None, sub)]
            stats = [(v, _point(s, col, n_boot), _point(s, "metric.accuracy", n_boot)) for v, s in points]
            x = [p[1][0] for p in stats]
            y = [p[2][0] for p in stats]
            # The axis spans the CI bars too: an interval cut at the frame would look tighter than it is.
            xs += [v for p in stats for v in (p[1][0] - p[1][1], p[1][0] + p[1][2]) if not math.isnan(v)]
            ax.errorbar(x, y, xerr=[[p[1][1] for p in stats], [p[1][2] for p in stats]],
                        yerr=[[p[2][1] for p in stats], [p[2][2] for p in stats]], color=colour,
                        linestyle=("-", "--", (0, (4, 1, 1, 1)))[l_i % 3], marker="osD^v"[l_i % 5], markersize=4,
                        capsize=2,
                        linewidth=1.2, elinewidth=0.7, label=name)
            if axis:
                used.append(f"{title}: {SYMBOLS.get(axis, axis)}" + (f" (lines: {', '.join(further)})"
                                                                       if further else ""))
                offset = ((4, 3), (4, -9), (-26, 3), (-26, -9))[l_i % 4]  # lines of one method: labels apart
                for v, (px, _, _), (py, _, _) in stats:
                    ax.annotate(point_label(axis, v), (px, py), fontsize=6.5, xytext=offset, textcoords="offset points",
                                color=colour)
    for b in data.baselines:
        for method in b.methods():
            x, y = b.value(method, MEAN, col), b.value(method, MEAN, "accuracy")
            if not (math.isnan(x) or math.isnan(y)):
                xs.append(x)
                ax.scatter([x], [y], marker="x", color="black", s=28, zorder=3)
                ax.annotate(f"{method} (published)", (x, y), fontsize=6, xytext=(3, -9), textcoords="offset points")
    if xs:
        lo, hi = min(xs), max(xs)
        pad = (hi - lo) * 0.12 or abs(hi) * 0.05 or 0.05
        ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-0.03, 1.03)  # accuracy: the whole range, so the sanity lines at 0 and 1 show
    left, right = ax.get_xlim()
    for r_i, row in enumerate(r for r in data.rows if r.kind == "sanity"):
        group = df[df["row"] == row.key]
        style = _SANITY_STYLES[r_i % len(_SANITY_STYLES)]
        if "metric.accuracy" in group and group["metric.accuracy"].notna().any():
            ax.axhline(float(group["metric.accuracy"].mean()), **style)
        if col in group and group[col].notna().any():
            value = float(group[col].mean())
            # Only inside the edits' range: far-off sanity values (80 dB for identical images) would squash it.
            if left <= value <= right:
                ax.axvline(value, **style)
    arrow = "↑" if hib else "↓"
    ax.set_xlabel(f"{UNITS.get(head, head)} {arrow}")
    ax.set_ylabel("target accuracy ↑")
    ax.grid(alpha=0.3)
    return used


_SANITY_STYLES = (dict(color="grey", linewidth=0.9, linestyle=":"), dict(color="grey", linewidth=0.9, linestyle="-."))


def _sanity_legend(data: Prepared, metrics: list[tuple[str, str, bool]]) -> list[tuple[Any, str]]:
    """One legend entry per sanity row with its values (the lines are drawn only where they fall on an axis)."""
    out = []
    for r_i, row in enumerate(r for r in data.rows if r.kind == "sanity"):
        group = data.records[data.records["row"] == row.key]
        if group.empty:
            continue
        values = []
        for col, head in [("metric.accuracy", "accuracy")] + [(c, h) for c, h, _ in metrics]:
            if col in group and group[col].notna().any():
                v = float(group[col].mean())
                unit = " dB" if head.endswith("PSNR") else ""
                values.append(f"{head} {v:.2f}{unit}" if head.endswith("PSNR") else f"{head} {v:.3f}")
        handle = Line2D([], [], **_SANITY_STYLES[r_i % len(_SANITY_STYLES)])
        out.append((handle, f"{row.label} (reference): " + ", ".join(values)))
    return out


def tradeoff_plots(data: Prepared, out: Path, n_boot: int = 1000, paired: bool = False) -> list[Figure]:
    """One panel per fidelity metric present (against the source, or with ``paired`` the real target)."""
    df = data.records
    metrics = [(c, h, hib) for c, h, hib in (PAIRED if paired else HEADLINE[1:]) if c in df and df[c].notna().any()]
    if "metric.accuracy" not in df or not metrics or not any(r.kind == "run" for r in data.rows):
        return []
    ncols = min(len(metrics), 2)
    nrows = math.ceil(len(metrics) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 3.9 * nrows), squeeze=False)
    used: list[str] = []
    for ax, (col, head, hib) in zip(axes.flat, metrics):
        used += _panel(ax, data, col, head, hib, n_boot)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for ax in list(axes.flat)[1:len(metrics)]:
        h, lab = ax.get_legend_handles_labels()
        for hh, ll in zip(h, lab):
            if ll not in labels:
                handles.append(hh)
                labels.append(ll)
    for hh, ll in _sanity_legend(data, metrics):
        handles.append(hh)
        labels.append(ll)
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.02 - 0.035 * math.ceil(len(labels) / 2)))
    fig.tight_layout()
    name = "tradeoff_paired" if paired else "tradeoff"
    judge = (data.runs.evaluator("emotion") or {}).get("backend", "the emotion evaluator")
    axes_text = "; ".join(dict.fromkeys(used))
    what = "against the real target image of the same person" if paired else "against the source"
    caption = (f"Trade-off on {data.protocol}: target accuracy ({judge}) against fidelity {what} "
               f"({', '.join(UNITS.get(h, h) for _, h, _ in metrics)}). "
               + (f"Curves over the grid, points labelled by the setting ({axes_text}). " if axes_text
                  else "One point per method (no sweep). ")
               + "Bars: bootstrap 95% CI over images. "
               + ("Grey lines: sanity rows (identity, ground truth). " if any(r.kind == "sanity" for r in data.rows)
                  else "")
               + ("Crosses: published values. " if data.baselines else "")
               + data.comparison.sentence())
    return [Figure(name, _save(fig, out, name), caption)]


def per_class_bars(data: Prepared, out: Path) -> list[Figure]:
    """Mean target accuracy per target emotion, one bar per table row (published rows hatched)."""
    df = data.records
    if "metric.accuracy" not in df or df.empty:
        return []
    targets = [t for t in TARGET_EMOTIONS if (df["target"] == t).any()]
    series = {}
    for row in data.rows:
        if row.kind == "published":
            b = next(b for b in data.baselines if row.key.startswith(f"published:{b.name}:"))
            series[row.label] = [b.value(row.method, t, "accuracy") for t in targets]
        else:
            group = df[df["row"] == row.key]
            series[row.label] = [float(group[group["target"] == t]["metric.accuracy"].mean()) for t in targets]
    table = pd.DataFrame(series, index=targets)
    kinds = [r.kind for r in data.rows if r.label in series]
    runs = kinds.count("run")
    cmap = plt.get_cmap("tab10" if runs <= 10 else "viridis")
    colours, k_run, k_other = [], 0, 0
    for kind in kinds:  # sanity rows grey, run rows distinct colours, published rows light grey
        if kind == "run":
            colours.append(cmap(k_run if runs <= 10 else k_run / max(runs - 1, 1)))
            k_run += 1
        else:
            colours.append(("0.3", "0.55", "0.8")[k_other % 3])
            k_other += 1
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(targets), 3.8))
    table.plot.bar(ax=ax, rot=0, width=0.8, color=colours)
    for container, kind in zip(ax.containers, kinds):
        if kind == "published":
            for bar in container:
                bar.set_hatch("//")
    ax.set_ylabel("target accuracy ↑")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    judge = (data.runs.evaluator("emotion") or {}).get("backend", "the emotion evaluator")
    caption = (f"Target accuracy ({judge}) per target emotion on {data.protocol}, one bar per row of the "
               f"per-target table (sanity rows grey" + (", published rows hatched" if "published" in kinds else "")
               + f"). {data.comparison.sentence()}")
    return [Figure("per_class_accuracy", _save(fig, out, "per_class_accuracy"), caption)]

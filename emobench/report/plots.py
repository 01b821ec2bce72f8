"""Trade-off plots (accuracy vs PSNR/SSIM/LPIPS/CSIM, paper Figs. 8–9) and per-class bar charts.

Example:
    >>> import pandas as pd, tempfile, pathlib
    >>> df = pd.DataFrame({"method": ["a", "a"], "target": ["happy", "sad"], "metric.accuracy": [1.0, 0.0],
    ...                    "metric.psnr": [20.0, 22.0], "image_id": ["x", "x"]})
    >>> [p.suffix for p in per_class_bars(df, pathlib.Path(tempfile.mkdtemp()))]
    ['.pdf', '.png']
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from emobench.labels import TARGET_EMOTIONS  # noqa: E402
from emobench.report.runs import HEADLINE, setting_label  # noqa: E402


def _save(fig, out: Path, name: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.pdf", out / f"{name}.png"]
    fig.savefig(paths[0], bbox_inches="tight")
    fig.savefig(paths[1], dpi=150, bbox_inches="tight")
    plt.close(fig)
    return paths


def tradeoff_plots(records: pd.DataFrame, out: Path) -> list[Path]:
    """One panel per quality metric: mean accuracy (y) vs the metric (x), a line per method through its settings."""
    df = records.copy()
    df["setting"] = setting_label(df)
    metrics = [(c, h, hib) for c, h, hib in HEADLINE[1:] if c in df and df[c].notna().any()]
    if "metric.accuracy" not in df or not metrics:
        return []
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), squeeze=False)
    for ax, (col, head, hib) in zip(axes[0], metrics):
        for method, group in df.groupby("method", sort=False):
            points = group.groupby("setting", sort=False)[["metric.accuracy", col]].mean()
            ax.plot(points[col], points["metric.accuracy"], marker="o", label=str(method))
            for setting, row in points.iterrows():
                if setting:
                    ax.annotate(setting, (row[col], row["metric.accuracy"]), fontsize=6, xytext=(3, 3),
                                textcoords="offset points")
        ax.set_xlabel(f"{head} ({'higher' if hib else 'lower'} is better)")
        ax.set_ylabel("target accuracy")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Emotion accuracy vs image/identity preservation")
    return _save(fig, out, "tradeoff")


def per_class_bars(records: pd.DataFrame, out: Path) -> list[Path]:
    """Mean target accuracy per target emotion, one bar per method."""
    if "metric.accuracy" not in records:
        return []
    targets = [t for t in TARGET_EMOTIONS if (records["target"] == t).any()]
    table = records.groupby(["target", "method"], sort=False)["metric.accuracy"].mean().unstack("method")
    table = table.reindex(targets)
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(targets), 3.4))
    table.plot.bar(ax=ax, rot=0)
    ax.set_ylabel("target accuracy")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out, "per_class_accuracy")

"""Image grids from saved edits: one row per person, columns = source + each target (paper Figs. 1, 3–5).

Rows show different people (the first image of each of the first ``max_rows`` people; images
without a person id count as their own person), labelled by person and source emotion; columns
are labelled by target, in a font that reads at print size. A method run over a sweep gets one
grid at one setting: the method card's own settings when the sweep contains them, else the first.

Example:
    >>> import pandas as pd
    >>> pick_images(pd.DataFrame({"image_id": ["a-neutral", "a-happy", "b-neutral"], "person": ["a", "a", "b"]}), 5)
    ['a-neutral', 'b-neutral']
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

from emobench.labels import TARGET_EMOTIONS  # noqa: E402
from emobench.report.figure import Figure  # noqa: E402
from emobench.report.prepare import Prepared  # noqa: E402


def pick_images(records: pd.DataFrame, max_rows: int) -> list[str]:
    """The first image of each of the first ``max_rows`` distinct people."""
    people = records["person"] if "person" in records else records["image_id"]
    people = people.where(people.notna(), records["image_id"])
    chosen: dict[str, str] = {}
    for image_id, person in zip(records["image_id"], people.astype(str)):
        if person not in chosen:
            chosen[person] = str(image_id)
        if len(chosen) == max_rows:
            break
    return list(chosen.values())


def source_images(records: pd.DataFrame) -> dict[str, Path]:
    """Sources from an ``identity`` run among the records (its edits are the sources), if any."""
    df = records[records["method"] == "identity"] if "method" in records else records.iloc[0:0]
    out: dict[str, Path] = {}
    for _, row in df.iterrows():
        if isinstance(row.get("output"), str):
            out.setdefault(row["image_id"], Path(row["run_dir"]) / row["output"])
    return out


def _grid_setting(data: Prepared, method: str, df: pd.DataFrame) -> str:
    """The row key to show for a method: its card setting when the sweep has it, else the first."""
    keys = list(dict.fromkeys(df["row"]))
    if len(keys) == 1:
        return keys[0]
    card = {}
    for m in data.runs.manifests:
        if (m.get("method") or {}).get("name") == method:
            card = (m.get("config", {}).get("method", {}) or {}).get("params", {}) or {}
    for key in keys:
        sub = df[df["row"] == key].iloc[0]
        if all(str(sub.get(f"param.{k}")) == str(v) for k, v in card.items() if f"param.{k}" in df):
            return key
    return keys[0]


def image_grid(data: Prepared, out: Path, method: str, max_rows: int = 6, cell_in: float = 1.1,
               sources: dict[str, Path] | None = None) -> Figure | None:
    """A grid for ``method`` (None without saved edits)."""
    df = data.records
    if df.empty or "output" not in df:
        return None
    df = df[(df["method"] == method) & df["output"].notna()]
    if df.empty:
        return None
    key = _grid_setting(data, method, df)
    df = df[df["row"] == key]
    targets = [t for t in TARGET_EMOTIONS if (df["target"] == t).any()]
    images = pick_images(df, max_rows)
    cols = (["source"] if sources else []) + targets
    fig, axes = plt.subplots(len(images), len(cols), figsize=(cell_in * len(cols) + 0.9, cell_in * len(images) + 0.4),
                             squeeze=False)
    for i, image_id in enumerate(images):
        rows = df[df["image_id"] == image_id]
        for j, name in enumerate(cols):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if name == "source":
                path = sources.get(image_id) if sources else None
            else:
                hit = rows[rows["target"] == name]
                path = Path(hit.iloc[0]["run_dir"]) / hit.iloc[0]["output"] if len(hit) else None
            if path is not None and Path(path).is_file():
                with Image.open(path) as img:
                    ax.imshow(img.convert("RGB"))
            if i == 0:
                ax.set_title(name, fontsize=10)
            if j == 0:
                first = rows.iloc[0]
                person = first.get("person") if isinstance(first.get("person"), str) else image_id
                ax.set_ylabel(f"{person}\n({first.get('source', '?')})", fontsize=8, rotation=0, ha="right",
                              va="center", labelpad=4)
    fig.subplots_adjust(wspace=0.04, hspace=0.06)
    out.mkdir(parents=True, exist_ok=True)
    name = f"grid_{method}"
    fig.savefig(out / f"{name}.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    row = next(r for r in data.rows if r.key == key)
    caption = (f"{row.label} on {data.protocol}: one person per row (the source emotion in brackets), "
               f"{'the source and ' if sources else ''}each target emotion per column"
               + (f", setting {row.setting}" if row.setting else "") + ".")
    return Figure(name, out / f"{name}.png", caption)

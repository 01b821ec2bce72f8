"""Image grids from saved edits: rows = source images, columns = source + each target (paper Figs. 1, 3–5).

Example:
    >>> import pandas as pd, tempfile, pathlib
    >>> image_grid(pd.DataFrame(), pathlib.Path(tempfile.mkdtemp()), "m") is None
    True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from emobench.labels import TARGET_EMOTIONS


def image_grid(records: pd.DataFrame, out: Path, method: str, max_rows: int = 6, cell: int = 96,
               sources: dict[str, Path] | None = None) -> Path | None:
    """A PNG grid for ``method``: one row per source image (up to ``max_rows``), one column per target.

    ``sources`` maps image ids to a saved source image (the identity method's edit is the
    source itself); without it the first column is left out.
    """
    if records.empty or "output" not in records:
        return None
    df = records[(records["method"] == method) & (records["status"].fillna("ok") == "ok")]
    if df.empty:
        return None
    targets = [t for t in TARGET_EMOTIONS if (df["target"] == t).any()]
    images = list(dict.fromkeys(df["image_id"]))[:max_rows]
    cols = (["source"] if sources else []) + targets
    label_h = 18
    canvas = Image.new("RGB", (cell * len(cols), label_h + cell * len(images)), "white")
    draw = ImageDraw.Draw(canvas)
    for j, name in enumerate(cols):
        draw.text((j * cell + 4, 3), name, fill="black")
    for i, image_id in enumerate(images):
        rows = df[df["image_id"] == image_id]
        for j, name in enumerate(cols):
            if name == "source":
                path = sources.get(image_id) if sources else None
            else:
                hit = rows[rows["target"] == name]
                path = Path(hit.iloc[0]["run_dir"]) / hit.iloc[0]["output"] if len(hit) else None
            if path is None or not Path(path).is_file():
                continue
            with Image.open(path) as img:
                tile = img.convert("RGB").resize((cell, cell), Image.BILINEAR)
            canvas.paste(tile, (j * cell, label_h + i * cell))
    out.mkdir(parents=True, exist_ok=True)
    dest = out / f"grid_{method}.png"
    canvas.save(dest)
    return dest


def source_images(records: pd.DataFrame) -> dict[str, Path]:
    """Sources from an ``identity`` run among the records (its edits are the sources), if any."""
    df = records[records["method"] == "identity"] if "method" in records else records.iloc[0:0]
    out: dict[str, Path] = {}
    for _, row in df.iterrows():
        out.setdefault(row["image_id"], Path(row["run_dir"]) / row["output"])
    return out


__all__ = ["image_grid", "source_images", "np"]

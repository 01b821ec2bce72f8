"""Bootstrap confidence intervals for means, resampling images (not edits).

Edits of the same source image are correlated, so the image is the resampling unit.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"image_id": ["a", "a", "b", "b"], "x": [1.0, 1.0, 3.0, 3.0]})
    >>> lo, hi = bootstrap_ci(df, "x", n_boot=200, seed=0); lo <= 2.0 <= hi
    True
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def bootstrap_ci(frame: pd.DataFrame, column: str, n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                 unit: str = "image_id") -> tuple[float, float]:
    """Percentile bootstrap CI of ``frame[column].mean()`` resampling groups of ``unit``."""
    values = frame[[unit, column]].dropna()
    if values.empty:
        return float("nan"), float("nan")
    groups = values.groupby(unit)[column].agg(["sum", "count"])
    sums, counts = groups["sum"].to_numpy(), groups["count"].to_numpy()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(sums), size=(n_boot, len(sums)))
    means = sums[idx].sum(1) / counts[idx].sum(1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))

"""Exact binomial tests for user-study comparisons, Holm-corrected (paper Table 2 shape).

Example:
    >>> rows = analyze_counts({"ours vs real": (13, 20)})
    >>> rows[0]["proportion"], round(rows[0]["p_two_sided"], 4)
    (0.65, 0.2632)
"""

from __future__ import annotations

from typing import Mapping

from scipy.stats import binomtest


def holm(pvalues: list[float]) -> list[float]:
    """Holm step-down adjusted p-values (monotone, capped at 1), kept exact: no rounding, so a
    p-value of 1e-55 stays 1e-55 (rounding to a fixed number of decimals would print it as 0).

    Example:
        >>> [f"{p:.3g}" for p in holm([0.01, 0.04, 0.03])]
        ['0.03', '0.06', '0.06']
        >>> holm([2e-55, 1e-30])
        [4e-55, 1e-30]
    """
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def analyze_counts(counts: Mapping[str, tuple[int, int]], p0: float = 0.5) -> list[dict]:
    """For each comparison ``name -> (successes, trials)``: proportion, two-sided and one-sided
    (greater) exact binomial p-values against ``p0``, and their Holm-adjusted values."""
    rows = []
    for name, (k, n) in counts.items():
        if n <= 0 or not 0 <= k <= n:
            raise ValueError(f"comparison {name!r}: expected 0 <= successes <= trials and trials > 0, got {k}/{n}")
        rows.append({"comparison": name, "successes": k, "trials": n, "proportion": k / n,
                     "p_two_sided": float(binomtest(k, n, p0, alternative="two-sided").pvalue),
                     "p_greater": float(binomtest(k, n, p0, alternative="greater").pvalue)})
    for key in ("p_two_sided", "p_greater"):
        for row, adj in zip(rows, holm([r[key] for r in rows])):
            row[key + "_holm"] = adj
    return rows

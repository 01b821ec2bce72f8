"""Exact binomial tests and Holm against hand-made references: exact rational tails, no rounding."""

from fractions import Fraction
from math import comb

import pytest
from scipy.stats import binomtest

from emobench.study.analyze import analyze_counts, holm
from emobench.study.results import format_p


def _greater(k, n):
    return sum(comb(n, i) for i in range(k, n + 1)) / 2 ** n


def _pmf(i: int, n: int, p0: Fraction) -> Fraction:
    return comb(n, i) * p0 ** i * (1 - p0) ** (n - i)


def _exact_two_sided(k: int, n: int, p0: Fraction) -> Fraction:
    """Sum of the probabilities of outcomes no more likely than k (scipy's two-sided rule), in exact rationals."""
    pk = _pmf(k, n, p0)
    return min(Fraction(1), sum(q for q in (_pmf(i, n, p0) for i in range(n + 1)) if q <= pk))


def _exact_greater(k: int, n: int, p0: Fraction) -> Fraction:
    return sum(_pmf(i, n, p0) for i in range(k, n + 1))


def _holm_reference(p: list[Fraction]) -> list[Fraction]:
    """Holm written from its definition: adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)), exact rationals."""
    m = len(p)
    ranked = sorted(range(m), key=lambda i: p[i])
    out: list[Fraction] = [Fraction(0)] * m
    for pos, i in enumerate(ranked):
        out[i] = max(min(Fraction(1), (m - j) * p[ranked[j]]) for j in range(pos + 1))
    return out


@pytest.mark.parametrize("k,n", [(13, 20), (7, 10), (30, 40), (5, 10)])
def test_exact_pvalues_match_hand_computed(k, n):
    row = analyze_counts({"c": (k, n)})[0]
    assert row["p_greater"] == pytest.approx(_greater(k, n), rel=1e-12)
    # p0 = 0.5 is symmetric: two-sided = 2 * smaller tail, capped at 1
    tail = min(_greater(k, n), _greater(n - k, n))
    assert row["p_two_sided"] == pytest.approx(min(1.0, 2 * tail), rel=1e-12)


# The paper's Table 2 scale: realism answers out of 168 per comparison, emotion answers out of 162.
REALISM = {"ldm vs ganmut": (141, 168), "ldm vs ganimation": (160, 168), "ldm vs stargan-v2": (166, 168),
           "ldm vs real": (70, 168), "ganmut vs real": (30, 168), "ldm-cgf vs ldm": (90, 168)}
EMOTION = {"ldm": (120, 162), "ldm-cgf": (131, 162), "ganmut": (150, 162), "ganimation": (41, 162),
           "stargan-v2": (158, 162)}


@pytest.mark.parametrize("counts,p0", [(REALISM, Fraction(1, 2)), (EMOTION, Fraction(1, 6))])
def test_table2_scale_against_scipy_and_an_exact_holm(counts, p0):
    rows = {r["comparison"]: r for r in analyze_counts(counts, p0=float(p0))}
    exact = {"p_two_sided": {c: _exact_two_sided(k, n, p0) for c, (k, n) in counts.items()},
             "p_greater": {c: _exact_greater(k, n, p0) for c, (k, n) in counts.items()}}
    for key, reference in exact.items():
        names = list(counts)
        adjusted = dict(zip(names, _holm_reference([reference[c] for c in names])))
        for c, (k, n) in counts.items():
            alternative = "two-sided" if key == "p_two_sided" else "greater"
            scipy_p = binomtest(k, n, float(p0), alternative=alternative).pvalue
            assert rows[c][key] == scipy_p  # the very float scipy gives, unrounded
            assert rows[c][key] == pytest.approx(float(reference[c]), rel=1e-9), (c, key)
            assert rows[c][key + "_holm"] == pytest.approx(float(adjusted[c]), rel=1e-9), (c, key)
    # The tiny ones stay tiny (they used to be rounded to 12 decimals and print as 0).
    smallest = min(r["p_two_sided_holm"] for r in rows.values())
    assert 0 < smallest < 1e-30
    assert format_p(smallest) != "0.00e+00" and "e-" in format_p(smallest)


def test_holm_is_exact_at_1e_30():
    p = [1e-30, 2.5e-31, 7e-55, 3e-30, 0.02]
    reference = _holm_reference([Fraction(x) for x in p])
    got = holm(p)
    for g, r in zip(got, reference):
        assert g == pytest.approx(float(r), rel=1e-12)
    assert got[2] == pytest.approx(3.5e-54, rel=1e-12) and got[1] == pytest.approx(1e-30, rel=1e-12)


def test_holm_and_errors():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06], rel=1e-12)
    assert holm([0.5, 0.9]) == [1.0, 1.0]  # capped at 1, monotone
    with pytest.raises(ValueError, match="successes"):
        analyze_counts({"bad": (5, 3)})

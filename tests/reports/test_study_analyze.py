from math import comb

import pytest

from emobench.study.analyze import analyze_counts, holm


def _greater(k, n):
    return sum(comb(n, i) for i in range(k, n + 1)) / 2 ** n


@pytest.mark.parametrize("k,n", [(13, 20), (7, 10), (30, 40), (5, 10)])
def test_exact_pvalues_match_hand_computed(k, n):
    row = analyze_counts({"c": (k, n)})[0]
    assert row["p_greater"] == pytest.approx(_greater(k, n), rel=1e-12)
    # p0 = 0.5 is symmetric: two-sided = 2 * smaller tail, capped at 1
    tail = min(_greater(k, n), _greater(n - k, n))
    assert row["p_two_sided"] == pytest.approx(min(1.0, 2 * tail), rel=1e-12)


def test_holm_and_errors():
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
    with pytest.raises(ValueError, match="successes"):
        analyze_counts({"bad": (5, 3)})

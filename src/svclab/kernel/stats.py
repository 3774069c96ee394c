"""Pearson's chi-square test, small and exact enough for the lab's fixed-size samples (no SciPy).

>>> round(chi2_sf(27.631, 2), 8)  # the 1e-6 critical value for two degrees of freedom
1e-06
>>> round(chi2_sf(3.841, 1), 3), round(chi2_sf(0.0, 4), 3)
(0.05, 1.0)
>>> stat, df, p = goodness_of_fit({"a": 52, "b": 48}, {"a": 0.5, "b": 0.5})
>>> round(stat, 2), df, round(p, 3)
(0.16, 1, 0.689)
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X chi-square with `df` degrees of freedom.

    Uses Q(s + 1, y) = Q(s, y) + y^s e^-y / Gamma(s + 1) for the regularized upper incomplete
    gamma function Q(df/2, x/2), starting from Q(1, y) = e^-y or Q(1/2, y) = erfc(sqrt(y)).
    """
    if x <= 0:
        return 1.0
    y = x / 2
    s, q = (0.5, math.erfc(math.sqrt(y))) if df % 2 else (1.0, math.exp(-y))
    while s < df / 2:
        q += math.exp(s * math.log(y) - y - math.lgamma(s + 1))
        s += 1
    return min(q, 1.0)


def goodness_of_fit(
    observed: Mapping[str, int], expected: Mapping[str, float]
) -> tuple[float, int, float]:
    """(statistic, degrees of freedom, p-value) of `observed` counts against probabilities.

    Categories outside `expected` are the caller's to reject: they make no sense here.
    """
    total = sum(observed.values())
    statistic = sum(
        (observed.get(k, 0) - total * p) ** 2 / (total * p) for k, p in expected.items() if p > 0
    )
    df = sum(1 for p in expected.values() if p > 0) - 1
    return statistic, df, chi2_sf(statistic, df) if df > 0 else 1.0

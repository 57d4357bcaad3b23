"""Two-sample tests on small aggregates and bounded samples, through scipy, so results
equal scipy's on the same rows. Every result is {test, statistic, p_value, significant}
with significance at `ALPHA`; a test that cannot run (too few values) gives None values."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

ALPHA = 0.05


def _result(test: str, statistic: float | None, p_value: float | None, **extra: Any) -> dict[str, Any]:
    return {
        "test": test, "statistic": statistic, "p_value": p_value,
        "significant": p_value is not None and bool(p_value < ALPHA), **extra,
    }


def ks(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Two-sample Kolmogorov-Smirnov (`scipy.stats.ks_2samp`, method auto)."""
    if len(a) == 0 or len(b) == 0:
        return _result("ks", None, None, n_a=len(a), n_b=len(b))
    found = stats.ks_2samp(a, b)
    return _result("ks", float(found.statistic), float(found.pvalue), n_a=len(a), n_b=len(b))


def mann_whitney(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Mann-Whitney U, two-sided (`scipy.stats.mannwhitneyu`, method auto)."""
    if len(a) == 0 or len(b) == 0:
        return _result("mann_whitney_u", None, None, n_a=len(a), n_b=len(b))
    found = stats.mannwhitneyu(a, b, alternative="two-sided")
    return _result("mann_whitney_u", float(found.statistic), float(found.pvalue), n_a=len(a), n_b=len(b))


def chi_squared(table: list[list[int]], test: str = "chi_squared") -> dict[str, Any]:
    """Chi-squared test of independence on a 2 x k contingency table
    (`scipy.stats.chi2_contingency`, no continuity correction; for a 2 x 2 table this is the
    two-proportion z-test squared). Columns empty in both rows are dropped; with fewer than
    two columns left the rows cannot differ: statistic 0, p-value 1."""
    matrix = np.asarray(table, dtype=np.int64)
    if matrix.ndim != 2 or matrix.shape[0] != 2 or (matrix.sum(axis=1) == 0).any():
        return _result(test, None, None)
    matrix = matrix[:, matrix.sum(axis=0) > 0]
    if matrix.shape[1] < 2:
        return _result(test, 0.0, 1.0)
    found = stats.chi2_contingency(matrix, correction=False)
    return _result(test, float(found.statistic), float(found.pvalue))


def two_proportions(hits_a: int, n_a: int, hits_b: int, n_b: int) -> dict[str, Any]:
    """Difference of two proportions (b - a) with the chi-squared (= two-proportion z) test."""
    found = chi_squared([[hits_a, n_a - hits_a], [hits_b, n_b - hits_b]], "two_proportion_chi_squared")
    rate_a = hits_a / n_a if n_a else None
    rate_b = hits_b / n_b if n_b else None
    diff = rate_b - rate_a if rate_a is not None and rate_b is not None else None
    return {**found, "a": rate_a, "b": rate_b, "difference": diff}


def benjamini_hochberg(p_values: list[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order; None stays None.
    Flagging q < alpha keeps the expected share of false flags among flags at alpha, and
    the chance of any flag when nothing changed (every null true) at most alpha."""
    known = [(i, p) for i, p in enumerate(p_values) if p is not None and not np.isnan(p)]
    adjusted: list[float | None] = [None] * len(p_values)
    if known:
        found = stats.false_discovery_control([p for _, p in known], method="bh")
        for (i, _), q in zip(known, found):
            adjusted[i] = float(q)
    return adjusted


def binomial_excess(hits: int, n: int, rate: float) -> float | None:
    """One-sided p-value of at least `hits` of `n` when each has probability `rate`
    (`scipy.stats.binom.sf`); None without values."""
    if n <= 0:
        return None
    if rate <= 0:
        return 0.0 if hits > 0 else 1.0
    return float(stats.binom.sf(hits - 1, n, min(rate, 1.0)))


def fisher_greater(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float | None:
    """One-sided Fisher exact p-value that b's rate exceeds a's (`scipy.stats.fisher_exact`,
    alternative 'less' on [[a hits, a misses], [b hits, b misses]]); exact at any count,
    where the chi-squared approximation is not (a few missing values among 30)."""
    if n_a <= 0 or n_b <= 0:
        return None
    table = [[hits_a, n_a - hits_a], [hits_b, n_b - hits_b]]
    return float(stats.fisher_exact(table, alternative="less").pvalue)

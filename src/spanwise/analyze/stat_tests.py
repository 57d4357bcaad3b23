"""Two-sample tests on small aggregates and bounded samples, through scipy, so results
equal scipy's on the same rows. Every test gives a `TwoSampleTest`, significant at `ALPHA`;
a test that cannot run (too few values) gives None statistic and p-value."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05


@dataclass(frozen=True)
class TwoSampleTest:
    """One test of whether two groups differ: which test, its statistic and p-value (None
    when it could not run), and the size of each group (values of a sample, or a
    contingency table row's total)."""

    test: str
    statistic: float | None
    p_value: float | None
    n_a: int
    n_b: int

    @property
    def significant(self) -> bool:
        return self.p_value is not None and bool(self.p_value < ALPHA)


@dataclass(frozen=True)
class RateDifference:
    """Two groups' rates of hits (None for an empty group), and the test of their
    difference (whose `n_a`, `n_b` are the groups' sizes)."""

    a: float | None
    b: float | None
    test: TwoSampleTest

    @property
    def difference(self) -> float | None:
        """b - a, None unless both groups have members."""
        return self.b - self.a if self.a is not None and self.b is not None else None


def ks(a: np.ndarray, b: np.ndarray) -> TwoSampleTest:
    """Two-sample Kolmogorov-Smirnov (`scipy.stats.ks_2samp`, method auto)."""
    if len(a) == 0 or len(b) == 0:
        return TwoSampleTest("ks", None, None, len(a), len(b))
    found = stats.ks_2samp(a, b)
    return TwoSampleTest("ks", float(found.statistic), float(found.pvalue), len(a), len(b))


def mann_whitney(a: np.ndarray, b: np.ndarray) -> TwoSampleTest:
    """Mann-Whitney U, two-sided (`scipy.stats.mannwhitneyu`, method auto)."""
    if len(a) == 0 or len(b) == 0:
        return TwoSampleTest("mann_whitney_u", None, None, len(a), len(b))
    found = stats.mannwhitneyu(a, b, alternative="two-sided")
    return TwoSampleTest("mann_whitney_u", float(found.statistic), float(found.pvalue), len(a), len(b))


def chi_squared(a: list[int], b: list[int], test: str = "chi_squared") -> TwoSampleTest:
    """Chi-squared test of independence of two rows of counts over the same categories
    (`scipy.stats.chi2_contingency` on the 2 x k table, no continuity correction; for a
    2 x 2 table this is the two-proportion z-test squared). Categories empty in both rows
    are dropped; with fewer than two left the rows cannot differ: statistic 0, p-value 1."""
    matrix = np.asarray([a, b], dtype=np.int64)
    n_a, n_b = (int(n) for n in matrix.sum(axis=1))
    if not n_a or not n_b:
        return TwoSampleTest(test, None, None, n_a, n_b)
    matrix = matrix[:, matrix.sum(axis=0) > 0]
    if matrix.shape[1] < 2:
        return TwoSampleTest(test, 0.0, 1.0, n_a, n_b)
    found = stats.chi2_contingency(matrix, correction=False)
    return TwoSampleTest(test, float(found.statistic), float(found.pvalue), n_a, n_b)


def two_proportions(hits_a: int, n_a: int, hits_b: int, n_b: int) -> RateDifference:
    """Rates of two groups and the chi-squared (= two-proportion z) test of their difference."""
    found = chi_squared([hits_a, n_a - hits_a], [hits_b, n_b - hits_b], "two_proportion_chi_squared")
    return RateDifference(hits_a / n_a if n_a else None, hits_b / n_b if n_b else None, found)


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

"""Edge cases of the two-sample tests (scipy on the same values elsewhere: contract tests)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from spanwise.analyze.stat_tests import RateDifference, TwoSampleTest, chi_squared, ks, mann_whitney, two_proportions


def test_empty_samples_give_no_result_and_are_not_significant() -> None:
    for result in (ks(np.empty(0), np.ones(3)), mann_whitney(np.ones(2), np.empty(0)), chi_squared([], [])):
        assert result.statistic is None and result.p_value is None and result.significant is False
    assert (ks(np.empty(0), np.ones(3)).n_a, ks(np.empty(0), np.ones(3)).n_b) == (0, 3)


def test_rows_that_cannot_differ() -> None:
    found = two_proportions(0, 10, 0, 20)
    assert found == RateDifference(0.0, 0.0, TwoSampleTest("two_proportion_chi_squared", 0.0, 1.0, 10, 20))
    assert found.difference == 0.0 and not found.test.significant
    empty = two_proportions(0, 0, 1, 2)  # no predictions in a
    assert empty.test.p_value is None and (empty.a, empty.b, empty.difference) == (None, 0.5, None)


def test_values_equal_scipy() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 300), rng.normal(0.3, 1, 200)
    assert ks(a, b).p_value == stats.ks_2samp(a, b).pvalue
    assert mann_whitney(a, b).statistic == stats.mannwhitneyu(a, b, alternative="two-sided").statistic
    found = two_proportions(30, 100, 45, 100)
    want = stats.chi2_contingency([[30, 70], [45, 55]], correction=False)
    assert found.test.p_value == pytest.approx(want.pvalue) and found.test.significant
    assert found.difference == pytest.approx(0.15)

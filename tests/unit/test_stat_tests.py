"""Edge cases of the two-sample tests (scipy on the same values elsewhere: contract tests)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from spanwise.analyze.stat_tests import chi_squared, ks, mann_whitney, two_proportions


def test_empty_samples_give_no_result_and_are_not_significant() -> None:
    for result in (ks(np.empty(0), np.ones(3)), mann_whitney(np.ones(2), np.empty(0)), chi_squared([])):
        assert result["statistic"] is None and result["p_value"] is None and result["significant"] is False


def test_rows_that_cannot_differ() -> None:
    assert two_proportions(0, 10, 0, 20) == {
        "test": "two_proportion_chi_squared", "statistic": 0.0, "p_value": 1.0, "significant": False,
        "a": 0.0, "b": 0.0, "difference": 0.0,
    }
    assert two_proportions(0, 0, 1, 2)["p_value"] is None  # no predictions in a


def test_values_equal_scipy() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 300), rng.normal(0.3, 1, 200)
    assert ks(a, b)["p_value"] == stats.ks_2samp(a, b).pvalue
    assert mann_whitney(a, b)["statistic"] == stats.mannwhitneyu(a, b, alternative="two-sided").statistic
    found = two_proportions(30, 100, 45, 100)
    want = stats.chi2_contingency([[30, 70], [45, 55]], correction=False)
    assert found["p_value"] == pytest.approx(want.pvalue) and found["significant"] and found["difference"] == pytest.approx(0.15)

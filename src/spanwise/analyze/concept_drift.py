"""Concept drift: did the relation between inputs and target change? Reported apart from
data drift (which compares inputs only): it compares the model's errors on labelled
predictions of the current window with those of a reference window (by default the
preceding window of equal length), overall and per segment.

- Classification: the error rate (label != predicted label), tested with Pearson's
  chi-squared on the 2x2 table [errors, correct] x [reference, current] without Yates'
  correction (`scipy.stats.chi2_contingency(..., correction=False)`; equal to the pooled
  two-proportion z-test, z^2 = chi^2).
- Regression: the absolute error |y - y_hat|, tested with the two-sided Mann-Whitney U
  (`scipy.stats.mannwhitneyu(current, reference, method="asymptotic")`: normal
  approximation with tie and continuity correction), computed from U and tie counts the
  store derives.

Segments are the values of categorical features (StringFeatures) with at least
`min_count` labelled predictions in both windows. `alpha` is split between the overall
test and the segments (Bonferroni): the overall test is flagged below `alpha` / 2, a
segment below `alpha` / (2 x number of segments tested); `p_value_adjusted` is the p-value
times that factor (capped at 1). `concept_drift` is true when any is, so a window whose
errors did not change is flagged with probability at most `alpha` however many segments
are tested (flagging the overall test at `alpha` and the segments at `alpha` / tested
allowed up to 2 x alpha). scipy only sees one row per segment.
"""

from __future__ import annotations

import math
from typing import Any

from scipy import stats

from spanwise.core.ml_tasks import CLASSIFICATION, REGRESSION
from spanwise.store.protocols import ErrorShiftCounts

DEFAULT_ALPHA = 0.05
DEFAULT_MIN_COUNT = 30


def error_rate_test(errors_ref: int, n_ref: int, errors_cur: int, n_cur: int) -> tuple[float | None, float | None]:
    """(chi-squared, p-value) of the 2x2 table; (None, None) when a window has no rows,
    (0.0, 1.0) when both windows are all errors or all correct (nothing can differ)."""
    if n_ref == 0 or n_cur == 0:
        return None, None
    table = [[errors_ref, n_ref - errors_ref], [errors_cur, n_cur - errors_cur]]
    if errors_ref + errors_cur in (0, n_ref + n_cur):
        return 0.0, 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def mann_whitney_test(u_current: float, n_ref: int, n_cur: int, tie_term: float) -> tuple[float | None, float | None]:
    """(U of the current errors, two-sided p-value) as `scipy.stats.mannwhitneyu(current,
    reference, method="asymptotic")` computes them from U and the tie term."""
    if n_ref == 0 or n_cur == 0:
        return None, None
    n = n_ref + n_cur
    mu = n_ref * n_cur / 2
    variance = n_ref * n_cur / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return u_current, 1.0
    z = (max(u_current, n_ref * n_cur - u_current) - mu - 0.5) / math.sqrt(variance)
    return u_current, float(min(max(2 * stats.norm.sf(z), 0.0), 1.0))


def concept_drift(counts: list[ErrorShiftCounts], task: str, alpha: float = DEFAULT_ALPHA) -> dict[str, Any]:
    """The overall shift (first row) and per-segment shifts, flags Bonferroni-corrected
    across both (see the module docstring)."""
    overall, segments = counts[0], counts[1:]
    first = _shift(overall, task)
    first["p_value_adjusted"] = min(1.0, first["p_value"] * 2) if first["p_value"] is not None else None
    first["drift"] = first["p_value"] is not None and first["p_value"] < alpha / 2
    tested = len(segments)
    found = []
    for row in segments:
        shift = {"feature": row.feature, "value": row.value, **_shift(row, task)}
        p = shift["p_value"]
        shift["p_value_adjusted"] = min(1.0, p * 2 * tested) if p is not None else None
        shift["drift"] = p is not None and p < alpha / (2 * tested)
        found.append(shift)
    flagged = [s for s in found if s["drift"]]
    return {
        "task": task, "alpha": alpha, "test": "chi2" if task == CLASSIFICATION else "mann_whitney_u",
        "concept_drift": first["drift"] or bool(flagged),
        "overall": first, "segments_tested": tested, "segments_flagged": len(flagged), "segments": found,
    }


def _shift(row: ErrorShiftCounts, task: str) -> dict[str, Any]:
    result: dict[str, Any] = {"reference_labelled": row.n_reference, "current_labelled": row.n_current}
    if task == REGRESSION:
        u, p = mann_whitney_test(row.u_current, row.n_reference, row.n_current, row.tie_term)
        result.update(
            reference_mae=row.error_sum_reference / row.n_reference if row.n_reference else None,
            current_mae=row.error_sum_current / row.n_current if row.n_current else None,
            statistic=u, p_value=p,
        )
    else:
        chi2, p = error_rate_test(row.errors_reference, row.n_reference, row.errors_current, row.n_current)
        result.update(
            reference_error_rate=row.errors_reference / row.n_reference if row.n_reference else None,
            current_error_rate=row.errors_current / row.n_current if row.n_current else None,
            statistic=chi2, p_value=p,
        )
    return result

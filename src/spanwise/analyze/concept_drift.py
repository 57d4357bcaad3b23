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
times that factor (capped at 1). The report is `drifted` (the API's `concept_drift`) when
any is, so a window whose errors did not change is flagged with probability at most
`alpha` however many segments are tested (flagging the overall test at `alpha` and the
segments at `alpha` / tested allowed up to 2 x alpha). scipy only sees one row per segment.

The results are values (`ConceptDriftReport`); their wire form is `serve/labelled_json.py`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from spanwise.core.ml_tasks import CLASSIFICATION, REGRESSION
from spanwise.store.protocols import ConceptWindows, ErrorShiftCounts

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


@dataclass(frozen=True)
class ErrorShift:
    """How the model's errors moved between the windows, over all labelled predictions or
    one segment's. The error is the error rate (classification) or the mean absolute error
    (regression), None for a window without labelled predictions; `statistic` and
    `p_value` are the task's test (None when a window is empty), `p_value_adjusted` the
    p-value times the Bonferroni factor (capped at 1), and `drifted` whether the p-value
    is below alpha over that factor."""

    reference_labelled: int
    current_labelled: int
    reference_error: float | None
    current_error: float | None
    statistic: float | None
    p_value: float | None
    p_value_adjusted: float | None
    drifted: bool


@dataclass(frozen=True)
class SegmentShift:
    """The error shift of the predictions whose categorical feature `feature` is `value`."""

    feature: str
    value: str
    shift: ErrorShift


@dataclass(frozen=True)
class ConceptDriftReport:
    """The windows compared, the overall shift and the shift of each segment tested."""

    windows: ConceptWindows
    alpha: float
    overall: ErrorShift
    segments: tuple[SegmentShift, ...]

    @property
    def task(self) -> str:
        return self.windows.task

    @property
    def test(self) -> str:
        return "chi2" if self.task == CLASSIFICATION else "mann_whitney_u"

    @property
    def flagged(self) -> list[SegmentShift]:
        return [s for s in self.segments if s.shift.drifted]

    @property
    def drifted(self) -> bool:
        """The overall test or any segment flagged: concept drift in the current window."""
        return self.overall.drifted or bool(self.flagged)


def concept_drift(windows: ConceptWindows, counts: list[ErrorShiftCounts], alpha: float = DEFAULT_ALPHA) -> ConceptDriftReport:
    """The overall shift (first row of `counts`) and per-segment shifts, flags
    Bonferroni-corrected across both (see the module docstring)."""
    overall, segments = counts[0], counts[1:]
    factor = 2 * len(segments)
    return ConceptDriftReport(
        windows, alpha, _shift(overall, windows.task, alpha, 2),
        tuple(SegmentShift(row.feature, row.value, _shift(row, windows.task, alpha, factor)) for row in segments),
    )


def _shift(row: ErrorShiftCounts, task: str, alpha: float, factor: int) -> ErrorShift:
    """The shift of one row, flagged below `alpha` / `factor`."""
    if task == REGRESSION:
        statistic, p = mann_whitney_test(row.u_current, row.n_reference, row.n_current, row.tie_term)
        reference = row.error_sum_reference / row.n_reference if row.n_reference else None
        current = row.error_sum_current / row.n_current if row.n_current else None
    else:
        statistic, p = error_rate_test(row.errors_reference, row.n_reference, row.errors_current, row.n_current)
        reference = row.errors_reference / row.n_reference if row.n_reference else None
        current = row.errors_current / row.n_current if row.n_current else None
    return ErrorShift(
        row.n_reference, row.n_current, reference, current, statistic, p,
        min(1.0, p * factor) if p is not None else None, p is not None and p < alpha / factor,
    )

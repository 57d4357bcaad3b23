"""A rule's series stays cheap: bounded points and reads, never finer than the rule's interval."""

from __future__ import annotations

from spanwise.alerts.series import MAX_POINTS, MAX_READS, _thresholds, _times
from spanwise.core.alert_rules import AlertCondition, AlertQuery, AlertRule

S = 10**9


def _rule(condition: AlertCondition, interval_s: float = 60.0) -> AlertRule:
    return AlertRule("r", AlertQuery("span_metric", "rate"), condition, interval_s)


def test_points_are_bounded_by_the_budget_and_the_interval() -> None:
    day = _times(_rule(AlertCondition()), 0, 86_400 * S)
    assert len(day) == MAX_POINTS and day[-1] == 86_400 * S and day == sorted(day)
    anomaly = _times(_rule(AlertCondition(type="anomaly", threshold=4, baseline_days=7)), 0, 86_400 * S)
    assert len(anomaly) * 8 <= MAX_READS
    short = _times(_rule(AlertCondition(), interval_s=60), 0, 300 * S)
    assert [t // S for t in short] == [0, 60, 120, 180, 240, 300]
    assert _times(_rule(AlertCondition()), 5 * S, 5 * S) == [5 * S]


def test_threshold_lines_follow_the_condition() -> None:
    assert _thresholds(AlertCondition(op="outside", low=1, high=2)) == [
        {"name": "low", "value": 1, "op": "<"}, {"name": "high", "value": 2, "op": ">"}]
    assert _thresholds(AlertCondition(op="<", threshold=0.8)) == [{"name": "threshold", "value": 0.8, "op": "<"}]

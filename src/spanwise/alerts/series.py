"""A rule's evaluated series: what its condition compared, per label set, at points over a
past range, with the lines it compared against (for the Alerts page's chart).

The rule is evaluated again at each point with the same condition code the engine runs
(`conditions.evaluate`), so the values are those the rule saw or would have seen (a rule
made a minute ago shows the last hour too). History keeps only state changes, not values,
so re-evaluating is the one way to draw a line. It is kept cheap: at most `MAX_POINTS`
points and `MAX_READS` store reads per request (an anomaly rule reads its baseline days at
every point, so it gets fewer points), at most `MAX_SERIES` label sets, and reads go
through a `Sources` of their own (the engine's cycle cache is not shared across threads).
"""

from __future__ import annotations

from typing import Any

from spanwise.alerts import conditions
from spanwise.alerts.sources import Labels, Sources
from spanwise.core.alert_rules import AlertCondition, AlertRule

MAX_POINTS = 60
MAX_READS = 120
MAX_SERIES = 50


def rule_series(rule: AlertRule, sources: Sources, start_ns: int, end_ns: int) -> dict[str, Any]:
    """`{"points": [t_ns...], "series": [{"labels", "values"}], "thresholds": [...], ...}`;
    a value is None where the label set had no data or too little to judge."""
    times = _times(rule, start_ns, end_ns)
    found: dict[Labels, dict[int, float | None]] = {}
    truncated = False
    for at in times:
        sources.new_cycle()
        for result in conditions.evaluate(rule, sources, at, set()):
            if result.labels not in found and len(found) >= MAX_SERIES:
                truncated = True
                continue
            found.setdefault(result.labels, {})[at] = result.value if result.judged else None
    series = [{"labels": dict(labels), "values": [values.get(at) for at in times]}
              for labels, values in sorted(found.items())]
    return {"rule": rule.name, "points": times, "series": series, "truncated": truncated,
            "value": _what(rule.condition), "thresholds": _thresholds(rule.condition),
            "window_s": rule.query.window_s, "step_ns": times[1] - times[0] if len(times) > 1 else 0}


def _times(rule: AlertRule, start_ns: int, end_ns: int) -> list[int]:
    """Evaluation instants from `end` back towards `start`, at least the rule's interval
    apart, within the point and read budgets; oldest first."""
    reads = {"threshold": 1, "absence": 2, "rate_of_change": 2}.get(rule.condition.type,
                                                                   1 + rule.condition.baseline_days)
    points = max(1, min(MAX_POINTS, MAX_READS // reads))
    span = max(0, end_ns - start_ns)
    step = max(int(rule.interval_s * 1e9), span // points, 1)
    count = min(points, span // step + 1)
    return [end_ns - i * step for i in range(count - 1, -1, -1)]


def _what(c: AlertCondition) -> str:
    """What the values are: the query's value, or what the condition derived from it."""
    return {"rate_of_change": "relative change against the previous window",
            "anomaly": "robust z-score against the same window on the previous days",
            "absence": "1 with data, 0 without"}.get(c.type, "query value")


def _thresholds(c: AlertCondition) -> list[dict[str, Any]]:
    """The lines to draw: where an alert starts and, with hysteresis, where it resolves."""
    if c.type == "absence":
        return [{"name": "data", "value": 0.5, "op": "<"}]
    if c.op == "outside":
        return [{"name": "low", "value": c.low, "op": "<"}, {"name": "high", "value": c.high, "op": ">"}]
    lines = [{"name": "threshold", "value": c.threshold, "op": c.op}]
    if c.resolve_threshold is not None:
        lines.append({"name": "resolve", "value": c.resolve_threshold, "op": c.op})
    return lines

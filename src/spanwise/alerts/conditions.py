"""Conditions: from a rule's samples to "active or not" per label set.

Anomaly uses a robust seasonal baseline: the same window on each of the previous
`baseline_days` days, summarised by its median and MAD (median absolute deviation, scaled
by 1.4826 to estimate a standard deviation); the condition compares the robust z-score
(value - median) / scale. The scale is floored at 5% of |median| so a perfectly flat
history does not turn a small wobble into an infinite score, and days (and the current
window) with fewer than `min_samples` events are not used, so quiet hours do not page.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from spanwise.alerts.sources import Labels, Sample, Sources
from spanwise.core.alert_rules import AlertCondition, AlertQuery, AlertRule

DAY_NS = 86_400 * 10**9
MAD_SCALE = 1.4826
MIN_SCALE_SHARE = 0.05


@dataclass(frozen=True)
class Result:
    """One label set after a condition: the value the condition compared, and whether it
    holds. `judged` is False when there was too little data to say (fewer than
    `min_samples` events, too short a history): an alert then keeps its state."""

    labels: Labels
    value: float
    active: bool
    judged: bool = True


def evaluate(rule: AlertRule, sources: Sources, now_ns: int, active: set[Labels]) -> list[Result]:
    """Results for every label set with data, plus every label set in `active` (those
    without data now are inactive, except under `absence`, where no data is the point)."""
    q, c = rule.query, rule.condition
    window = int(q.window_s * 1e9)
    start = now_ns - window
    if c.type == "absence":
        return _absence(q, c, sources, start, now_ns, active)
    current = {s.labels: s for s in sources.read(q, start, now_ns)}
    if c.type == "threshold":
        results = [_judge(c, s.labels, s.value, s.count, s.labels in active) for s in current.values()]
    elif c.type == "rate_of_change":
        before = {s.labels: s for s in sources.read(q, start - window, start)}
        results = [_change(c, s, before.get(s.labels), s.labels in active) for s in current.values()]
    else:
        days = [{s.labels: s for s in sources.read(q, start - d * DAY_NS, now_ns - d * DAY_NS)}
                for d in range(1, c.baseline_days + 1)]
        results = [_anomaly(c, s, [day[s.labels] for day in days if s.labels in day], s.labels in active)
                   for s in current.values()]
    seen = {r.labels for r in results}
    return results + [Result(labels, 0.0, False) for labels in sorted(active - seen)]


def breaches(c: AlertCondition, value: float, was_active: bool) -> bool:
    """Whether `value` is bad; an active alert stays active until the value is back past
    `resolve_threshold` (hysteresis), a new one needs `threshold`."""
    if c.op == "outside":
        return value < (c.low or 0.0) or value > (c.high or 0.0)
    line = c.resolve_threshold if was_active and c.resolve_threshold is not None else c.threshold
    return value > line if c.op == ">" else value < line


def _judge(c: AlertCondition, labels: Labels, value: float, count: int, was_active: bool) -> Result:
    if count < c.min_samples:
        return Result(labels, value, False, judged=False)
    return Result(labels, value, breaches(c, value, was_active))


def _change(c: AlertCondition, now: Sample, before: Sample | None, was_active: bool) -> Result:
    """Relative change against the previous window; no earlier data, no change to judge."""
    if before is None or before.value == 0 or before.count < c.min_samples:
        return Result(now.labels, 0.0, False, judged=False)
    return _judge(c, now.labels, (now.value - before.value) / abs(before.value), now.count, was_active)


def _anomaly(c: AlertCondition, now: Sample, history: list[Sample], was_active: bool) -> Result:
    values = [s.value for s in history if s.count >= max(1, c.min_samples)]
    if len(values) < c.min_baseline or now.count < c.min_samples:
        return Result(now.labels, 0.0, False, judged=False)
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    scale = max(MAD_SCALE * mad, MIN_SCALE_SHARE * abs(median), 1e-9)
    return _judge(c, now.labels, (now.value - median) / scale, now.count, was_active)


def _absence(q: AlertQuery, c: AlertCondition, sources: Sources, start: int, end: int,
             active: set[Labels]) -> list[Result]:
    """Active for each expected label set without events now. Expected: the one a filter
    names (service, or model), else every label set seen in `lookback_s` before the window,
    and those already active."""
    now = {s.labels for s in sources.read(q, start, end) if s.count > 0}
    expected = set(active)
    target = _named_target(q)
    if target:
        expected.add(target)
    else:
        expected |= {s.labels for s in sources.read(q, start - int(c.lookback_s * 1e9), start) if s.count > 0}
    return [Result(labels, 0.0 if labels not in now else 1.0, labels not in now) for labels in sorted(expected)]


def _named_target(q: AlertQuery) -> Labels:
    """The label set a filtered query would produce, when the filter pins exactly one."""
    if q.group_by:
        return ()
    if q.kind == "otlp_metric":
        return (("service", q.service),) if q.service else ()
    if q.kind in ("span_metric", "logs") and q.service and not q.operation and q.by != "operation":
        return (("service", q.service),)
    if q.kind == "span_metric" and q.service and q.operation:
        return (("operation", q.operation), ("service", q.service))
    if q.kind == "model_metric" and q.model and q.version:
        return (("model", q.model), ("version", q.version))
    return ()

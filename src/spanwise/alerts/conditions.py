"""Conditions: from a rule's samples to "active or not" per label set.

Anomaly compares the window's value with the same window on each of the previous
`baseline_days` days: z = (value - median of the days) / scale, `op` threshold. A plain
robust z-score (median and MAD of a week of days) fires on unchanged data: a handful of
days often look flatter than they are, most of all with few events (most days exactly one
error), and it ignores that the current window is a sample too. So the scale is built from
what makes an ordinary window differ from the median:

- Sampling noise, where the metric's nature gives it: an error rate of n requests varies by
  the binomial sqrt(p(1-p)/n), a count or rate by the Poisson sqrt(events), at the days'
  median level (at least one event: a history without errors does not make the first error
  infinitely surprising). Latency quantiles, OTLP and custom metrics' gauges, sums and
  histogram quantiles, and model signals have none we can know from their value and count:
  for them it is 0.
  The median of k days is uncertain too (by about sqrt(pi/2k) of a day's spread), so the
  noise counts sqrt(1 + pi/2k) times.
- The days' spread beyond their own sampling noise (real day-to-day variation): the
  root-mean-square distance of the days from their median, leaving out the farthest day once
  there are 5 or more (one incident day does not deafen the rule for a week), scaled to a
  standard deviation. Measured on a few days it is often much smaller than the truth by
  chance, so it is widened as Student's t widens the normal: by 1 + 3/(m - 2) for m days
  (x1.75 for a week, x1.12 for four weeks). The factors come from simulations of normal
  days (on them z passes 2.58 in about 0.5% of windows at most, as a true z-score does);
  tests/unit/test_alert_anomaly_calibration.py checks the false alarms and the power on
  error rates, latency quantiles and counts.
- At least 5% of |median|, so a perfectly flat history does not make a small wobble an
  alarm.

A spread needs three days, so fewer than three usable days (days, and the current window,
with fewer than `min_samples` events are not used, so quiet hours do not page) are too
little to judge, whatever `min_baseline` says.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from spanwise.alerts.sources import Labels, Sample, Sources
from spanwise.core.alert_rules import AlertCondition, AlertQuery, AlertRule

DAY_NS = 86_400 * 10**9
MIN_SCALE_SHARE = 0.05
MIN_SPREAD_DAYS = 3


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
        results = [_anomaly(c, q, s, [day[s.labels] for day in days if s.labels in day], s.labels in active)
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


def _anomaly(c: AlertCondition, q: AlertQuery, now: Sample, history: list[Sample], was_active: bool) -> Result:
    """z = (value - median of the days) / scale, the scale as the module docstring says."""
    days = [s for s in history if s.count >= max(1, c.min_samples)]
    if len(days) < max(c.min_baseline, MIN_SPREAD_DAYS) or now.count < c.min_samples:
        return Result(now.labels, 0.0, False, judged=False)
    median = statistics.median(s.value for s in days)
    spread, widening = _spread([s.value for s in days], median)
    days_noise = _sampling_sd(q, median, statistics.median(s.count for s in days))
    noise = _sampling_sd(q, median, now.count) * math.sqrt(1 + math.pi / (2 * len(days)))
    scale = max(noise + widening * max(0.0, spread - days_noise), MIN_SCALE_SHARE * abs(median), 1e-9)
    return _judge(c, now.labels, (now.value - median) / scale, now.count, was_active)


def _spread(values: list[float], median: float) -> tuple[float, float]:
    """The days' spread around their median as a standard deviation, and the factor that
    widens it for the few days it rests on (see the module docstring). The days kept are the
    nearer ones, so their root-mean-square distance is scaled up: x(1 + 3.5/k) with the
    farthest of k days left out, x(1 + 1.1/k) with all kept (simulated normal days)."""
    distances = sorted(abs(v - median) for v in values)
    k = len(values)
    if k >= 5:
        distances, bias = distances[:-1], 1 + 3.5 / k
    else:
        bias = 1 + 1.1 / k
    rms = math.sqrt(sum(d * d for d in distances) / len(distances))
    return bias * rms, 1 + 3 / (len(distances) - 2)


def _sampling_sd(q: AlertQuery, level: float, count: float) -> float:
    """How much a window's value varies from sampling alone when the metric's true level is
    `level` and the window holds `count` events: binomial for error rates, Poisson for
    counts and rates (`_per_event`), 0 where the value's nature does not say."""
    if q.kind in ("span_metric", "model_metric") and q.metric == "error_rate":
        n = max(count, 1.0)
        return math.sqrt(max(level * n, 1.0) * max(0.0, 1 - level)) / n
    per_event = _per_event(q)
    return math.sqrt(max(level / per_event, 1.0)) * per_event if per_event else 0.0


def _per_event(q: AlertQuery) -> float:
    """What one event adds to the value of a metric that counts events (1, or 1/window_s
    for a rate); 0 for metrics that do not count events."""
    if q.kind in ("otlp_metric", "custom_metric"):  # a counter's sum may add values, not events
        return 1 / q.window_s if q.aggregation == "count_rate" else 0.0
    if q.kind == "model_signal":
        return 0.0
    if q.metric in ("count", "errors", "predictions"):
        return 1.0
    return 1 / q.window_s if q.metric == "rate" else 0.0


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

"""Queries over OTLP metrics received from SDKs (not the span metrics at `/metrics`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spanwise.core.otlp_metrics import AGGREGATIONS, GAUGE, HISTOGRAM, MONOTONIC_ONLY, SUM, kind_of
from spanwise.core.time_range import MAX_SERIES_POINTS
from spanwise.errors import InvalidQuery, NotFound
from spanwise.store.protocols import OtlpMetricStore
from spanwise.store.clickhouse.otlp_metrics import MAX_SERIES_ROWS, MAX_WINDOW_GROUPS
from spanwise.store.clickhouse.service_signals import histogram_quantile

#: Attribute keys one series request may split by, and the series it may return.
MAX_GROUP_BY = 3
MAX_GROUPS = 100
#: How far before a window a cumulative series' last point is looked for, so the
#: window's first increase is counted (SDKs export every 60 s by default).
ANCHOR_NS = 15 * 60 * 10**9
Attributes = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ReceivedMetric:
    """One metric name and kind seen in a window: its unit and description (as any of its
    points gives them), the services that sent it, and how many points it has there."""

    name: str
    kind: str
    unit: str
    description: str
    services: tuple[str, ...]
    points: int


@dataclass(frozen=True)
class Step:
    """One step of a series: where it starts, the kind's figures in the store's column
    order (gauges avg, min, max, last; sums increase; histograms count, sum) and how many
    points they rest on."""

    start_ns: int
    values: tuple[tuple[str, float], ...]
    points: int


@dataclass(frozen=True)
class Series:
    """The steps of one group of points: its `group_by` attribute values (none when the
    metric is not grouped), oldest step first."""

    attributes: Attributes
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class MetricSeries:
    """Per-step values of one metric, of points whose attributes match `where`: one
    series, or with `group_by` one per combination of those attributes' values, sorted
    by them. `service` "" means every service."""

    name: str
    kind: str
    service: str
    step_s: int
    where: Attributes
    group_by: tuple[str, ...]
    series: tuple[Series, ...]


@dataclass(frozen=True)
class MetricGroup:
    """One group of a metric over a window: its `group_by` attribute values, the
    aggregated value, and what it rests on (points; for histograms, observations)."""

    attributes: Attributes
    value: float
    count: int


class OtlpMetricService:
    def __init__(self, store: OtlpMetricStore) -> None:
        self._store = store

    def metrics(self, start_ns: int, end_ns: int) -> list[ReceivedMetric]:
        """Every metric name seen in the window, with its kind, unit and services."""
        return [ReceivedMetric(row["name"], row["kind"], row["unit"], row["description"], tuple(row["services"]),
                               row["points"]) for row in self._store.list_metrics(start_ns, end_ns).to_pylist()]

    def series(
        self, name: str, service: str, start_ns: int, end_ns: int, step_s: int,
        group_by: tuple[str, ...] = (), where: Attributes = (),
    ) -> MetricSeries:
        """Per-step values of `name` (whichever kind it has), of points whose attributes
        match `where`; with `group_by`, one series per combination of those attributes' values."""
        if step_s <= 0 or (end_ns - start_ns) // (step_s * 10**9) > MAX_SERIES_POINTS:
            raise InvalidQuery(f"step must be positive and give at most {MAX_SERIES_POINTS} points")
        if len(group_by) > MAX_GROUP_BY or len(set(group_by)) < len(group_by):
            raise InvalidQuery(f"group_by: at most {MAX_GROUP_BY} distinct attribute keys")
        kinds = [m.kind for m in self.metrics(start_ns, end_ns) if m.name == name]
        if not kinds:
            raise NotFound(f"no metric {name!r} in this time range")
        rows = self._store.metric_series(kinds[0], name, service, start_ns, end_ns, step_s, group_by, where).to_pylist()
        if len(rows) > MAX_SERIES_ROWS:
            raise InvalidQuery(f"more than {MAX_SERIES_ROWS} points: use a larger step, fewer group_by keys or attribute filters")
        steps: dict[tuple[str, ...], list[Step]] = {}
        for row in rows:
            key = tuple(row.pop(f"g{i}") for i in range(len(group_by)))
            steps.setdefault(key, []).append(_step(row))
        if len(steps) > MAX_GROUPS:
            raise InvalidQuery(f"group_by gives {len(steps)} series (at most {MAX_GROUPS}): filter with attribute=key:value")
        series = tuple(Series(tuple(zip(group_by, key)), tuple(steps[key])) for key in sorted(steps))
        return MetricSeries(name, kinds[0], service, step_s, where, group_by, series)

    def aggregate(
        self, name: str, aggregation: str, start_ns: int, end_ns: int, service: str = "",
        group_by: tuple[str, ...] = (), where: Attributes = (), quantile: float = 0.95,
    ) -> list[MetricGroup]:
        """One value per group of `name`'s points in [start, end] (`AGGREGATIONS`:
        gauges last/avg/max/min; sums increase/rate, counter resets counted from zero,
        or value; histograms quantile/mean from the buckets, or count_rate). Keys of
        `group_by` and `where` are point attributes, else resource attributes. A metric
        of another kind, or a non-monotonic sum asked for a rate, is an `InvalidQuery`."""
        kind = kind_of(aggregation)
        if not kind:
            raise InvalidQuery(f"aggregation: one of {', '.join(n for names in AGGREGATIONS.values() for n in names)}")
        table = self._store.metric_window(kind, name, service, start_ns, end_ns, start_ns - ANCHOR_NS, group_by, where)
        rows = table.to_pylist()
        if len(rows) > MAX_WINDOW_GROUPS:
            raise InvalidQuery(f"{name}: more than {MAX_WINDOW_GROUPS} groups; group by fewer attributes or filter")
        if not rows:
            self._check_kind(name, kind, aggregation, start_ns, end_ns)
            return []
        seconds = max((end_ns - start_ns) / 1e9, 1e-9)
        keys = [tuple(row[f"g{i}"] for i in range(len(group_by))) for row in rows]
        if kind == HISTOGRAM:
            return _histogram_groups(group_by, keys, rows, aggregation, quantile, seconds)
        if kind == SUM and aggregation in MONOTONIC_ONLY and not all(row["monotonic"] for row in rows):
            raise InvalidQuery(f"{name} is a non-monotonic sum (an up-down counter): its aggregation is value, "
                               f"not {aggregation}")
        return [MetricGroup(tuple(zip(group_by, key)), _value(kind, aggregation, row, seconds), int(row["points"]))
                for key, row in zip(keys, rows)]

    def _check_kind(self, name: str, kind: str, aggregation: str, start_ns: int, end_ns: int) -> None:
        """No points of that kind: a metric of that name of another kind means the rule
        asks the wrong question, which is worth an error rather than silence."""
        other = sorted({m.kind for m in self.metrics(start_ns, end_ns) if m.name == name} - {kind})
        if other:
            raise InvalidQuery(f"{name} is a {other[0]}: aggregation {aggregation} reads a {kind}; a {other[0]} "
                               f"takes {', '.join(AGGREGATIONS[other[0]])}")


def _value(kind: str, aggregation: str, row: dict[str, Any], seconds: float) -> float:
    if kind == GAUGE:
        found = {"last": row["last"], "avg": row["total"] / row["points"], "max": row["highest"], "min": row["lowest"]}
    else:
        found = {"increase": row["increase"], "rate": row["increase"] / seconds, "value": row["value"]}
    return float(found[aggregation])


def _histogram_groups(group_by: tuple[str, ...], keys: list[tuple[str, ...]], rows: list[dict[str, Any]],
                      aggregation: str, quantile: float, seconds: float) -> list[MetricGroup]:
    """Rows of one group (one per bucket layout) merged by bucket bound; a quantile or
    mean of a group without observations in the window is not a number, so no group."""
    merged: dict[tuple[str, ...], tuple[dict[float, int], float, float]] = {}
    for key, row in zip(keys, rows):
        buckets, count, total = merged.get(key, ({}, 0.0, 0.0))
        for bound, n in zip([*row["bounds"], float("inf")], row["buckets"]):
            buckets[bound] = buckets.get(bound, 0) + int(n)
        merged[key] = (buckets, count + row["count"], total + row["sum"])
    groups = []
    for key, (buckets, count, total) in merged.items():
        if aggregation == "count_rate":
            value = count / seconds
        elif not count:
            continue
        elif aggregation == "mean":
            value = total / count
        else:
            value = histogram_quantile(quantile, sorted(buckets.items()))
        groups.append(MetricGroup(tuple(zip(group_by, key)), value, int(count)))
    return groups


def _step(row: dict[str, Any]) -> Step:
    """A series row (its group columns taken out): `t` in Unix seconds, the figures, `points`."""
    start_s, points = row.pop("t"), row.pop("points")
    return Step(start_s * 10**9, tuple(row.items()), points)

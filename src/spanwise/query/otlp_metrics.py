"""Queries over OTLP metrics received from SDKs (not the span metrics at `/metrics`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from spanwise.core import exponential_histogram
from spanwise.core.explicit_histogram import histogram_quantile
from spanwise.core.otlp_metrics import (
    AGGREGATIONS, EXPONENTIAL_HISTOGRAM, GAUGE, HISTOGRAM, MONOTONIC_ONLY, SUM, SUMMARY, kinds_of,
)
from spanwise.core.time_range import MAX_SERIES_POINTS
from spanwise.errors import InvalidQuery, NotFound
from spanwise.store.protocols import OtlpMetricStore
from spanwise.store.clickhouse.otlp_metrics import MAX_SERIES_ROWS, MAX_WINDOW_GROUPS

#: Attribute keys one series request may split by, and the series it may return.
MAX_GROUP_BY = 3
MAX_GROUPS = 100
#: How far before a window a cumulative series' last point is looked for, so the
#: window's first increase is counted (SDKs export every 60 s by default).
ANCHOR_NS = 15 * 60 * 10**9
#: The quantiles each step of a histogram's or an exponential histogram's series gives (a
#: summary's gives those it reports).
SERIES_QUANTILES = (0.5, 0.9, 0.95, 0.99)
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
    """One step of a series: where it starts, the kind's figures (gauges avg, min, max,
    last; sums increase; histograms count, sum, count_rate, mean, p50, p90, p95, p99;
    exponential histograms those and max_relative_error, the quantiles' bound;
    summaries count, sum, count_rate, mean and the quantiles they report, e.g. p99.9) and
    how many points they rest on. A figure with nothing to rest on (a mean of no
    observations, a NaN a summary reports) is None."""

    start_ns: int
    values: tuple[tuple[str, float | None], ...]
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
            steps.setdefault(key, []).append(_step(kinds[0], row, step_s))
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
        or value; histograms and exponential histograms quantile/mean from the buckets,
        or count_rate; summaries the same, a quantile being one they report). Keys of
        `group_by` and `where` are point attributes, else resource attributes. A metric
        of another kind, a non-monotonic sum asked for a rate, or a summary asked for a
        quantile it does not report, is an `InvalidQuery`."""
        kinds = kinds_of(aggregation)
        if not kinds:
            names = dict.fromkeys(n for names in AGGREGATIONS.values() for n in names)
            raise InvalidQuery(f"aggregation: one of {', '.join(names)}")
        # histogram-like kinds share their aggregations: the first kind with points of that name
        anchor = start_ns - ANCHOR_NS
        read = ((k, self._store.metric_window(k, name, service, start_ns, end_ns, anchor, group_by, where).to_pylist())
                for k in kinds)
        kind, rows = next(((k, found) for k, found in read if found), (kinds[0], []))
        if len(rows) > MAX_WINDOW_GROUPS:
            raise InvalidQuery(f"{name}: more than {MAX_WINDOW_GROUPS} groups; group by fewer attributes or filter")
        if not rows:
            self._check_kind(name, kinds, aggregation, start_ns, end_ns)
            return []
        seconds = max((end_ns - start_ns) / 1e9, 1e-9)
        keys = [tuple(row[f"g{i}"] for i in range(len(group_by))) for row in rows]
        if kind == HISTOGRAM:
            return _histogram_groups(group_by, keys, rows, aggregation, quantile, seconds)
        if kind in (EXPONENTIAL_HISTOGRAM, SUMMARY):
            return [MetricGroup(tuple(zip(group_by, key)), value, int(row["count"])) for key, row in zip(keys, rows)
                    if (value := _distribution_value(name, kind, row, aggregation, quantile, seconds)) is not None]
        if kind == SUM and aggregation in MONOTONIC_ONLY and not all(row["monotonic"] for row in rows):
            raise InvalidQuery(f"{name} is a non-monotonic sum (an up-down counter): its aggregation is value, "
                               f"not {aggregation}")
        return [MetricGroup(tuple(zip(group_by, key)), _value(kind, aggregation, row, seconds), int(row["points"]))
                for key, row in zip(keys, rows)]

    def _check_kind(self, name: str, kinds: tuple[str, ...], aggregation: str, start_ns: int, end_ns: int) -> None:
        """No points of those kinds: a metric of that name of another kind means the rule
        asks the wrong question, which is worth an error rather than silence."""
        other = sorted({m.kind for m in self.metrics(start_ns, end_ns) if m.name == name} - set(kinds))
        if other:
            read = " or ".join(", ".join(map(_a, kinds)).rsplit(", ", 1))
            raise InvalidQuery(f"{name} is {_a(other[0])}: aggregation {aggregation} reads {read}; {_a(other[0])} "
                               f"takes {', '.join(AGGREGATIONS[other[0]])}")


def _a(kind: str) -> str:
    """"a gauge", "an exponential_histogram"."""
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


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


def _step(kind: str, row: dict[str, Any], step_s: int) -> Step:
    """A series row (its group columns taken out): `t` in Unix seconds, the figures, `points`."""
    start_s, points = row.pop("t"), row.pop("points")
    if kind in (HISTOGRAM, EXPONENTIAL_HISTOGRAM, SUMMARY):
        return Step(start_s * 10**9, _distribution_figures(kind, row, step_s), points)
    return Step(start_s * 10**9, tuple(row.items()), points)


def _distribution_figures(kind: str, row: dict[str, Any], seconds: float) -> tuple[tuple[str, float | None], ...]:
    """A histogram's, an exponential histogram's or a summary's step: count, sum,
    count_rate, mean and quantiles (histograms: `SERIES_QUANTILES` from the merged
    buckets; exponential histograms: those, with their error bound; summaries: the
    quantiles they report)."""
    count, total = row["count"], row["sum"]
    figures: list[tuple[str, float | None]] = [("count", count), ("sum", total), ("count_rate", count / seconds),
                                               ("mean", total / count if count > 0 else None)]
    if kind == SUMMARY:
        figures += [(_quantile_name(q), value) for q, value in zip(row["quantiles"], row["quantile_values"])]
    elif kind == HISTOGRAM:
        buckets = _explicit_buckets(row)
        observed = sum(n for _, n in buckets) > 0
        figures += [(_quantile_name(q), histogram_quantile(q, buckets) if observed else None) for q in SERIES_QUANTILES]
    else:
        figures += [(_quantile_name(q), _exponential_quantile(row, q)) for q in SERIES_QUANTILES]
        figures.append(("max_relative_error", exponential_histogram.relative_error(row["scale"])))
    return tuple((name, value if value is None or math.isfinite(value) else None) for name, value in figures)


def _distribution_value(name: str, kind: str, row: dict[str, Any], aggregation: str, quantile: float,
                        seconds: float) -> float | None:
    """One group's value over a window of an exponential histogram or a summary (None: no
    value, e.g. a mean of no observations). A summary's quantile is the one it reports,
    the highest of the group's series' latest values; asking for one it does not report
    is an `InvalidQuery` naming those it does."""
    count = row["count"]
    if aggregation == "count_rate":
        value: float | None = count / seconds
    elif aggregation == "mean":
        value = row["sum"] / count if count > 0 else None
    elif kind == EXPONENTIAL_HISTOGRAM:
        value = _exponential_quantile(row, quantile) if count > 0 else None
    else:
        reported = dict(zip(row["quantiles"], row["quantile_values"]))
        value = next((v for q, v in reported.items() if math.isclose(q, quantile, abs_tol=1e-9)), None)
        if value is None and reported:
            raise InvalidQuery(f"{name} is a summary reporting quantiles {', '.join(f'{q:g}' for q in reported)}: "
                               f"quantile {quantile:g} is not one of them")
    return value if value is not None and math.isfinite(value) else None


def _explicit_buckets(row: dict[str, Any]) -> list[tuple[float, int]]:
    """A histogram step's merged (upper bound, increase) by bound, every bound of its
    layouts included (the store leaves out those that did not increase; they still end
    the bucket below them). Points of different layouts in one step merge by bound, as
    Prometheus' `sum by (le)` does and alert rules do: a bucket of one layout wider than
    another's counts at its own upper bound, so a quantile is then exact only to the
    coarser layout's bucket."""
    buckets = dict.fromkeys((bound for layout in row["layouts"] for bound in [*layout, math.inf]), 0)
    buckets.update(zip(row["bucket_bounds"], row["bucket_counts"]))
    return sorted(buckets.items())


def _exponential_quantile(row: dict[str, Any], q: float) -> float | None:
    """The q-quantile of a row's merged buckets (spanwise.core.exponential_histogram)."""
    positive = dict(zip(row["positive_indexes"], row["positive_counts"]))
    negative = dict(zip(row["negative_indexes"], row["negative_counts"]))
    return exponential_histogram.quantile(q, row["scale"], int(row["zero_count"]), positive, negative)


def _quantile_name(q: float) -> str:
    """0.5 -> p50, 0.999 -> p99.9."""
    return f"p{q * 100:g}"

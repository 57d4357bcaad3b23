"""The metrics Spanwise derives from 100% of spans, as plain values every layer shares.

The store builds them (materialized views, `spanwise.store.clickhouse.schema`), the query side
exposes them (`spanwise.query.metrics`), config describes the user's part of them. Span
metrics are named and labelled like the OpenTelemetry Collector's spanmetrics connector
so dashboards and alerts written for it work unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The spanmetrics connector's default duration bounds (milliseconds); +Inf is implied.
DURATION_BUCKETS_MS: tuple[float, ...] = tuple(
    float(b) for b in (2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000)
)
#: Bounds of the model confidence histogram.
CONFIDENCE_BUCKETS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: Prometheus client libraries' default bounds, for custom histograms that name none.
DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: Series per metric `/metrics` exposes before summing the rest into an overflow series.
DEFAULT_MAX_SERIES = 1000
#: Seconds without spans after which a series is no longer exposed (0: never).
DEFAULT_STALE_AFTER_S = 3600.0

#: Labels every span metric carries, as the spanmetrics connector names them.
SPAN_LABELS = ("service_name", "span_name", "span_kind", "status_code")
COUNTER, HISTOGRAM = "counter", "histogram"

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_NOT_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True)
class CustomMetric:
    """A business metric over one span (or resource) attribute.

    A counter counts the spans carrying `attribute`, or with `sum_values` adds up its
    numeric value; a histogram observes its numeric value in `buckets`. Spans without
    the attribute, or whose value is not a number where one is needed, are skipped.
    `labels` are attribute keys whose values label the series.
    """

    name: str
    kind: str
    attribute: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    sum_values: bool = False
    description: str = ""

    @property
    def exposed_name(self) -> str:
        """The Prometheus family name: counters end in `_total`, as convention wants."""
        if self.kind == COUNTER and not self.name.endswith("_total"):
            return self.name + "_total"
        return self.name

    @property
    def bounds(self) -> tuple[float, ...]:
        return tuple(sorted(self.buckets)) if self.buckets else DEFAULT_BUCKETS


@dataclass(frozen=True)
class MetricsSpec:
    """What to compute: on or off, extra span-metric dimensions (attribute keys, like
    the connector's `dimensions`), and custom metrics; and what to expose: at most
    `max_series` series per metric (span metrics, model versions, each custom metric;
    the rest summed into one overflow series), only series with spans in the last
    `stale_after_s` seconds (0: all)."""

    enabled: bool = True
    dimensions: tuple[str, ...] = ()
    custom: tuple[CustomMetric, ...] = ()
    max_series: int = DEFAULT_MAX_SERIES
    stale_after_s: float = DEFAULT_STALE_AFTER_S


def label_name(key: str) -> str:
    """A valid Prometheus label name for an attribute key (`deployment.environment` ->
    `deployment_environment`), as the Collector's Prometheus exporter translates them."""
    name = _NOT_LABEL_CHAR.sub("_", key)
    return f"key_{name}" if not name or name[0].isdigit() else name


def problems(spec: MetricsSpec) -> list[str]:
    """Why `spec` cannot be exposed (names Prometheus rejects, clashing labels); empty
    when it is fine. Config validation reports these."""
    found = _label_problems("dimensions", spec.dimensions, SPAN_LABELS + ("le",))
    if spec.max_series < 1:
        found.append(f"max_series: must be at least 1, got {spec.max_series}")
    if spec.stale_after_s < 0:
        found.append(f"stale_after_s: must not be negative (0 keeps every series), got {spec.stale_after_s}")
    names: set[str] = set()
    position: dict[str, int] = {}
    for metric in spec.custom:
        index = position[metric.kind] = position.get(metric.kind, -1) + 1
        where = f"{metric.kind}s[{index}]"
        if not _METRIC_NAME.match(metric.name):
            found.append(f"{where}.name: {metric.name!r} is not a valid Prometheus metric name")
        if metric.exposed_name in names or metric.exposed_name.startswith(("traces_span_metrics_", "spanwise_")):
            found.append(f"{where}.name: {metric.exposed_name!r} is already taken")
        names.add(metric.exposed_name)
        if not metric.attribute:
            found.append(f"{where}.attribute: required")
        reserved = ("le",) if metric.kind == HISTOGRAM else ()
        found += _label_problems(f"{where}.labels", metric.labels, reserved)
        if len(set(metric.buckets)) != len(metric.buckets):
            found.append(f"{where}.buckets: a bound is listed twice")
    return found


def _label_problems(where: str, keys: tuple[str, ...], reserved: tuple[str, ...]) -> list[str]:
    names = [label_name(key) for key in keys]
    found = [f"{where}: {key!r} becomes label {name!r}, which is reserved" for key, name in zip(keys, names)
             if name in reserved or name.startswith("__")]
    if len(set(names)) != len(names):
        found.append(f"{where}: two keys become the same label ({', '.join(names)})")
    return found

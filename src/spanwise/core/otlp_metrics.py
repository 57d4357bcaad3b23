"""Columnar OTLP metric points, named like the OpenTelemetry Collector ClickHouse
exporter's `otel_metrics_gauge`, `_sum`, `_histogram`, `_exponential_histogram` and
`_summary` tables (without exemplars, which are not stored)."""

from __future__ import annotations

import pyarrow as pa

from spanwise.core.spans import ATTRIBUTE_MAP, TIMESTAMP

GAUGE, SUM, HISTOGRAM = "gauge", "sum", "histogram"
EXPONENTIAL_HISTOGRAM, SUMMARY = "exponential_histogram", "summary"
#: One request's points: a table per kind (`POINT_SCHEMAS`), kinds with none left out.
MetricPoints = dict[str, pa.Table]

_COMMON = [
    pa.field("ResourceAttributes", ATTRIBUTE_MAP, nullable=False),
    pa.field("ServiceName", pa.string(), nullable=False),
    pa.field("ScopeName", pa.string(), nullable=False),
    pa.field("ScopeVersion", pa.string(), nullable=False),
    pa.field("MetricName", pa.string(), nullable=False),
    pa.field("MetricDescription", pa.string(), nullable=False),
    pa.field("MetricUnit", pa.string(), nullable=False),
    pa.field("Attributes", ATTRIBUTE_MAP, nullable=False),
    pa.field("StartTimeUnix", TIMESTAMP, nullable=False),
    pa.field("TimeUnix", TIMESTAMP, nullable=False),
    pa.field("Flags", pa.uint32(), nullable=False),
]
_TEMPORALITY = pa.field("AggregationTemporality", pa.int32(), nullable=False)

POINT_SCHEMAS: dict[str, pa.Schema] = {
    GAUGE: pa.schema(_COMMON + [pa.field("Value", pa.float64(), nullable=False)]),
    SUM: pa.schema(_COMMON + [pa.field("Value", pa.float64(), nullable=False), _TEMPORALITY,
                              pa.field("IsMonotonic", pa.bool_(), nullable=False)]),
    HISTOGRAM: pa.schema(_COMMON + [
        pa.field("Count", pa.uint64(), nullable=False),
        pa.field("Sum", pa.float64(), nullable=False),
        pa.field("BucketCounts", pa.list_(pa.uint64()), nullable=False),
        pa.field("ExplicitBounds", pa.list_(pa.float64()), nullable=False),
        pa.field("Min", pa.float64()),
        pa.field("Max", pa.float64()),
        _TEMPORALITY,
    ]),
    # bucket i of a side counts the values between base^(Offset + i) and base^(Offset + i + 1),
    # base = 2^(2^-Scale) (spanwise.core.exponential_histogram)
    EXPONENTIAL_HISTOGRAM: pa.schema(_COMMON + [
        pa.field("Count", pa.uint64(), nullable=False),
        pa.field("Sum", pa.float64(), nullable=False),
        pa.field("Scale", pa.int32(), nullable=False),
        pa.field("ZeroCount", pa.uint64(), nullable=False),
        pa.field("PositiveOffset", pa.int32(), nullable=False),
        pa.field("PositiveBucketCounts", pa.list_(pa.uint64()), nullable=False),
        pa.field("NegativeOffset", pa.int32(), nullable=False),
        pa.field("NegativeBucketCounts", pa.list_(pa.uint64()), nullable=False),
        pa.field("Min", pa.float64()),
        pa.field("Max", pa.float64()),
        _TEMPORALITY,
    ]),
    # count and sum are cumulative (OTLP gives summaries no temporality); the quantiles
    # are whatever window the sender computed them over. The exporter's Nested column.
    SUMMARY: pa.schema(_COMMON + [
        pa.field("Count", pa.uint64(), nullable=False),
        pa.field("Sum", pa.float64(), nullable=False),
        pa.field("ValueAtQuantiles.Quantile", pa.list_(pa.float64()), nullable=False),
        pa.field("ValueAtQuantiles.Value", pa.list_(pa.float64()), nullable=False),
    ]),
}

#: How one window of a metric becomes one value, by the metric's kind: a gauge's latest,
#: mean, highest or lowest point; a sum's increase (or its rate per second) for monotonic
#: counters, or its current value; a histogram's quantile or mean from its buckets, or its
#: observations per second (a summary's quantile is one it reports). An aggregation names
#: the kind of a gauge or a sum; the three histogram-like kinds share theirs.
AGGREGATIONS: dict[str, tuple[str, ...]] = {
    GAUGE: ("last", "avg", "max", "min"),
    SUM: ("rate", "increase", "value"),
    HISTOGRAM: ("quantile", "mean", "count_rate"),
    EXPONENTIAL_HISTOGRAM: ("quantile", "mean", "count_rate"),
    SUMMARY: ("quantile", "mean", "count_rate"),
}
#: Aggregations that only make sense for a monotonic sum (a counter, not an UpDownCounter).
MONOTONIC_ONLY = ("rate", "increase")


def kinds_of(aggregation: str) -> tuple[str, ...]:
    """The metric kinds an aggregation reads, in `AGGREGATIONS` order (none for an unknown one)."""
    return tuple(kind for kind, names in AGGREGATIONS.items() if aggregation in names)


def aggregations_text() -> str:
    """Every aggregation, with the kinds it reads: "last, avg, max, min (gauge), ..."."""
    kinds_by_names: dict[tuple[str, ...], list[str]] = {}
    for kind, names in AGGREGATIONS.items():
        kinds_by_names.setdefault(names, []).append(kind)
    return ", ".join(f"{', '.join(names)} ({', '.join(kinds)})" for names, kinds in kinds_by_names.items())

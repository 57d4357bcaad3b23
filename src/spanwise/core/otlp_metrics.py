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
#: observations per second. The aggregation names the kind, so a rule need not.
AGGREGATIONS: dict[str, tuple[str, ...]] = {
    GAUGE: ("last", "avg", "max", "min"),
    SUM: ("rate", "increase", "value"),
    HISTOGRAM: ("quantile", "mean", "count_rate"),
}
#: Aggregations that only make sense for a monotonic sum (a counter, not an UpDownCounter).
MONOTONIC_ONLY = ("rate", "increase")


def kind_of(aggregation: str) -> str:
    """The metric kind an aggregation reads ("" for an unknown aggregation)."""
    return next((kind for kind, names in AGGREGATIONS.items() if aggregation in names), "")

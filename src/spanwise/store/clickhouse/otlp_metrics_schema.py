"""DDL of the OTLP metric point tables, as the OpenTelemetry Collector ClickHouse exporter
names and shapes them (`otel_metrics_gauge`, `_sum`, `_histogram`, `_exponential_histogram`,
`_summary`; without exemplars, which are not stored)."""

from __future__ import annotations

from spanwise.core.otlp_metrics import EXPONENTIAL_HISTOGRAM, GAUGE, HISTOGRAM, SUM, SUMMARY

TABLES = {GAUGE: "otel_metrics_gauge", SUM: "otel_metrics_sum", HISTOGRAM: "otel_metrics_histogram",
          EXPONENTIAL_HISTOGRAM: "otel_metrics_exponential_histogram", SUMMARY: "otel_metrics_summary"}

_COMMON = """
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1))"""
_EXTRA = {
    GAUGE: "Value Float64 CODEC(ZSTD(1))",
    SUM: "Value Float64 CODEC(ZSTD(1)), AggregationTemporality Int32, IsMonotonic Bool",
    HISTOGRAM: """Count UInt64 CODEC(Delta, ZSTD(1)), Sum Float64 CODEC(ZSTD(1)),
        BucketCounts Array(UInt64) CODEC(ZSTD(1)), ExplicitBounds Array(Float64) CODEC(ZSTD(1)),
        Min Nullable(Float64), Max Nullable(Float64), AggregationTemporality Int32""",
    EXPONENTIAL_HISTOGRAM: """Count UInt64 CODEC(Delta, ZSTD(1)), Sum Float64 CODEC(ZSTD(1)), Scale Int32 CODEC(ZSTD(1)),
        ZeroCount UInt64 CODEC(ZSTD(1)), PositiveOffset Int32 CODEC(ZSTD(1)),
        PositiveBucketCounts Array(UInt64) CODEC(ZSTD(1)), NegativeOffset Int32 CODEC(ZSTD(1)),
        NegativeBucketCounts Array(UInt64) CODEC(ZSTD(1)), Min Nullable(Float64), Max Nullable(Float64),
        AggregationTemporality Int32""",
    SUMMARY: """Count UInt64 CODEC(Delta, ZSTD(1)), Sum Float64 CODEC(ZSTD(1)),
        ValueAtQuantiles Nested(Quantile Float64, Value Float64) CODEC(ZSTD(1))""",
}


def statements(retention_days: int | None = None) -> list[str]:
    ttl = f"TTL toDateTime(TimeUnix) + toIntervalDay({retention_days})" if retention_days else ""
    return [
        f"""CREATE TABLE IF NOT EXISTS {table} ({_COMMON}, {_EXTRA[kind]}) ENGINE = MergeTree
        PARTITION BY toDate(TimeUnix)
        ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
        {ttl}"""
        for kind, table in TABLES.items()
    ]

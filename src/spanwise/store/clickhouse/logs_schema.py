"""DDL of `otel_logs`: the OpenTelemetry Collector ClickHouse exporter's logs table, so
tools that read the exporter's tables read Spanwise's logs too.

Ordered by service and time like the exporter's; a trace's logs are found through the
TraceId bloom filter (the trace view asks for them by trace id)."""

from __future__ import annotations

LOGS_TABLE = "otel_logs"


def statements(retention_days: int | None = None) -> list[str]:
    ttl = f"TTL toDateTime(Timestamp) + toIntervalDay({retention_days})" if retention_days else ""
    return [
        f"""CREATE TABLE IF NOT EXISTS {LOGS_TABLE} (
            Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
            TraceId String CODEC(ZSTD(1)),
            SpanId String CODEC(ZSTD(1)),
            TraceFlags UInt8,
            SeverityText LowCardinality(String) CODEC(ZSTD(1)),
            SeverityNumber UInt8,
            ServiceName LowCardinality(String) CODEC(ZSTD(1)),
            Body String CODEC(ZSTD(1)),
            ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
            ScopeName String CODEC(ZSTD(1)),
            ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
            LogAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
            INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
            INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
        ) ENGINE = MergeTree
        PARTITION BY toDate(Timestamp)
        ORDER BY (ServiceName, toStartOfFiveMinutes(Timestamp), Timestamp)
        {ttl}"""
    ]

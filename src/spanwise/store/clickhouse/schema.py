"""The ClickHouse schema, one dialect for every backend (chDB embedded or a server).

`otel_traces` and `otel_traces_trace_id_ts` follow the OpenTelemetry Collector ClickHouse
exporter (column names and types), so Grafana's ClickHouse data source can read them.
`otel_traces` is ordered by (service, 5-minute bucket, trace id) rather than the
exporter's (service, span name, time): a trace's spans of one service sit together (ids
compress, trace reads touch few granules, so the exporter's trace-id bloom filters are
dropped: they cost more bytes and time than the primary key) and newest-first searches
can read one recent window at a time;
Spanwise adds typed AI columns and attribute-type maps. Spans are inserted once into
`spanwise_ingest` (a Null table); materialized views fan each insert out to the stored
tables, so span-derived tables see 100% of spans whatever later decides what
`otel_traces` keeps.
"""

from __future__ import annotations

INGEST_TABLE = "spanwise_ingest"
TAIL_PENDING_TABLE = "spanwise_tail_pending"

_SPAN_COLUMNS = """
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    ResourceAttributeTypes Map(LowCardinality(String), LowCardinality(String)) CODEC(ZSTD(1)),
    SpanAttributeTypes Map(LowCardinality(String), LowCardinality(String)) CODEC(ZSTD(1)),
    IsPrediction Bool CODEC(ZSTD(1)),
    ModelName LowCardinality(String) CODEC(ZSTD(1)),
    ModelVersion LowCardinality(String) CODEC(ZSTD(1)),
    PredictionId String CODEC(ZSTD(1)),
    PredictionValue Nullable(Float64) CODEC(ZSTD(1)),
    PredictionLabel LowCardinality(String) CODEC(ZSTD(1)),
    Confidence Nullable(Float64) CODEC(ZSTD(1)),
    GroundTruth String CODEC(ZSTD(1)),
    SampleWeight Float64 CODEC(ZSTD(1))"""

#: Per-prediction maps: only the ingest table and `predictions` carry them, so they are
#: stored once; trace reads join them back by (TraceId, SpanId).
_PREDICTION_MAP_COLUMNS = """,
    Scores Map(LowCardinality(String), Float64) CODEC(ZSTD(1)),
    Features Map(LowCardinality(String), Float64) CODEC(ZSTD(1)),
    StringFeatures Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Attributions Map(LowCardinality(String), Float64) CODEC(ZSTD(1))"""
PREDICTION_MAP_COLUMNS = {
    "Scores": "Map(String, Float64)",
    "Features": "Map(String, Float64)",
    "StringFeatures": "Map(String, String)",
    "Attributions": "Map(String, Float64)",
}


def _ttl(column: str, retention_days: int | None) -> str:
    return f"TTL toDateTime({column}) + toIntervalDay({retention_days})" if retention_days else ""


def statements(retention_days: int | None = None) -> list[str]:
    """DDL creating every table and view; idempotent (IF NOT EXISTS)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {INGEST_TABLE} ({_SPAN_COLUMNS}{_PREDICTION_MAP_COLUMNS}) ENGINE = Null",
        f"""CREATE TABLE IF NOT EXISTS otel_traces ({_SPAN_COLUMNS},
            INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX idx_prediction_id PredictionId TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX idx_duration Duration TYPE minmax GRANULARITY 1
        ) ENGINE = MergeTree
        PARTITION BY toDate(Timestamp)
        ORDER BY (ServiceName, toStartOfFiveMinutes(Timestamp), TraceId)
        {_ttl("Timestamp", retention_days)}
        SETTINGS index_granularity = 1024, ttl_only_drop_parts = 1""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_mv TO otel_traces
            AS SELECT * EXCEPT ({", ".join(PREDICTION_MAP_COLUMNS)}) FROM {INGEST_TABLE}
            WHERE SampleWeight > 0""",
        f"""CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts (
            TraceId String CODEC(ZSTD(1)),
            Start DateTime CODEC(Delta, ZSTD(1)),
            End DateTime CODEC(Delta, ZSTD(1))
        ) ENGINE = MergeTree
        ORDER BY (TraceId, toUnixTimestamp(Start))
        {_ttl("Start", retention_days)}""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_trace_id_ts_mv TO otel_traces_trace_id_ts
            AS SELECT Project, TraceId, min(Timestamp) AS Start, max(Timestamp) AS End
            FROM {INGEST_TABLE} WHERE TraceId != '' AND SampleWeight != 0 GROUP BY Project, TraceId""",
        f"""CREATE TABLE IF NOT EXISTS spanwise_operations (
            ServiceName LowCardinality(String),
            SpanName LowCardinality(String),
            SpanKind LowCardinality(String),
            LastSeen DateTime
        ) ENGINE = ReplacingMergeTree(LastSeen)
        ORDER BY (ServiceName, SpanName, SpanKind)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS spanwise_operations_mv TO spanwise_operations
            AS SELECT Project, ServiceName, SpanName, SpanKind, toDateTime(max(Timestamp)) AS LastSeen
            FROM {INGEST_TABLE} GROUP BY Project, ServiceName, SpanName, SpanKind""",
        f"""CREATE TABLE IF NOT EXISTS predictions (
            Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
            ServiceName LowCardinality(String),
            ModelName LowCardinality(String),
            ModelVersion LowCardinality(String),
            PredictionId String CODEC(ZSTD(1)),
            TraceId String CODEC(ZSTD(1)),
            SpanId String CODEC(ZSTD(1)),
            Duration UInt64 CODEC(ZSTD(1)),
            StatusCode LowCardinality(String),
            PredictionValue Nullable(Float64) CODEC(ZSTD(1)),
            PredictionLabel LowCardinality(String),
            Confidence Nullable(Float64) CODEC(ZSTD(1)),
            Scores Map(LowCardinality(String), Float64) CODEC(ZSTD(1)),
            Features Map(LowCardinality(String), Float64) CODEC(ZSTD(1)),
            StringFeatures Map(LowCardinality(String), String) CODEC(ZSTD(1)),
            Attributions Map(LowCardinality(String), Float64) CODEC(ZSTD(1)),
            GroundTruth String CODEC(ZSTD(1)),
            INDEX idx_prediction_id PredictionId TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
        ) ENGINE = ReplacingMergeTree
        PARTITION BY toDate(Timestamp)
        ORDER BY (ModelName, ModelVersion, toStartOfMinute(Timestamp), PredictionId)
        {_ttl("Timestamp", retention_days)}""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS predictions_mv TO predictions
            AS SELECT Project, Timestamp, ServiceName, ModelName, ModelVersion, PredictionId, TraceId, SpanId,
                Duration, StatusCode, PredictionValue, PredictionLabel, Confidence, Scores, Features,
                StringFeatures, Attributions, GroundTruth
            FROM {INGEST_TABLE} WHERE IsPrediction""",
        *_tail_sampling_statements(),
    ]


def _tail_sampling_statements() -> list[str]:
    """Spans waiting for a tail-sampling decision (negative SampleWeight), on disk and
    queryable, and the decisions remembered for late spans (spanwise.process.tail_sampling)."""
    return [
        f"""CREATE TABLE IF NOT EXISTS {TAIL_PENDING_TABLE} ({_SPAN_COLUMNS},
            IngestTime DateTime64(3)
        ) ENGINE = MergeTree ORDER BY (TraceId, Timestamp)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {TAIL_PENDING_TABLE}_mv TO {TAIL_PENDING_TABLE}
            AS SELECT * EXCEPT ({", ".join(PREDICTION_MAP_COLUMNS)}), now64(3) AS IngestTime
            FROM {INGEST_TABLE} WHERE SampleWeight < 0""",
        """CREATE TABLE IF NOT EXISTS spanwise_tail_decisions (
            TraceId String,
            Weight Float64,
            DecidedAt DateTime
        ) ENGINE = ReplacingMergeTree(DecidedAt) ORDER BY TraceId
        TTL DecidedAt + toIntervalDay(1)""",
    ]

"""The columnar log record: named and typed like the OpenTelemetry Collector ClickHouse
exporter's `otel_logs` table, so logs and spans share ids, service names and attribute
maps, and a trace's logs are one `TraceId` lookup away."""

from __future__ import annotations

import pyarrow as pa

from spanwise.core.spans import ATTRIBUTE_MAP, TIMESTAMP

# OTLP SeverityNumber ranges (1-4 TRACE ... 21-24 FATAL) by their short names.
SEVERITY_RANGES = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17, "FATAL": 21}

LOG_SCHEMA = pa.schema([
    pa.field("Timestamp", TIMESTAMP, nullable=False),
    pa.field("TraceId", pa.string(), nullable=False),
    pa.field("SpanId", pa.string(), nullable=False),
    pa.field("TraceFlags", pa.uint8(), nullable=False),
    pa.field("SeverityText", pa.string(), nullable=False),
    pa.field("SeverityNumber", pa.uint8(), nullable=False),
    pa.field("ServiceName", pa.string(), nullable=False),
    pa.field("Body", pa.string(), nullable=False),
    pa.field("ResourceAttributes", ATTRIBUTE_MAP, nullable=False),
    pa.field("ScopeName", pa.string(), nullable=False),
    pa.field("ScopeVersion", pa.string(), nullable=False),
    pa.field("LogAttributes", ATTRIBUTE_MAP, nullable=False),
])

"""The columnar span record every stage agrees on.

A batch of spans is a `pyarrow.Table` whose columns are named and typed like the
OpenTelemetry Collector ClickHouse exporter's `otel_traces` table, plus Spanwise's
typed AI columns. Receivers produce it, processors transform it, stores write it and
readers return it: one shape end to end, so no stage needs a per-span Python object.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

ATTRIBUTE_MAP = pa.map_(pa.string(), pa.string())
NUMBER_MAP = pa.map_(pa.string(), pa.float64())
TIMESTAMP = pa.timestamp("ns", tz="UTC")

# Names follow OTLP's enums (index = enum value) in the exporter's spelling.
SPAN_KIND_NAMES = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
STATUS_CODE_NAMES = ("Unset", "Ok", "Error")

#: Columns of the OpenTelemetry Collector ClickHouse exporter's `otel_traces` table.
OTEL_FIELDS: tuple[pa.Field, ...] = (
    pa.field("Timestamp", TIMESTAMP, nullable=False),
    pa.field("TraceId", pa.string(), nullable=False),
    pa.field("SpanId", pa.string(), nullable=False),
    pa.field("ParentSpanId", pa.string(), nullable=False),
    pa.field("TraceState", pa.string(), nullable=False),
    pa.field("SpanName", pa.string(), nullable=False),
    pa.field("SpanKind", pa.string(), nullable=False),
    pa.field("ServiceName", pa.string(), nullable=False),
    pa.field("ResourceAttributes", ATTRIBUTE_MAP, nullable=False),
    pa.field("ScopeName", pa.string(), nullable=False),
    pa.field("ScopeVersion", pa.string(), nullable=False),
    pa.field("SpanAttributes", ATTRIBUTE_MAP, nullable=False),
    pa.field("Duration", pa.uint64(), nullable=False),
    pa.field("StatusCode", pa.string(), nullable=False),
    pa.field("StatusMessage", pa.string(), nullable=False),
    pa.field("Events.Timestamp", pa.list_(TIMESTAMP), nullable=False),
    pa.field("Events.Name", pa.list_(pa.string()), nullable=False),
    pa.field("Events.Attributes", pa.list_(ATTRIBUTE_MAP), nullable=False),
    pa.field("Links.TraceId", pa.list_(pa.string()), nullable=False),
    pa.field("Links.SpanId", pa.list_(pa.string()), nullable=False),
    pa.field("Links.TraceState", pa.list_(pa.string()), nullable=False),
    pa.field("Links.Attributes", pa.list_(ATTRIBUTE_MAP), nullable=False),
)

#: Attribute values are stored as strings (as the exporter does); these maps keep the
#: OTLP type of every attribute that is not a string (`int64`, `float64`, `bool`,
#: `binary`, `array`, `map`) so the Jaeger API can type its tags faithfully.
TYPE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("ResourceAttributeTypes", ATTRIBUTE_MAP, nullable=False),
    pa.field("SpanAttributeTypes", ATTRIBUTE_MAP, nullable=False),
)

#: The canonical AI fields (see `spanwise.core.ml_attributes`), as real columns.
ML_FIELDS: tuple[pa.Field, ...] = (
    pa.field("IsPrediction", pa.bool_(), nullable=False),
    pa.field("ModelName", pa.string(), nullable=False),
    pa.field("ModelVersion", pa.string(), nullable=False),
    pa.field("PredictionId", pa.string(), nullable=False),
    pa.field("PredictionValue", pa.float64(), nullable=True),
    pa.field("PredictionLabel", pa.string(), nullable=False),
    pa.field("Confidence", pa.float64(), nullable=True),
    pa.field("Scores", NUMBER_MAP, nullable=False),
    pa.field("Features", NUMBER_MAP, nullable=False),
    pa.field("StringFeatures", ATTRIBUTE_MAP, nullable=False),
    pa.field("Attributions", NUMBER_MAP, nullable=False),
    pa.field("GroundTruth", pa.string(), nullable=False),
    pa.field("SampleWeight", pa.float64(), nullable=False),
)

#: What a receiver decodes: the exporter's columns plus attribute types.
DECODED_SCHEMA = pa.schema(OTEL_FIELDS + TYPE_FIELDS)

#: What a store writes and a reader returns.
SPAN_SCHEMA = pa.schema(OTEL_FIELDS + TYPE_FIELDS + ML_FIELDS)


#: One row per span attribute: which span (row of the span table), its key, its value as
#: text, its value as a number when it is an int or double, and its OTLP type name.
ATTRIBUTE_ROWS_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("key", pa.string()),
        ("text", pa.string()),
        ("number", pa.float64()),
        ("type", pa.string()),
    ]
)


@dataclass(frozen=True)
class SpanBatch:
    """What flows through the processor chain: the span table and its span attributes
    as flat rows (`ATTRIBUTE_ROWS_SCHEMA`), ordered like the `SpanAttributes` maps.
    Processors that change attributes keep both in step; rows index the span table."""

    spans: pa.Table
    attributes: pa.Table

    @property
    def num_spans(self) -> int:
        return self.spans.num_rows


def empty_spans() -> pa.Table:
    """A zero-row span table, for requests that carried no valid span."""
    return SPAN_SCHEMA.empty_table()

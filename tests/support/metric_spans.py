"""Small OTLP requests for the span-metrics tests, and writing them as ingest does."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests
from spanwise.store.protocols import TraceWriter
from otlp_build import add_attributes

HOUR = 3600 * 10**9
#: Mid-hour, on a minute: hourly and per-minute steps are predictable.
NOW = (time.time_ns() // HOUR) * HOUR - HOUR // 2


def export_request(service: str, spans: list[dict[str, Any]], **resource: str) -> bytes:
    """One export request; each span is a dict of `ms` (duration) and optionally `name`,
    `kind` (OTLP number), `status` (OTLP code), `start` (ns) and `attrs`."""
    body = ExportTraceServiceRequest()
    rs = body.resource_spans.add()
    for key, value in {"service.name": service, **resource}.items():
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = key, value
    ss = rs.scope_spans.add()
    for i, spec in enumerate(spans):
        s = ss.spans.add()
        s.trace_id = (abs(hash((service, i, time.time_ns()))) % 2**64 + 1).to_bytes(16, "big")
        s.span_id = (i + 1).to_bytes(8, "big")
        s.name, s.kind, s.status.code = spec.get("name", "op"), spec.get("kind", 2), spec.get("status", 0)
        s.start_time_unix_nano = spec.get("start", NOW)
        s.end_time_unix_nano = s.start_time_unix_nano + round(spec["ms"] * 10**6)
        add_attributes(s, spec.get("attrs", {}))
    return body.SerializeToString()


def write(store: TraceWriter, body: bytes, weight: float = 1.0) -> None:
    """Decode, derive AI fields and write, with every span's `SampleWeight` set to
    `weight` (0 = dropped by sampling)."""
    spans = MlFieldsProcessor().process(decode_export_requests([body]).batch).spans
    index = spans.schema.get_field_index("SampleWeight")
    weights = pa.chunked_array([pa.array([weight] * spans.num_rows, pa.float64())])
    store.write_spans(spans.set_column(index, spans.schema.field(index), weights))

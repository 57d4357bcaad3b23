"""Ingest writes the store must take: any partition spread a receiver lets through, and
retries that do not count twice (the ingest log retries and replays with one token)."""

from __future__ import annotations

import time
import zlib

import pyarrow as pa
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests
from spanwise.store import open_store
from spanwise.store.protocols import TraceStore
from spanwise.store import Store
from spanwise.store.protocols import MetricsReader, TraceWriter

PROTOCOLS = (TraceWriter, MetricsReader)
DAY = 86_400 * 10**9


def _spans(service: str, starts: list[int]) -> pa.Table:
    """One prediction span of model `service` per start time, each in a trace of its own
    (ids unique to the service: the module's tests share one store)."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", service
    ss = rs.scope_spans.add()
    for i, start in enumerate(starts, 1):
        span, trace = ss.spans.add(), zlib.crc32(service.encode()) << 32 | i
        span.trace_id, span.span_id, span.name = trace.to_bytes(16, "big"), i.to_bytes(8, "big"), "predict"
        span.start_time_unix_nano, span.end_time_unix_nano = start, start + 5_000_000
        for key, value in (("ml.model.name", service), ("ml.model.version", "v1"), ("ml.prediction.label", "yes")):
            attr = span.attributes.add()
            attr.key, attr.value.string_value = key, value
    return MlFieldsProcessor().process(decode_export_requests([request.SerializeToString()]).batch).spans


def _counts(store: Store, service: str, since: int) -> tuple[int, int, int]:
    """Spans by the RED summary, calls by the span metrics, predictions by the model metrics."""
    now = time.time_ns() + DAY
    red = sum(r.count for r in store.red_summary(since, now) if r.name == service)
    totals = store.metric_totals()
    calls = sum(m.duration_ms.count for m in totals.spans if m.service == service)
    predictions = sum(m.latency_ms.count for m in totals.models if m.model_name == service)
    return red, calls, predictions


def test_a_batch_spread_over_many_days_is_stored(store: Store) -> None:
    """150 spans a day apart each: ClickHouse's default (100 partitions per insert) refused it."""
    now = time.time_ns()
    store.write_spans(_spans("spread", [now - i * DAY for i in range(150)]))
    assert _counts(store, "spread", now - 200 * DAY) == (150, 150, 150)


def test_a_retry_with_the_same_token_does_not_count_twice(store: Store) -> None:
    now = time.time_ns()
    batch = _spans("retried", [now - i * 10**9 for i in range(20)])
    store.write_spans(batch, token="segment-1-000001.swlog")
    store.write_spans(batch, token="segment-1-000001.swlog")  # a retry, or a replay after a crash
    assert _counts(store, "retried", now - DAY) == (20, 20, 20)
    store.write_spans(batch, token="segment-2-000002.swlog")  # another segment is new data
    assert _counts(store, "retried", now - DAY)[1] == 40

"""OTLP protobuf decoders under hostile input: structure-aware requests (ids of every
length, uint64 edge times, deep and huge attribute values) and byte mutations of valid
requests. A decoder either returns consistent tables or raises a `SpanwiseError` (the
receivers turn that into a 400): any other exception would be a 500 or a dead batch."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pytest
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st
from otlp_fuzz import (
    count_log_records,
    count_points,
    count_spans,
    logs_requests,
    metrics_requests,
    mutate,
    trace_requests,
)

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from spanwise.core.exponential_histogram import MAX_SCALE, MIN_SCALE, quantile
from spanwise.core.otlp_metrics import EXPONENTIAL_HISTOGRAM, SUMMARY
from spanwise.errors import SpanwiseError
from spanwise.core.time_window import ANY_TIME, TimeWindow
from spanwise.receive.decode import DecodedSpans, decode_export_requests
from spanwise.receive.logs_decode import decode_logs_requests
from spanwise.receive.metrics_decode import decode_metrics_requests

windows = st.sampled_from([ANY_TIME, TimeWindow()])


def _map_entries(column: pa.ChunkedArray) -> int:
    return sum(len(chunk.keys) for chunk in column.chunks)


def check_spans(decoded: DecodedSpans, expected: int | None) -> None:
    """Every span is stored or counted as rejected (with a reason); attribute rows match
    the attribute maps and point at existing spans."""
    spans, rows = decoded.spans, decoded.span_attributes
    if expected is not None:
        assert spans.num_rows + decoded.rejected == expected
    assert decoded.rejected >= 0 and (decoded.reject_reason != "") == (decoded.rejected > 0)
    assert rows.num_rows == _map_entries(spans.column("SpanAttributes"))
    if rows.num_rows:
        assert 0 <= pc.min(rows.column("row")).as_py() and pc.max(rows.column("row")).as_py() < spans.num_rows
    assert all(len(t) in (0, 32) for t in spans.column("TraceId").to_pylist())


def decode_traces(bodies: list[bytes], window: TimeWindow, expected: int | None = None) -> None:
    try:
        decoded = decode_export_requests(bodies, window)
    except SpanwiseError:
        return
    check_spans(decoded, expected)


def decode_logs(bodies: list[bytes], window: TimeWindow, expected: int | None = None) -> None:
    try:
        decoded = decode_logs_requests(bodies, window)
    except SpanwiseError:
        return
    if expected is not None:
        assert decoded.logs.num_rows + decoded.rejected == expected


def decode_metrics(bodies: list[bytes], window: TimeWindow, expected: int | None = None) -> None:
    try:
        decoded = decode_metrics_requests(bodies, window)
    except SpanwiseError:
        return
    if expected is not None:
        assert decoded.accepted + decoded.rejected == expected
    for table in decoded.points.values():
        assert table.num_rows > 0
    _assert_readable(decoded.points)


def _assert_readable(points: dict[str, pa.Table]) -> None:
    """Stored distributions can be read back: scales in range, bucket indexes within Int32
    (and float64's range: a quantile never overflows), summary quantiles in [0, 1]."""
    exponential = points[EXPONENTIAL_HISTOGRAM].to_pylist() if EXPONENTIAL_HISTOGRAM in points else []
    for point in exponential:
        assert MIN_SCALE <= point["Scale"] <= MAX_SCALE
        sides = [{point[f"{side}Offset"] + i: n for i, n in enumerate(point[f"{side}BucketCounts"])}
                 for side in ("Positive", "Negative")]
        assert all(abs(index) < 2**31 - 1 for side in sides for index in side)
        for q in (0.0, 0.5, 1.0):
            quantile(q, point["Scale"], point["ZeroCount"], *sides)
    summaries = points[SUMMARY].column("ValueAtQuantiles.Quantile").to_pylist() if SUMMARY in points else []
    assert all(0 <= q <= 1 for quantiles in summaries for q in quantiles)


def test_metric_point_time_at_2_63() -> None:
    """Found by this suite: comparing the uint64 times with an int64 0 overflowed (ArrowInvalid, a 500)."""
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="g")
    metric.gauge.data_points.add(time_unix_nano=2**63, as_double=1.0)
    metric.gauge.data_points.add(time_unix_nano=0, start_time_unix_nano=2**64 - 1, as_double=1.0)
    assert decode_metrics_requests([request.SerializeToString()]).accepted == 2


@given(st.lists(trace_requests(), min_size=1, max_size=3), windows)
def test_trace_requests_decode_or_raise_spanwise_error(requests: list, window: TimeWindow) -> None:
    decode_traces([r.SerializeToString() for r in requests], window, sum(map(count_spans, requests)))


@given(logs_requests(), windows)
def test_logs_requests_decode_or_raise_spanwise_error(request: Any, window: TimeWindow) -> None:
    decode_logs([request.SerializeToString()], window, count_log_records(request))


@given(metrics_requests(), windows)
def test_metrics_requests_decode_or_raise_spanwise_error(request: Any, window: TimeWindow) -> None:
    decode_metrics([request.SerializeToString()], window, count_points(request))


@given(trace_requests(), st.integers(0, 2**32), windows)
def test_mutated_trace_bytes(request: object, seed: int, window: TimeWindow) -> None:
    body = mutate(request.SerializeToString(), random.Random(seed))  # type: ignore[attr-defined]
    decode_traces([body], window)


@given(logs_requests(), st.integers(0, 2**32), windows)
def test_mutated_logs_bytes(request: object, seed: int, window: TimeWindow) -> None:
    decode_logs([mutate(request.SerializeToString(), random.Random(seed))], window)  # type: ignore[attr-defined]


@given(metrics_requests(), st.integers(0, 2**32), windows)
def test_mutated_metrics_bytes(request: object, seed: int, window: TimeWindow) -> None:
    decode_metrics([mutate(request.SerializeToString(), random.Random(seed))], window)  # type: ignore[attr-defined]


@settings(max_examples=400)
@given(st.lists(st.binary(max_size=200), min_size=1, max_size=3))
def test_random_bytes_to_every_decoder(bodies: list[bytes]) -> None:
    decode_traces(bodies, ANY_TIME)
    decode_logs(bodies, ANY_TIME)
    decode_metrics(bodies, ANY_TIME)

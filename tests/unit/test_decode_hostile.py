"""Hostile inputs to the columnar decoders: values ptars leaves serialized (array and
kvlist attribute values, log bodies) that are garbage or nested past protobuf's limit make
the request malformed (400), never an unmapped exception; the ingest time window rejects
spans, log records and metric points that would make a batch unstorable."""

from __future__ import annotations

import time

import pytest
from google.protobuf.internal.encoder import _VarintBytes
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from spanwise.errors import MalformedPayload
from spanwise.receive.decode import decode_export_requests
from spanwise.receive.logs_decode import decode_logs_requests
from spanwise.receive.metrics_decode import decode_metrics_requests
from spanwise.core.time_window import DAY_S, TimeWindow

NOW = time.time_ns()
DAY = DAY_S * 10**9


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (tag byte = field number << 3 | 2)."""
    return bytes([tag]) + _VarintBytes(len(payload)) + payload


def _request_with_attribute(value: bytes) -> bytes:
    """An export request of one span whose attribute `k` has the serialized AnyValue `value`."""
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"\x01" * 16, b"\x02" * 8, "op"
    span.start_time_unix_nano, span.end_time_unix_nano = NOW, NOW + 1
    attribute = _field(0x4A, _field(0x0A, b"k") + _field(0x12, value))  # Span.attributes = KeyValue{key, value}
    return _field(0x0A, _field(0x12, _field(0x12, span.SerializeToString() + attribute)))


def _nested_arrays(depth: int) -> bytes:
    value = AnyValue(string_value="leaf").SerializeToString()
    for _ in range(depth):
        value = _field(0x2A, _field(0x0A, value))  # AnyValue.array_value = ArrayValue{values: [value]}
    return value


GARBAGE = b"\xff" * 12


@pytest.mark.parametrize("value", [
    _field(0x2A, _field(0x0A, GARBAGE)),                   # garbage inside an array
    _field(0x32, _field(0x0A, GARBAGE)),                   # garbage inside a kvlist
    _nested_arrays(150),                                   # deeper than protobuf allows
], ids=["array", "kvlist", "deep"])
def test_undecodable_nested_values_make_the_request_malformed(value: bytes) -> None:
    with pytest.raises(MalformedPayload, match="nested attribute value"):
        decode_export_requests([_request_with_attribute(value)])


def test_nesting_within_the_limit_is_rendered() -> None:
    decoded = decode_export_requests([_request_with_attribute(_nested_arrays(40))])
    assert decoded.spans.column("SpanAttributes")[0].as_py()[0][1].startswith("[[[[")


def test_a_log_body_nested_too_deep_is_malformed() -> None:
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.time_unix_nano = NOW
    body = record.SerializeToString() + _field(0x2A, _nested_arrays(150))  # LogRecord.body
    with pytest.raises(MalformedPayload):
        decode_logs_requests([_field(0x0A, _field(0x12, _field(0x12, body)))])


def _spans_at(*starts: int) -> bytes:
    request = ExportTraceServiceRequest()
    ss = request.resource_spans.add().scope_spans.add()
    for i, start in enumerate(starts, 1):
        span = ss.spans.add()
        span.trace_id, span.span_id, span.name = i.to_bytes(16, "big"), i.to_bytes(8, "big"), "op"
        span.start_time_unix_nano, span.end_time_unix_nano = start, min(start + 1, 2**64 - 1)
    return request.SerializeToString()


def test_the_time_window_rejects_spans_that_would_make_a_batch_unstorable() -> None:
    window = TimeWindow(max_age_s=30 * DAY_S, max_ahead_s=3600)
    now = time.time_ns()  # not the module's NOW: a long suite may run this test minutes after import
    starts = [now + 60 * 10**9 - i * DAY for i in range(150)] + [0, 1, NOW + 2 * 3600 * 10**9, 9_214_646_400 * 10**9, 2**63 - 1]
    decoded = decode_export_requests([_spans_at(*starts)], window)
    assert decoded.spans.num_rows == 31  # today and the 30 days before it
    assert decoded.rejected == len(starts) - 31
    assert "within 30 days before and 3600 s after" in decoded.reject_reason
    days = {t.date() for t in decoded.spans.column("Timestamp").to_pylist()}
    assert len(days) <= 32


def test_the_time_window_applies_to_log_records_and_metric_points() -> None:
    window = TimeWindow(max_age_s=DAY_S, max_ahead_s=60)
    logs = ExportLogsServiceRequest()
    records = logs.resource_logs.add().scope_logs.add()
    for t in (NOW, NOW - 3 * DAY, 1):
        records.log_records.add().time_unix_nano = t
    decoded_logs = decode_logs_requests([logs.SerializeToString()], window)
    assert (decoded_logs.logs.num_rows, decoded_logs.rejected) == (1, 2)
    metrics = ExportMetricsServiceRequest()
    gauge = metrics.resource_metrics.add().scope_metrics.add().metrics.add()
    gauge.name = "g"
    for t in (NOW, NOW + 10 * DAY):
        gauge.gauge.data_points.add(time_unix_nano=t, as_double=1.0)
    decoded_metrics = decode_metrics_requests([metrics.SerializeToString()], window)
    assert (decoded_metrics.accepted, decoded_metrics.rejected) == (1, 1)
    assert "within 1 days" in decoded_metrics.reject_reason


def test_kvlist_pairs_decode() -> None:
    """The ordinary kvlist path still works (guards the parse helper's types)."""
    value = AnyValue()
    value.kvlist_value.values.append(KeyValue(key="a", value=AnyValue(int_value=3)))
    decoded = decode_export_requests([_request_with_attribute(value.SerializeToString())])
    assert decoded.spans.column("SpanAttributes")[0].as_py() == [("k", '{"a":3}')]


def test_metric_points_with_extreme_integers_and_times_decode() -> None:
    """Found by the fuzz suite: an int64 point above 2^53 failed the safe cast to float, and a
    time of 2^63 or more overflowed a comparison with an int64 zero (both ArrowInvalid: a 500)."""
    request = ExportMetricsServiceRequest()
    gauge = request.resource_metrics.add().scope_metrics.add().metrics.add(name="g").gauge
    gauge.data_points.add(time_unix_nano=NOW, as_int=2**53 + 1)
    gauge.data_points.add(time_unix_nano=2**63, as_int=-(2**63))
    decoded = decode_metrics_requests([request.SerializeToString()])
    assert decoded.accepted == 2
    assert decoded.points["gauge"].column("Value").to_pylist() == [float(2**53 + 1), float(-(2**63))]


def _distributions(*scales_offsets_lengths: tuple[int, int, int], quantiles: tuple[list[float], ...] = ()) -> bytes:
    """Exponential histogram points (scale, positive offset, bucket count) and summary points
    (their quantiles), all at NOW."""
    request = ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    exponential = metrics.add(name="e").exponential_histogram
    for scale, offset, length in scales_offsets_lengths:
        point = exponential.data_points.add(time_unix_nano=NOW, scale=scale, count=length)
        point.positive.offset = offset
        point.positive.bucket_counts.extend([1] * length)
    summary = metrics.add(name="s").summary
    for values in quantiles:
        point = summary.data_points.add(time_unix_nano=NOW, count=1)
        for q in values:
            point.quantile_values.add(quantile=q, value=1.0)
    return request.SerializeToString()


@pytest.mark.parametrize("point, readable", [
    ((20, 2**31 - 1, 1), False),  # offset + buckets past Int32
    ((20, -(2**31), 1), False),
    ((20, 1100 * 2**20, 1), True),  # the highest index float64 can need, at scale 20
    ((20, 1100 * 2**20 + 2, 1), False),
    ((-10, -2, 3), True),  # at scale -10 indexes -2..1 hold every float64 (subnormals in -2)
    ((-10, 2, 1), False),
    ((21, 0, 1), False), ((-11, 0, 1), False), ((2**31 - 1, 0, 1), False),
    ((6, 0, 2048), True), ((6, 0, 2049), False),  # at most 2048 buckets a side
])
def test_exponential_histograms_past_otlp_or_float64_are_rejected(point: tuple[int, int, int], readable: bool) -> None:
    decoded = decode_metrics_requests([_distributions(point)])
    assert (decoded.accepted, decoded.rejected) == ((1, 0) if readable else (0, 1))
    if not readable:
        assert decoded.reject_reason.startswith("1 exponential histogram point(s): scale must lie in [-10, 20]")


def test_summaries_with_quantiles_outside_0_1_or_too_many_are_rejected() -> None:
    good: tuple[list[float], ...] = ([0.0, 0.5, 1.0], [], [0.5] * 64)
    bad: tuple[list[float], ...] = ([1.5], [float("nan")], [-0.01, 0.5], [0.5] * 65)
    decoded = decode_metrics_requests([_distributions(quantiles=good + bad)])
    assert (decoded.accepted, decoded.rejected) == (3, 4)
    assert decoded.reject_reason == "4 summary point(s): at most 64 quantiles, each between 0 and 1"
    kept = decoded.points["summary"].column("ValueAtQuantiles.Quantile").to_pylist()
    assert kept == [[0.0, 0.5, 1.0], [], [0.5] * 64]

"""Hypothesis strategies for hostile-but-well-formed OTLP requests, and byte mutators.

Used by the fuzz tests (tests/fuzz/) and the coverage-guided fuzzer (bench/fuzz): the
strategies build protobuf messages a careless or malicious sender could produce (ids of
every length, times at the uint64 edges, deep or huge attribute values, NUL and
non-BMP text), `count_*` says how many records a request holds so a test can check that
every record was either decoded or counted as rejected.
"""

from __future__ import annotations

import random
import time
from typing import Any

from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1 import metrics_pb2 as m
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

NOW = time.time_ns()
EDGE_TIMES = [0, 1, NOW, NOW - 3600 * 10**9, 2**62, 2**63 - 1, 2**63, 2**64 - 1]
INT32 = st.integers(-(2**31), 2**31 - 1)
UINT32 = st.integers(0, 2**32 - 1)
UINT64 = st.integers(0, 2**64 - 1)

times = st.one_of(st.sampled_from(EDGE_TIMES), UINT64, st.integers(NOW - 10**13, NOW + 10**12))
ids = st.one_of(
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=8, max_size=8),
    st.sampled_from([b"", b"\x00" * 16, b"\x00" * 8, b"\xff"]),
    st.binary(max_size=40),
)
_SPECIAL_TEXT = ["", "\x00", "a\x00b", "service.name", "\U0001f600" * 3, "\u202e\ufeff", "é" * 300]
_HUGE = st.integers(1_000, 100_000).map(lambda n: "\U0001f600x"[n % 2] * n)  # built cheaply
text = st.integers(0, 40).flatmap(  # mostly short, special one in 4, huge one in 40
    lambda n: _HUGE if n == 0 else st.sampled_from(_SPECIAL_TEXT) if n < 10
    else st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
)
scalar_values = st.one_of(
    text.map(lambda s: AnyValue(string_value=s)),
    st.booleans().map(lambda b: AnyValue(bool_value=b)),
    st.integers(-(2**63), 2**63 - 1).map(lambda i: AnyValue(int_value=i)),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: AnyValue(double_value=f)),
    st.binary(max_size=64).map(lambda b: AnyValue(bytes_value=b)),
    st.just(AnyValue()),
)


def _array(values: list[AnyValue]) -> AnyValue:
    return AnyValue(array_value=ArrayValue(values=values))


def _kvlist(pairs: dict[str, AnyValue]) -> AnyValue:
    return AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in pairs.items()]))


def add_deep_value(attributes: Any, depth: int, use_kvlist: bool) -> None:
    """Append an attribute whose value is an array (or kvlist) nested `depth` levels: past
    protobuf's recursion limit (100) a full parse fails, which the decoders must report as
    a malformed payload. Built in place: copying such a message would re-parse it."""
    kv = attributes.add()
    kv.key = "deep"
    value = kv.value
    for _ in range(depth):
        if use_kvlist:
            pair = value.kvlist_value.values.add()
            pair.key = "k"
            value = pair.value
        else:
            value = value.array_value.values.add()
    value.string_value = "leaf"


def maybe_deep(draw: Any, attributes: Any) -> None:
    """Sometimes (1 in 8) give a message a deeply nested attribute value."""
    if draw(st.integers(0, 7)) == 0:
        add_deep_value(attributes, draw(st.integers(1, 140)), draw(st.booleans()))


any_values = st.recursive(
    scalar_values,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(_array),
        st.dictionaries(st.text(max_size=5), children, max_size=4).map(_kvlist),
    ),
    max_leaves=6,
)
key_values = st.lists(st.builds(KeyValue, key=text, value=any_values), max_size=3)
flat_key_values = st.lists(st.builds(KeyValue, key=text, value=scalar_values), max_size=2)
resource_attrs = st.one_of(
    key_values,
    text.map(lambda s: [KeyValue(key="service.name", value=AnyValue(string_value=s))]),
)


def fill_span(draw: Any, span: Span) -> None:
    """Fill a span in place (a copy of a deeply nested one would be re-parsed and fail)."""
    span.MergeFrom(Span(
        trace_id=draw(ids), span_id=draw(ids), parent_span_id=draw(ids), name=draw(text),
        kind=draw(st.one_of(st.integers(0, 6), INT32)), start_time_unix_nano=draw(times),
        end_time_unix_nano=draw(times), attributes=draw(key_values), trace_state=draw(text),
        status=Status(code=draw(st.one_of(st.integers(0, 3), INT32)), message=draw(text)),
        dropped_attributes_count=draw(UINT32), flags=draw(UINT32),
    ))
    maybe_deep(draw, span.attributes)
    for _ in range(draw(st.integers(0, 2))):
        span.events.add(time_unix_nano=draw(times), name=draw(text), attributes=draw(flat_key_values))
    for _ in range(draw(st.integers(0, 2))):
        span.links.add(trace_id=draw(ids), span_id=draw(ids), trace_state=draw(text), attributes=draw(flat_key_values))


@st.composite
def trace_requests(draw: Any) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(0, 3))):
        rs = request.resource_spans.add()
        rs.resource.attributes.extend(draw(resource_attrs))
        for _ in range(draw(st.integers(0, 2))):
            ss = rs.scope_spans.add()
            ss.scope.name, ss.scope.version = draw(text), draw(text)
            for _ in range(draw(st.integers(0, 4))):
                fill_span(draw, ss.spans.add())
    return request


def fill_log_record(draw: Any, record: LogRecord) -> None:
    record.MergeFrom(LogRecord(
        time_unix_nano=draw(times), observed_time_unix_nano=draw(times),
        severity_number=draw(st.one_of(st.integers(0, 24), INT32)), severity_text=draw(text),
        body=draw(st.one_of(any_values, st.just(None))), attributes=draw(key_values),
        flags=draw(UINT32), trace_id=draw(ids), span_id=draw(ids),
    ))
    maybe_deep(draw, record.attributes)


@st.composite
def logs_requests(draw: Any) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    for _ in range(draw(st.integers(0, 3))):
        rl = request.resource_logs.add()
        rl.resource.attributes.extend(draw(resource_attrs))
        for _ in range(draw(st.integers(0, 2))):
            sl = rl.scope_logs.add()
            sl.scope.name = draw(text)
            for _ in range(draw(st.integers(0, 4))):
                fill_log_record(draw, sl.log_records.add())
    return request


@st.composite
def _number_point(draw: Any) -> m.NumberDataPoint:
    point = m.NumberDataPoint(start_time_unix_nano=draw(times), time_unix_nano=draw(times),
                              attributes=draw(key_values), flags=draw(UINT32))
    if draw(st.booleans()):
        point.as_double = draw(st.floats())
    elif draw(st.booleans()):
        point.as_int = draw(st.integers(-(2**63), 2**63 - 1))
    return point


@st.composite
def _histogram_point(draw: Any) -> m.HistogramDataPoint:
    """Bucket counts and bounds of independent lengths: a sender may get them wrong."""
    point = m.HistogramDataPoint(
        start_time_unix_nano=draw(times), time_unix_nano=draw(times), count=draw(UINT64),
        bucket_counts=draw(st.lists(UINT64, max_size=6)), explicit_bounds=draw(st.lists(st.floats(), max_size=6)),
        attributes=draw(key_values), flags=draw(UINT32),
    )
    for name in ("sum", "min", "max"):
        if draw(st.booleans()):
            setattr(point, name, draw(st.floats()))
    return point


@st.composite
def _exponential_point(draw: Any) -> m.ExponentialHistogramDataPoint:
    """Scales and offsets at and past OTLP's limits (mostly near them), sides present or not."""
    scale = draw(st.integers(-12, 22)) if draw(st.integers(0, 3)) else draw(INT32)
    point = m.ExponentialHistogramDataPoint(
        start_time_unix_nano=draw(times), time_unix_nano=draw(times), count=draw(UINT64), scale=scale,
        zero_count=draw(UINT64), attributes=draw(key_values), flags=draw(UINT32),
    )
    for side in (point.positive, point.negative):
        if draw(st.booleans()):
            side.offset = draw(st.integers(-3000, 3000)) if draw(st.integers(0, 3)) else draw(INT32)
            side.bucket_counts.extend(draw(st.lists(UINT64, max_size=6)))
    for name in ("sum", "min", "max"):
        if draw(st.booleans()):
            setattr(point, name, draw(st.floats()))
    return point


@st.composite
def _summary_point(draw: Any) -> m.SummaryDataPoint:
    point = m.SummaryDataPoint(start_time_unix_nano=draw(times), time_unix_nano=draw(times), count=draw(UINT64),
                               sum=draw(st.floats()), attributes=draw(key_values), flags=draw(UINT32))
    for _ in range(draw(st.integers(0, 4))):
        point.quantile_values.add(quantile=draw(st.one_of(st.floats(0, 1), st.floats())), value=draw(st.floats()))
    return point


@st.composite
def metrics(draw: Any) -> m.Metric:
    metric = m.Metric(name=draw(text), description=draw(text), unit=draw(text))
    kind = draw(st.sampled_from(["gauge", "sum", "histogram", "exponential_histogram", "summary", "none"]))
    temporality = draw(st.one_of(st.integers(0, 2), INT32))
    if kind == "gauge":
        metric.gauge.data_points.extend(draw(st.lists(_number_point(), max_size=3)))
    elif kind == "sum":
        metric.sum.data_points.extend(draw(st.lists(_number_point(), max_size=3)))
        metric.sum.aggregation_temporality, metric.sum.is_monotonic = temporality, draw(st.booleans())
    elif kind == "histogram":
        metric.histogram.data_points.extend(draw(st.lists(_histogram_point(), max_size=3)))
        metric.histogram.aggregation_temporality = temporality
    elif kind == "exponential_histogram":
        metric.exponential_histogram.data_points.extend(draw(st.lists(_exponential_point(), max_size=3)))
        metric.exponential_histogram.aggregation_temporality = temporality
    elif kind == "summary":
        metric.summary.data_points.extend(draw(st.lists(_summary_point(), max_size=3)))
    return metric


@st.composite
def metrics_requests(draw: Any) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    for _ in range(draw(st.integers(0, 3))):
        rm = request.resource_metrics.add()
        rm.resource.attributes.extend(draw(resource_attrs))
        maybe_deep(draw, rm.resource.attributes)
        for _ in range(draw(st.integers(0, 2))):
            sm = rm.scope_metrics.add()
            sm.scope.name = draw(text)
            sm.metrics.extend(draw(st.lists(metrics(), max_size=3)))
    return request


def count_spans(request: ExportTraceServiceRequest) -> int:
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


def count_log_records(request: ExportLogsServiceRequest) -> int:
    return sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)


def count_points(request: ExportMetricsServiceRequest) -> int:
    total = 0
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                total += len(getattr(metric, kind).data_points) if kind else 0
    return total


# ------------------------------------------------------------------ byte mutation


def mutate(data: bytes, rng: random.Random, rounds: int = 4) -> bytes:
    """A few byte-level edits of `data` (flip, insert, delete, duplicate a slice, set a byte
    to a varint/tag edge value): cheap, and good at breaking length prefixes."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, rounds)):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[pos:pos] = bytes([rng.choice([0x00, 0x7F, 0x80, 0xFF, 0x0A, 0x12, 0x1A])])
        elif op == 2 and buf:
            del buf[pos : pos + rng.randint(1, 8)]
        elif op == 3 and buf:
            start = rng.randrange(len(buf))
            buf[pos:pos] = buf[start : start + rng.randint(1, 64)]
        elif op == 4 and buf:
            buf[min(pos, len(buf) - 1)] = rng.choice([0x00, 0x7F, 0x80, 0xFF])
        elif op == 5:
            buf[pos:pos] = b"\xff" * rng.randint(1, 10)  # an overlong varint / huge length prefix
    return bytes(buf)

"""The vectorized OTLP decoder against the plain reference decoder, on realistic and
randomly generated requests (seeded, so failures reproduce)."""

from __future__ import annotations

import math
import random
import struct

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from reference_decode import arrow_double_text, reference_decode

from spanwise.errors import MalformedPayload
from spanwise.core.spans import ATTRIBUTE_ROWS_SCHEMA, DECODED_SCHEMA
from spanwise.receive.decode import (
    DecodedSpans,
    attributes,
    decode_export_requests,
    hex_ids,
)

T0 = 1_700_000_000 * 10**9


# --- comparison -------------------------------------------------------------------


def _same_value(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    return a == b


def _comparable(table: pa.Table) -> pa.Table:
    """Float columns as bit patterns (NaN made canonical) so equals() sees NaN == NaN and -0.0 != 0.0."""
    for i, field in enumerate(table.schema):
        if pa.types.is_floating(field.type):
            column = table.column(i).combine_chunks()
            column = pc.if_else(pc.is_nan(column), math.nan, column).view(pa.int64())
            table = table.set_column(i, field.name, column)
    return table


def _first_difference(actual: pa.Table, expected: pa.Table) -> str:
    for name in expected.column_names:
        got, want = actual.column(name).to_pylist(), expected.column(name).to_pylist()
        for row, (g, w) in enumerate(zip(got, want)):
            if not _same_value(g, w):
                return f"column {name!r}, row {row}: decoder {g!r} != reference {w!r}"
        if len(got) != len(want):
            return f"column {name!r}: decoder has {len(got)} rows, reference {len(want)}"
    return "tables differ, but no differing value was found (chunking/nulls?)"


def assert_same_table(actual: pa.Table, expected: pa.Table, what: str) -> None:
    assert actual.schema == expected.schema, f"{what} schemas differ:\n{actual.schema}\n---\n{expected.schema}"
    if not _comparable(actual).equals(_comparable(expected)):
        pytest.fail(f"{what}: {_first_difference(actual, expected)}")


def assert_matches_reference(bodies: list[bytes]) -> DecodedSpans:
    actual, expected = decode_export_requests(bodies), reference_decode(bodies)
    assert actual.spans.schema == DECODED_SCHEMA
    assert expected.span_attributes.schema == ATTRIBUTE_ROWS_SCHEMA
    assert_same_table(actual.spans, expected.spans, "spans")
    assert_same_table(actual.span_attributes, expected.span_attributes, "span_attributes")
    assert actual.rejected == expected.rejected
    if actual.spans.num_rows or actual.rejected:  # see test_no_spans_no_reject_reason
        assert actual.reject_reason == expected.reject_reason
    return actual


# --- realistic traces (the shape of bench/otlp_load.py's `build`) -------------------


def _set(value: AnyValue, val: object) -> None:
    if isinstance(val, bool):
        value.bool_value = val
    elif isinstance(val, int):
        value.int_value = val
    elif isinstance(val, float):
        value.double_value = val
    else:
        value.string_value = str(val)


def inference_traces(ntraces: int, rng: random.Random) -> bytes:
    """Five-span AI inference traces across three services, as the load generator sends."""
    request = ExportTraceServiceRequest()
    scopes = {}
    for service in ("frontend", "api", "inference"):
        rs = request.resource_spans.add()
        attr = rs.resource.attributes.add()
        attr.key, attr.value.string_value = "service.name", service
        scopes[service] = rs.scope_spans.add()
        scopes[service].scope.name = "loadgen"
    plan = [
        ("frontend", "GET /predict", None, 0, 40),
        ("api", "inference_request", 0, 1, 38),
        ("api", "fetch_features", 1, 2, 10),
        ("inference", "model_predict", 1, 12, 20),
        ("api", "post_process_result", 1, 33, 3),
    ]
    for _ in range(ntraces):
        trace_id, start = rng.randbytes(16), T0 + rng.randrange(3600 * 10**9)
        ids = [rng.randbytes(8) for _ in plan]
        for k, (service, name, parent, offset_ms, duration_ms) in enumerate(plan):
            span = scopes[service].spans.add()
            span.trace_id, span.span_id, span.name = trace_id, ids[k], name
            if parent is not None:
                span.parent_span_id = ids[parent]
            span.kind = 2 if k < 2 else 1
            span.start_time_unix_nano = start + offset_ms * 1_000_000
            span.end_time_unix_nano = span.start_time_unix_nano + int(duration_ms * 1e6 * rng.lognormvariate(0, 0.5))
            attrs = [("user.id", f"user_{rng.randrange(100000)}")]
            if name == "model_predict":
                attrs += [("ml.model.name", rng.choice(["fraud", "churn"])), ("ml.model.version", "v1")]
                attrs += [("ml.prediction.id", trace_id.hex())]
                attrs += [(f"ml.feature.f{f}", rng.gauss(0.5, 0.1)) for f in range(8)]
                attrs += [("ml.prediction.value", rng.random()), ("ml.prediction.confidence", rng.betavariate(8, 2))]
            for key, val in attrs:
                attr = span.attributes.add()
                attr.key = key
                _set(attr.value, val)
            if rng.random() < 0.02:
                span.status.code, span.status.message = 2, "boom"
    return request.SerializeToString()


def test_load_generator_traces_match_reference() -> None:
    bodies = [inference_traces(50, random.Random(seed)) for seed in range(4)]
    decoded = assert_matches_reference(bodies)
    assert decoded.spans.num_rows == 4 * 50 * 5 and decoded.rejected == 0


# --- random requests --------------------------------------------------------------

INTS = [0, 1, -1, 42, -(2**63), 2**63 - 1, 2**53 + 1, -(2**53) - 3, 1234567890123456789]
DOUBLES = [0.1, 3.0, 1e20, -0.0, 0.0, math.nan, math.inf, -math.inf, 1e-7, 1e-6, 1e9, 1e10, 5e-324, 2.5]
STRINGS = ["", "hello", "ünïcødé ✓", 'quote " and \\ and \n newline', "x" * 300]
KEYS = ["service.name", "user.id", "a", "b", "ml.feature.f0", "dup", ""]


def fill_value(value: AnyValue, rng: random.Random, depth: int = 0) -> None:
    kinds = ["string", "bool", "int", "double", "bytes", "empty", "strindex"]
    kinds += ["array", "kvlist"] if depth < 2 else []
    kind = rng.choice(kinds)
    if kind == "string":
        value.string_value = rng.choice(STRINGS)
    elif kind == "bool":
        value.bool_value = rng.random() < 0.5
    elif kind == "int":
        value.int_value = rng.choice(INTS + [rng.randrange(-(2**63), 2**63)])
    elif kind == "double":
        value.double_value = rng.choice(DOUBLES + [rng.uniform(-1e6, 1e6), struct.unpack("<d", rng.randbytes(8))[0]])
    elif kind == "bytes":
        value.bytes_value = rng.randbytes(rng.randrange(0, 12))
    elif kind == "array":
        value.array_value.SetInParent()
        for _ in range(rng.randrange(0, 4)):
            fill_value(value.array_value.values.add(), rng, depth + 1)
    elif kind == "kvlist":
        value.kvlist_value.SetInParent()
        for _ in range(rng.randrange(0, 4)):
            kv = value.kvlist_value.values.add()
            kv.key = rng.choice(KEYS)
            fill_value(kv.value, rng, depth + 1)
    elif kind == "strindex":  # profiles' dictionary index: no text of its own, rendered as ""
        value.string_value_strindex = rng.randrange(0, 5)
    # "empty": an AnyValue with no value set


def add_attributes(target, rng: random.Random, most: int = 5) -> None:
    for _ in range(rng.randrange(0, most + 1)):
        kv = target.add()
        kv.key = rng.choice(KEYS)
        if rng.random() < 0.95:  # else the KeyValue has no value message at all
            fill_value(kv.value, rng)


def random_id(rng: random.Random, width: int, bad: float) -> bytes:
    if rng.random() >= bad:
        return rng.randbytes(width)
    return rng.choice([b"", bytes(width), rng.randbytes(width - 1), rng.randbytes(width + 1)])


def random_span(span, rng: random.Random) -> None:
    span.trace_id = random_id(rng, 16, 0.1)
    span.span_id = random_id(rng, 8, 0.1)
    parents = [b"", rng.randbytes(8), bytes(8)] + ([rng.randbytes(4)] if rng.random() < 0.1 else [])
    span.parent_span_id = rng.choice(parents)
    span.trace_state = rng.choice(["", "vendor=1", "a=b,c=d"])
    span.name = rng.choice(STRINGS)
    span.kind = rng.choice([0, 1, 2, 3, 4, 5, 9, -1])
    start = rng.choice([0, T0 + rng.randrange(10**12)])
    span.start_time_unix_nano = start
    span.end_time_unix_nano = max(start + rng.choice([-rng.randrange(1, 10**6), 0, rng.randrange(10**9)]), 0)
    add_attributes(span.attributes, rng)
    for _ in range(rng.randrange(0, 3)):
        event = span.events.add()
        event.name, event.time_unix_nano = rng.choice(STRINGS), T0 + rng.randrange(10**9)
        add_attributes(event.attributes, rng, 3)
    for _ in range(rng.randrange(0, 3)):
        link = span.links.add()
        link.trace_id, link.span_id = random_id(rng, 16, 0.3), random_id(rng, 8, 0.3)  # links are not validated
        link.trace_state = rng.choice(["", "k=v"])
        add_attributes(link.attributes, rng, 3)
    choice = rng.randrange(4)
    if choice:  # 0: no status message at all
        span.status.code = rng.choice([0, 1, 2, 7])
        span.status.message = rng.choice(["", "boom"])


def random_request(rng: random.Random) -> bytes:
    request = ExportTraceServiceRequest()
    for _ in range(rng.randrange(0, 4)):
        rs = request.resource_spans.add()
        service = rng.randrange(6)
        if service == 0:
            pass  # no resource at all
        elif service == 1:
            add_attributes(rs.resource.attributes, rng)  # service.name maybe, maybe typed
        else:
            kv = rs.resource.attributes.add()
            kv.key, kv.value.string_value = "service.name", rng.choice(["svc-a", "svc-b", ""])
            add_attributes(rs.resource.attributes, rng, 2)
        for _ in range(rng.randrange(0, 4)):
            ss = rs.scope_spans.add()
            if rng.random() < 0.7:
                ss.scope.name = rng.choice(["lib", ""])
                if rng.random() < 0.5:
                    ss.scope.version = "1.2.3"
            for _ in range(rng.randrange(0, 5)):
                random_span(ss.spans.add(), rng)
    return request.SerializeToString()


@pytest.mark.parametrize("seed", range(40))
def test_random_requests_match_reference(seed: int) -> None:
    rng = random.Random(seed)
    bodies = [random_request(rng) for _ in range(rng.randrange(1, 5))]
    assert_matches_reference(bodies)


def test_every_value_type_in_one_span() -> None:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id = b"\x01" * 16, b"\x02" * 8
    values: list[tuple[str, object]] = [("s", "text"), ("t", True), ("f", False)]
    values += [(f"i{n}", v) for n, v in enumerate(INTS)] + [(f"d{n}", v) for n, v in enumerate(DOUBLES)]
    for key, val in values:
        kv = span.attributes.add()
        kv.key = key
        _set(kv.value, val)
    kv = span.attributes.add()
    kv.key, kv.value.bytes_value = "bytes", b"\x00\xffhi"
    kv = span.attributes.add()
    kv.key = "empty"
    kv.value.SetInParent()
    kv = span.attributes.add()
    kv.key = "array"
    for val in [1, 0.5, "x", True, math.nan]:
        _set(kv.value.array_value.values.add(), val)
    kv.value.array_value.values.add().bytes_value = b"\x01"
    kv.value.array_value.values.add()  # empty
    kv = span.attributes.add()
    kv.key = "map"
    inner = kv.value.kvlist_value.values.add()
    inner.key = "nested"
    inner.value.kvlist_value.values.add().key = "deep"
    decoded = assert_matches_reference([request.SerializeToString()])
    assert decoded.spans.column("ServiceName").to_pylist() == ["unknown_service"]
    rows = decoded.span_attributes
    texts = dict(zip(rows.column("key").to_pylist(), rows.column("text").to_pylist()))
    assert (texts["d1"], texts["d2"], texts["d3"], texts["i4"]) == ("3", "1e+20", "-0", "-9223372036854775808")
    assert texts["array"] == '[1,0.5,"x",true,null,"AQ==",null]' and texts["map"] == '{"nested":{"deep":null}}'


def test_invalid_ids_are_rejected_and_counted() -> None:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for trace_id, span_id, parent in [
        (b"\x01" * 16, b"\x02" * 8, b""),
        (bytes(16), b"\x02" * 8, b""),
        (b"\x01" * 15, b"\x02" * 8, b""),
        (b"\x01" * 16, bytes(8), b""),
        (b"\x01" * 16, b"\x02" * 9, b""),
        (b"\x01" * 16, b"\x02" * 8, b"\x03" * 4),
        (b"\x01" * 16, b"\x03" * 8, bytes(8)),
    ]:
        span = spans.add()
        span.trace_id, span.span_id, span.parent_span_id = trace_id, span_id, parent
    decoded = assert_matches_reference([request.SerializeToString()])
    assert decoded.rejected == 5 and decoded.spans.num_rows == 2
    assert decoded.reject_reason.count(";") == 2


@pytest.mark.parametrize("bodies", [[], [b""], [b"", b""]], ids=["none", "empty", "two-empty"])
def test_no_spans(bodies: list[bytes]) -> None:
    decoded = assert_matches_reference(bodies)
    assert decoded.spans.num_rows == 0 and decoded.span_attributes.num_rows == 0


def test_no_spans_no_reject_reason() -> None:
    assert decode_export_requests([b""]).reject_reason == ""


def test_all_spans_rejected() -> None:
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add().name = "no ids"
    decoded = assert_matches_reference([request.SerializeToString()])
    assert decoded.rejected == 1 and decoded.spans.num_rows == 0


# --- malformed payloads -----------------------------------------------------------

_VALID = inference_traces(2, random.Random(0))
_BAD_UTF8 = inference_traces(1, random.Random(0)).replace(b"GET /predict", b"GET /pr\xffdict")


@pytest.mark.parametrize(
    "body",
    [b"\xff", b"\x0a", b"\x0a\x05abc", b"\x0a" + b"\xff" * 10 + b"\x01", _VALID[:-7], b"\x07\x00", _BAD_UTF8],
    ids=["bad-tag", "missing-length", "short-field", "huge-length", "truncated", "bad-wire-type", "bad-utf8"],
)
def test_malformed_bytes_raise(body: bytes) -> None:
    with pytest.raises(DecodeError):  # the payloads really are malformed
        ExportTraceServiceRequest.FromString(body)
    with pytest.raises(MalformedPayload):
        decode_export_requests([_VALID, body])


@pytest.mark.parametrize("where", ["start", "end", "event"])
def test_out_of_range_times_are_rejected_or_clamped(where: str) -> None:
    """Span times past 2^63 ns are invalid (rejected, counted); event times are clamped."""
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id = b"\x01" * 16, b"\x02" * 8
    if where == "event":
        span.events.add().time_unix_nano = 2**63
    else:
        setattr(span, f"{where}_time_unix_nano", 2**64 - 1)
    decoded = assert_matches_reference([request.SerializeToString()])
    if where == "event":
        assert decoded.rejected == 0 and decoded.spans.num_rows == 1
    else:
        assert decoded.rejected == 1 and "2^63" in decoded.reject_reason


# --- vectorized helpers on sliced arrays -------------------------------------------


def test_hex_ids_on_sliced_arrays() -> None:
    raw = [b"\xaa" * 8, bytes(range(8)), b"", b"\xff\x00" * 4, b"\x01" * 3]
    ids = pa.array(raw, pa.binary())
    expected = [bytes(range(8)).hex(), "", "ff00" * 4, "00" * 8]
    assert hex_ids(ids.slice(1), 8).to_pylist() == expected
    assert hex_ids(ids.slice(2, 2), 8).to_pylist() == expected[1:3]
    assert hex_ids(pa.chunked_array([ids.slice(0, 2), ids.slice(3)]), 8).to_pylist() == [
        "aa" * 8,
        expected[0],
        *expected[2:],
    ]


def _span_attribute_lists(body: bytes) -> pa.ListArray:
    from spanwise.receive.decode import _HANDLER  # the decoder's own ptars handler

    record = _HANDLER.list_to_record_batch([body])
    scope_spans = pc.list_flatten(pc.struct_field(pc.list_flatten(record.column("resource_spans")), "scope_spans"))
    spans = pc.list_flatten(pc.struct_field(scope_spans, "spans"))
    return pc.struct_field(spans, "attributes")


def test_attributes_on_sliced_list_array() -> None:
    rng = random.Random(7)
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for n in range(6):
        span = spans.add()
        for k in range(n % 3 + 1 if n != 2 else 0):
            kv = span.attributes.add()
            kv.key = f"k{k}"
            fill_value(kv.value, rng)
    lists = _span_attribute_lists(request.SerializeToString())
    full = attributes(lists)
    for start, length in [(1, 5), (2, 3), (3, 1), (5, 1)]:
        part = attributes(lists.slice(start, length))
        assert part.values.to_pylist() == full.values.slice(start, length).to_pylist()
        assert part.types.to_pylist() == full.types.slice(start, length).to_pylist()
        owner = full.rows["row"]
        rows = full.rows.filter(pc.and_(pc.greater_equal(owner, start), pc.less(owner, start + length)))
        rows = rows.set_column(0, "row", pc.subtract(rows["row"], start))
        assert_same_table(part.rows, rows, f"rows of slice({start}, {length})")


# --- the reference's own formatting rule ------------------------------------------


def test_arrow_double_text_matches_arrow_cast() -> None:
    rng = random.Random(3)
    xs = DOUBLES + [10.0**k for k in range(-9, 25)] + [1.5e-6, 1.5e-7, 123456789.125, 1e15, 1.7976931348623157e308]
    xs += [struct.unpack("<d", rng.randbytes(8))[0] for _ in range(5000)]
    xs += [rng.random() * 10.0 ** rng.randint(-12, 14) for _ in range(5000)]
    assert [arrow_double_text(x) for x in xs] == pc.cast(pa.array(xs), pa.string()).to_pylist()

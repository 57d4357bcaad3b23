"""The forwarding encoder against the decoder: decode -> process -> encode -> decode must
give back the same span table (the decoder is the reference)."""

from __future__ import annotations

import math
import random
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from test_decode import DOUBLES, INTS, T0, _set, assert_same_table, inference_traces, random_request

from spanwise.core.spans import NUMBER_MAP, SPAN_SCHEMA, SpanBatch
from spanwise.process.forward_encode import PROJECT_ATTRIBUTE, PROJECT_COLUMN, binary_ids, encode_request, encode_requests
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests, hex_ids


def _processed(bodies: list[bytes]) -> pa.Table:
    decoded = decode_export_requests(bodies)
    return MlFieldsProcessor().process(decoded.batch).spans


def _round_trip(spans: pa.Table) -> pa.Table:
    decoded = decode_export_requests([encode_request(spans)])
    assert decoded.rejected == 0
    return MlFieldsProcessor().process(decoded.batch).spans


def _fill(value: AnyValue, item: object) -> None:
    if isinstance(item, bytes):
        value.bytes_value = item
    elif isinstance(item, list):
        value.array_value.SetInParent()
        for element in item:
            _fill(value.array_value.values.add(), element)
    elif isinstance(item, dict):
        value.kvlist_value.SetInParent()
        for key, element in item.items():
            kv = value.kvlist_value.values.add()
            kv.key = key
            _fill(kv.value, element)
    elif item is not None:
        _set(value, item)


def _every_type() -> list[tuple[str, object]]:
    values: list[tuple[str, object]] = [("s", "text"), ("empty_string", ""), ("t", True), ("f", False)]
    values += [(f"i{n}", v) for n, v in enumerate(INTS)] + [(f"d{n}", v) for n, v in enumerate(DOUBLES)]
    values += [("bytes", b"\x00\xffhi"), ("no_bytes", b""), ("nothing", None)]
    values += [("array", [1, 0.5, "x", True, math.nan, b"\x01", None, [2, [3]]]), ("no_array", [])]
    values += [("map", {"nested": {"deep": None}, "n": 1, "list": ["a"]}), ("no_map", {})]
    return values


def _add(attributes: Any, values: list[tuple[str, object]]) -> None:
    for key, item in values:
        kv = attributes.add()
        kv.key = key
        if item is not None:
            _fill(kv.value, item)
        else:
            kv.value.SetInParent()


def rich_request() -> bytes:
    """Three resources (one without service.name, one with typed attributes), several
    scopes, every attribute type, events, links, every status and kind, AI attributes."""
    request = ExportTraceServiceRequest()
    resources = [
        [("service.name", "frontend"), ("host.cores", 2), ("ratio", 0.5), ("tags", ["a", "b"])],
        [("service.name", "model"), ("deployment", {"zone": "eu", "replicas": 3})],
        [("host.name", "no-service")],
    ]
    span_number = 0
    for r, attrs in enumerate(resources):
        rs = request.resource_spans.add()
        _add(rs.resource.attributes, attrs)
        for scope_name, version in [("lib", "1.2.3"), ("", ""), (f"other-{r}", "")]:
            ss = rs.scope_spans.add()
            ss.scope.name, ss.scope.version = scope_name, version
            for _ in range(2):
                span_number += 1
                _rich_span(ss.spans.add(), span_number)
    return request.SerializeToString()


def _rich_span(s: Any, n: int) -> None:
    s.trace_id = bytes([n % 3 + 1]) * 16
    s.span_id = n.to_bytes(8, "big")
    s.parent_span_id = (n - 1).to_bytes(8, "big") if n % 3 else b""
    s.trace_state = "vendor=1" if n % 2 else ""
    s.name = f"op-{n}"
    s.kind = n % 6
    s.start_time_unix_nano = T0 + n * 1000
    s.end_time_unix_nano = T0 + n * 1000 + n * 17
    values = _every_type() if n % 2 else [("user.id", f"user_{n}")]
    if n % 4 == 0:
        values += [("ml.model.name", "fraud"), ("ml.model.version", "v2"), ("ml.feature.amount", 12.5)]
        values += [("ml.feature.country", "NL"), ("ml.prediction.value", 0.75), ("ml.prediction.confidence", 0.9)]
        values += [("ml.prediction.proba.fraud", 0.8), ("ml.explanation.amount", 0.3), ("model.input_features", "{'a': 1}")]
    _add(s.attributes, values)
    for e in range(n % 3):
        event = s.events.add()
        event.name, event.time_unix_nano = f"event-{e}", T0 + n * 1000 + e
        _add(event.attributes, [("threshold", 0.5), ("why", "because")][: e + 1])
    if n % 2 == 0:
        link = s.links.add()
        link.trace_id, link.span_id, link.trace_state = b"\x09" * 16, b"\x08" * 8, "k=v"
        _add(link.attributes, [("why", "batch"), ("count", 3)])
    status = n % 4
    if status:
        s.status.code = status - 1
        s.status.message = "boom" if status == 3 else ""


def test_rich_request_round_trips_exactly() -> None:
    spans = _processed([rich_request()])
    assert spans.num_rows == 18 and spans.schema == SPAN_SCHEMA
    assert pc.sum(spans.column("IsPrediction")).as_py() > 0
    assert_same_table(_round_trip(spans), spans, "round trip")


def test_attribute_types_survive() -> None:
    spans = _round_trip(_processed([rich_request()]))
    row = spans.to_pylist()[0]
    types = dict(row["SpanAttributeTypes"])
    assert types["i1"] == "int64" and types["d0"] == "float64" and types["t"] == "bool"
    assert types["bytes"] == "binary" and types["array"] == "array" and types["map"] == "map"
    assert "s" not in types and dict(row["ResourceAttributeTypes"]) == {"host.cores": "int64", "ratio": "float64", "tags": "array"}


def _sorted(table: pa.Table) -> pa.Table:
    """Ordered by id, with the float values of number maps (features, scores) as bit
    patterns, NaN canonical, so `equals` can compare them (it does the top level)."""
    table = table.sort_by([("TraceId", "ascending"), ("SpanId", "ascending")]).combine_chunks()
    for i, field in enumerate(table.schema):
        if field.type == NUMBER_MAP:
            maps = table.column(i).chunk(0) if table.num_rows else pa.array([], NUMBER_MAP)
            items = pc.if_else(pc.is_nan(maps.items), math.nan, maps.items).view(pa.int64())
            bits = pa.MapArray.from_arrays(maps.offsets, maps.keys, items)
            table = table.set_column(i, pa.field(field.name, bits.type, field.nullable), bits)
    return table


def test_load_generator_traces_round_trip() -> None:
    """Three requests with the same three resources: one ResourceSpans each goes out."""
    spans = _processed([inference_traces(100, random.Random(seed)) for seed in range(3)])
    body = encode_request(spans)
    assert len(ExportTraceServiceRequest.FromString(body).resource_spans) == 3
    assert_same_table(_sorted(_round_trip(spans)), _sorted(spans), "round trip")


def _without_duplicate_keys(spans: pa.Table) -> pa.Table:
    """Spans whose typed attribute maps have unique keys: OTLP forbids duplicates, and
    with them the stored type map cannot say which value had which type."""
    def unique(column: str) -> list[bool]:
        return [len({k for k, _ in items}) == len(items) for items in spans.column(column).to_pylist()]

    keep = [a and b for a, b in zip(unique("SpanAttributes"), unique("ResourceAttributes"))]
    return spans.filter(pa.array(keep, pa.bool_()))


@pytest.mark.parametrize("seed", range(30))
def test_random_requests_round_trip(seed: int) -> None:
    """Random requests may repeat a resource or a scope: the encoder merges those, so
    compare as sets of spans (ordered by id)."""
    rng = random.Random(seed)
    spans = _without_duplicate_keys(_processed([random_request(rng) for _ in range(rng.randrange(1, 5))]))
    if spans.num_rows == 0:
        assert encode_request(spans) == b""
        return
    assert_same_table(_sorted(_round_trip(spans)), _sorted(spans), "round trip")


def test_values_that_lost_their_type_are_sent_as_strings() -> None:
    """A processor (say, redaction) may replace a typed value with text."""
    spans = _processed([rich_request()]).slice(0, 1)
    keys = ["i1", "d0", "t", "bytes", "array", "map"]
    broken = "[REDACTED]"
    items = [(k, broken if k in keys else v) for k, v in spans.column("SpanAttributes")[0].as_py()]
    column = pa.array([items], spans.schema.field("SpanAttributes").type)
    spans = spans.set_column(spans.schema.get_field_index("SpanAttributes"), "SpanAttributes", column)
    decoded = decode_export_requests([encode_request(spans)]).spans.to_pylist()[0]
    attributes = dict(decoded["SpanAttributes"])
    assert all(attributes[k] == broken for k in keys)
    assert not set(keys) & set(dict(decoded["SpanAttributeTypes"]))


def test_requests_split_by_spans_and_bytes() -> None:
    spans = _processed([inference_traces(100, random.Random(1))])
    by_spans = encode_requests(spans, 120, 1 << 30)
    assert [r.spans for r in by_spans] == [120, 120, 120, 120, 20]
    by_bytes = encode_requests(spans, 500, 20_000)
    assert all(len(r.body) <= 20_000 for r in by_bytes) and sum(r.spans for r in by_bytes) == 500
    again = decode_export_requests([r.body for r in by_bytes])
    assert_same_table(_sorted(MlFieldsProcessor().process(again.batch).spans), _sorted(spans), "split")


def test_binary_ids_reverse_hex_ids() -> None:
    raw = [b"\xaa" * 8, bytes(range(8)), b"", b"\xff\x00" * 4]
    ids = pa.array(raw, pa.binary())
    text = hex_ids(ids, 8)
    assert binary_ids(text, 8).to_pylist() == raw
    assert binary_ids(text.slice(1, 2), 8).to_pylist() == raw[1:3]
    assert binary_ids(pa.array(["AABBCCDDEEFF0011", "zz" * 8, "abc"]), 8).to_pylist() == [
        bytes.fromhex("aabbccddeeff0011"),
        b"",
        b"",
    ]


def test_empty_batch_encodes_nothing() -> None:
    empty = SpanBatch(SPAN_SCHEMA.empty_table(), pa.table({}))
    assert encode_request(empty.spans) == b"" and encode_requests(empty.spans, 10, 100) == []


def _in_projects(spans: pa.Table, *projects: str) -> pa.Table:
    """Copies of `spans`, one per project, with the `Project` column the forwarder adds."""
    return pa.concat_tables([spans.append_column(PROJECT_COLUMN, pa.repeat(p, spans.num_rows)) for p in projects])


def test_resources_name_their_project_except_the_default_one() -> None:
    """One request carries both projects; a sender's own `spanwise.project` (typed, before
    an array value that is set after serializing) is replaced outside the default project."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    _add(rs.resource.attributes, [("service.name", "svc"), (PROJECT_ATTRIBUTE, 7), ("tags", ["a", 1]), ("zone", "eu")])
    _rich_span(rs.scope_spans.add().spans.add(), 1)
    spans = _processed([request.SerializeToString()])
    resources = ExportTraceServiceRequest.FromString(encode_request(_in_projects(spans, "acme", "default"))).resource_spans
    attributes = [{kv.key: kv.value for kv in r.resource.attributes} for r in resources]
    assert [list(a) for a in attributes] == [["service.name", "tags", "zone", PROJECT_ATTRIBUTE],
                                             ["service.name", PROJECT_ATTRIBUTE, "tags", "zone"]]
    assert attributes[0][PROJECT_ATTRIBUTE].string_value == "acme" and attributes[1][PROJECT_ATTRIBUTE].int_value == 7
    assert [[v.WhichOneof("value") for v in a["tags"].array_value.values] for a in attributes] == [["string_value", "int_value"]] * 2
    decoded = decode_export_requests([encode_request(_in_projects(spans, "acme"))]).spans.to_pylist()[0]
    assert dict(decoded["ResourceAttributeTypes"]) == {"tags": "array"}


def test_default_project_resources_encode_as_without_projects() -> None:
    spans = _processed([rich_request()])
    assert encode_request(_in_projects(spans, "default")) == encode_request(spans)
    mixed = ExportTraceServiceRequest.FromString(encode_request(_in_projects(spans, "default", "b", "c")))
    assert len(mixed.resource_spans) == 9  # three resources in each of three projects

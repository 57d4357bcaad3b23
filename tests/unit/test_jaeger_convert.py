"""Stored spans -> Jaeger HTTP JSON, checked against Jaeger's own reference fixtures.

Input tables are built the way the server builds them: OTLP protobuf requests through
the real decoder and the AI-fields processor.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanwise.core.spans import empty_spans
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests
from spanwise.serve.jaeger_json import jaeger_envelope, jaeger_error, traces_to_jaeger

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jaeger"
_ID_KEYS = ("traceId", "spanId", "parentSpanId")
TRACE_A = "0af7651916cd43dd8448eb211c80319c"
TRACE_B = "83a9efd15c1c98a977e0711cc93ee28b"


# --- building inputs ---------------------------------------------------------------


def hex_ids_to_base64(value: Any) -> Any:
    """OTLP/JSON writes ids as hex; protobuf's JSON parser wants bytes as base64."""
    if isinstance(value, list):
        return [hex_ids_to_base64(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: base64.b64encode(bytes.fromhex(item)).decode() if key in _ID_KEYS else hex_ids_to_base64(item)
        for key, item in value.items()
    }


def otlp_json_to_protobuf(request: dict[str, Any]) -> bytes:
    return ParseDict(hex_ids_to_base64(request), ExportTraceServiceRequest()).SerializeToString()


def stored_spans(*requests: dict[str, Any]) -> pa.Table:
    """Spans as a store returns them: decoded, AI columns derived."""
    decoded = decode_export_requests([otlp_json_to_protobuf(r) for r in requests])
    assert decoded.rejected == 0, decoded.reject_reason
    return MlFieldsProcessor().process(decoded.batch).spans


def attr(key: str, value: object) -> dict[str, Any]:
    """An OTLP/JSON KeyValue typed from the Python value."""
    if isinstance(value, bool):
        any_value: dict[str, Any] = {"boolValue": value}
    elif isinstance(value, int):
        any_value = {"intValue": str(value)}
    elif isinstance(value, float):
        any_value = {"doubleValue": value if math.isfinite(value) else str(value).replace("nan", "NaN")}
    elif isinstance(value, bytes):
        any_value = {"bytesValue": base64.b64encode(value).decode()}
    elif isinstance(value, list):
        any_value = {"arrayValue": {"values": [attr("", v)["value"] for v in value]}}
    else:
        any_value = {"stringValue": value}
    return {"key": key, "value": any_value}


def span(
    trace_id: str, span_id: str, name: str, start_us: int, duration_us: int, **fields: Any
) -> dict[str, Any]:
    """An OTLP/JSON span; times given in microseconds like Jaeger's."""
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "startTimeUnixNano": str(start_us * 1000),
        "endTimeUnixNano": str((start_us + duration_us) * 1000),
        **fields,
    }


def request(
    *resources: tuple[Mapping[str, object], list[dict[str, Any]]], scope: dict[str, str] | None = None
) -> dict[str, Any]:
    """An export request: one resource (attributes, spans) per argument."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [attr(k, v) for k, v in resource.items()]},
                "scopeSpans": [{"scope": scope or {}, "spans": spans}],
            }
            for resource, spans in resources
        ]
    }


def only_span(spans: pa.Table) -> dict[str, Any]:
    (trace,) = traces_to_jaeger(spans)
    (jaeger_span,) = trace["spans"]
    return jaeger_span


# --- reference fixtures ------------------------------------------------------------


def test_otlp_fixture_converts_exactly_as_jaeger_does() -> None:
    otlp = json.loads((FIXTURES / "otlp2jaeger-in.json").read_text())
    expected = json.loads((FIXTURES / "otlp2jaeger-out.json").read_text())

    envelope = jaeger_envelope(traces_to_jaeger(stored_spans(otlp)))

    assert envelope == expected
    assert json.loads(json.dumps(envelope, allow_nan=False)) == expected


def padded(short_id: str, width: int) -> str:
    """Jaeger's model fixture writes ids without leading zeros; stored ids are full width."""
    return short_id.rjust(width, "0")


def model_fixture_as_otlp() -> dict[str, Any]:
    """The OTLP request Jaeger's model fixture describes: `error` is a bool attribute,
    the log an unnamed event, FOLLOWS_FROM a link, processes are resources."""
    trace_id, root = padded("abc0", 32), padded("abc0", 16)
    span1 = span(
        trace_id, padded("123", 16), "span1", 1000, 500,
        parentSpanId=root,
        attributes=[attr("error", True), attr("int64", 123), attr("float64", 123.567), attr("binary", b"\x01")],
        events=[{"timeUnixNano": "1400000", "attributes": [attr("error", "something bad happened")]}],
    )  # fmt: skip
    span2 = span(trace_id, padded("567", 16), "span2", 1000, 500, links=[{"traceId": trace_id, "spanId": root}])
    return request(
        ({"service.name": "service_1"}, [span(trace_id, root, "root-span", 1000, 500)]),
        ({"service.name": "service_2", "host": "google.com"}, [span1, span2]),
    )


def test_model_fixture_tags_references_logs_and_processes() -> None:
    fixture = json.loads((FIXTURES / "model-fixture.json").read_text())

    (trace,) = traces_to_jaeger(stored_spans(model_fixture_as_otlp()))

    assert trace["traceID"] == padded(fixture["traceID"], 32)
    got = {s["spanID"]: s for s in trace["spans"]}
    assert list(got) == [padded(i, 16) for i in ("123", "567", "abc0")]  # start time ties: by span id
    for want in fixture["spans"]:
        have = got[padded(want["spanID"], 16)]
        assert have["traceID"] == padded(want["traceID"], 32)
        assert have["operationName"] == want["operationName"]
        assert (have["startTime"], have["duration"]) == (want["startTime"], want["duration"])
        assert have["references"] == [
            {"refType": r["refType"], "traceID": padded(r["traceID"], 32), "spanID": padded(r["spanID"], 16)}
            for r in want.get("references", [])
        ]
        by_key = sorted(want.get("tags", []), key=lambda tag: tag["key"])
        assert have["tags"] == by_key  # Jaeger's query adjuster sorts attributes by key
        assert have["logs"] == want.get("logs", [])
        want_process = fixture["processes"][want["processID"]]
        assert trace["processes"][have["processID"]] == {"tags": [], **want_process}
    assert len(trace["processes"]) == 2


def test_typed_tag_values_keep_json_types() -> None:
    jaeger_span = only_span(stored_spans(model_fixture_as_otlp()).slice(1, 1))

    values = {tag["key"]: tag["value"] for tag in jaeger_span["tags"]}
    assert values["error"] is True
    assert type(values["int64"]) is int and type(values["float64"]) is float
    assert values["binary"] == "AQ=="


# --- tags ----------------------------------------------------------------------------


def test_scope_kind_status_and_trace_state_tags_in_translator_order() -> None:
    otlp = span(
        TRACE_A, "00f067aa0ba902b7", "call", 10, 5,
        kind=3, traceState="rojo=00f067aa0ba902b7",
        attributes=[attr("z", "last"), attr("a", "first")],
        status={"code": 2, "message": "boom"},
    )  # fmt: skip
    spans = stored_spans(request(({"service.name": "svc"}, [otlp]), scope={"name": "lib", "version": "1.2"}))

    assert only_span(spans)["tags"] == [
        {"key": "otel.library.name", "type": "string", "value": "lib"},
        {"key": "otel.library.version", "type": "string", "value": "1.2"},
        {"key": "a", "type": "string", "value": "first"},
        {"key": "z", "type": "string", "value": "last"},
        {"key": "span.kind", "type": "string", "value": "client"},
        {"key": "otel.status_code", "type": "string", "value": "ERROR"},
        {"key": "error", "type": "bool", "value": True},
        {"key": "otel.status_description", "type": "string", "value": "boom"},
        {"key": "w3c.tracestate", "type": "string", "value": "rojo=00f067aa0ba902b7"},
    ]


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        (0, {}, []),
        (1, {"code": 1}, [("span.kind", "internal"), ("otel.status_code", "OK")]),
        (2, {"code": 0}, [("span.kind", "server")]),
        (4, {}, [("span.kind", "producer")]),
        (5, {}, [("span.kind", "consumer")]),
    ],
)
def test_span_kind_and_status(kind: int, status: dict[str, int], expected: list[tuple[str, str]]) -> None:
    otlp = span(TRACE_A, "00f067aa0ba902b7", "op", 10, 5, kind=kind, status=status)
    tags = only_span(stored_spans(request(({"service.name": "svc"}, [otlp]))))["tags"]
    assert [(tag["key"], tag["value"]) for tag in tags] == expected


def test_values_json_cannot_carry_and_ip_attributes() -> None:
    attributes = [
        attr("big", 2**53),
        attr("safe", -(2**53) + 1),
        attr("nan", float("nan")),
        attr("list", [1, "x"]),
        attr("ip", 134744072),
        attr("peer.ipv4", 3232235777.0),
        attr("flag", False),
    ]
    otlp = span(TRACE_A, "00f067aa0ba902b7", "op", 10, 5, attributes=attributes)
    tags = only_span(stored_spans(request(({"service.name": "svc"}, [otlp]))))["tags"]

    assert {tag["key"]: (tag["type"], tag["value"]) for tag in tags} == {
        "big": ("int64", "9007199254740992"),
        "safe": ("int64", -(2**53) + 1),
        "nan": ("float64", "nan"),
        "list": ("string", '[1,"x"]'),
        "ip": ("string", "8.8.8.8"),
        "peer.ipv4": ("string", "192.168.1.1"),
        "flag": ("bool", False),
    }
    json.dumps(tags, allow_nan=False)


# --- references, logs, processes ---------------------------------------------------------------


def test_links_become_references() -> None:
    parent = "1111111111111111"
    links = [
        {"traceId": TRACE_B, "spanId": "2222222222222222"},
        {"traceId": TRACE_A, "spanId": parent, "attributes": [attr("opentracing.ref_type", "follows_from")]},
        {"traceId": TRACE_A, "spanId": "3333333333333333", "attributes": [attr("opentracing.ref_type", "child_of")]},
        {"traceId": "", "spanId": ""},
    ]
    otlp = span(TRACE_A, "00f067aa0ba902b7", "op", 10, 5, parentSpanId=parent, links=links)

    jaeger_span = only_span(stored_spans(request(({"service.name": "svc"}, [otlp]))))

    assert jaeger_span["references"] == [
        {"refType": "FOLLOWS_FROM", "traceID": TRACE_A, "spanID": parent},  # the parent, retyped by its link
        {"refType": "FOLLOWS_FROM", "traceID": TRACE_B, "spanID": "2222222222222222"},
        {"refType": "CHILD_OF", "traceID": TRACE_A, "spanID": "3333333333333333"},
    ]
    assert jaeger_span["warnings"] == ["Invalid span link removed"]


def test_events_become_logs() -> None:
    events = [
        {"timeUnixNano": "12345678", "name": "exception", "attributes": [attr("z", 1), attr("a", "x")]},
        {"timeUnixNano": "12999999", "name": "named", "attributes": [attr("event", "own")]},
    ]
    otlp = span(TRACE_A, "00f067aa0ba902b7", "op", 10, 5, events=events)

    logs = only_span(stored_spans(request(({"service.name": "svc"}, [otlp]))))["logs"]

    assert logs == [
        {
            "timestamp": 12345,
            "fields": [
                {"key": "event", "type": "string", "value": "exception"},
                {"key": "a", "type": "string", "value": "x"},
                {"key": "z", "type": "string", "value": "1"},  # event attribute types are not stored
            ],
        },
        {"timestamp": 12999, "fields": [{"key": "event", "type": "string", "value": "own"}]},
    ]


def test_processes_are_shared_and_numbered_in_span_order() -> None:
    resource_1 = {"service.name": "api", "host.name": "h1", "process.pid": 42, "ratio": 0.5}
    resource_2 = {"service.name": "api", "host.name": "h2"}
    spans = stored_spans(
        request(
            (resource_2, [span(TRACE_A, "0000000000000002", "b", 20, 1)]),
            (resource_1, [span(TRACE_A, "0000000000000001", "a", 10, 1), span(TRACE_A, "0000000000000003", "c", 30, 1)]),
        )
    )

    (trace,) = traces_to_jaeger(spans)

    assert [(s["spanID"][-1], s["processID"]) for s in trace["spans"]] == [("1", "p1"), ("2", "p2"), ("3", "p1")]
    assert trace["processes"] == {
        "p1": {
            "serviceName": "api",
            "tags": [
                {"key": "host.name", "type": "string", "value": "h1"},
                {"key": "process.pid", "type": "int64", "value": 42},
                {"key": "ratio", "type": "float64", "value": 0.5},
            ],
        },
        "p2": {"serviceName": "api", "tags": [{"key": "host.name", "type": "string", "value": "h2"}]},
    }


# --- grouping and deduplication ----------------------------------------------------------------


def test_traces_grouped_in_first_appearance_order_spans_by_start_then_id() -> None:
    spans = [
        span(TRACE_B, "00000000000000b2", "b-late", 50, 1),
        span(TRACE_A, "00000000000000a9", "a-tie-2", 10, 1),
        span(TRACE_B, "00000000000000b1", "b-early", 5, 1),
        span(TRACE_A, "00000000000000a1", "a-tie-1", 10, 1),
        span(TRACE_A, "00000000000000a0", "a-first", 1, 1),
    ]

    traces = traces_to_jaeger(stored_spans(request(({"service.name": "svc"}, spans))))

    assert [t["traceID"] for t in traces] == [TRACE_B, TRACE_A]
    assert [[s["operationName"] for s in t["spans"]] for t in traces] == [
        ["b-early", "b-late"],
        ["a-first", "a-tie-1", "a-tie-2"],
    ]
    assert all(s["traceID"] == t["traceID"] for t in traces for s in t["spans"])


def test_a_span_stored_twice_appears_once() -> None:
    otlp = json.loads((FIXTURES / "otlp2jaeger-in.json").read_text())
    stored = stored_spans(otlp, otlp)
    assert stored.num_rows == 2

    (trace,) = traces_to_jaeger(stored)

    assert [s["spanID"] for s in trace["spans"]] == ["e127af99e3b3e074"]
    assert list(trace["processes"]) == ["p1"]


def test_sliced_and_chunked_tables_convert_like_whole_ones() -> None:
    otlp = model_fixture_as_otlp()
    table = pa.concat_tables([stored_spans(otlp).slice(0, 2), stored_spans(otlp).slice(2, 1)])
    assert table.column("SpanAttributes").num_chunks == 2
    (whole,) = traces_to_jaeger(table)

    one_by_one = [only_span(table.slice(row, 1)) for row in range(table.num_rows)]

    def by_id(spans: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
        return {s["spanID"]: (s["tags"], s["logs"], s["references"]) for s in spans}

    assert by_id(one_by_one) == by_id(whole["spans"])
    processes = [traces_to_jaeger(table.slice(row, 1))[0]["processes"]["p1"] for row in range(table.num_rows)]
    host = {"key": "host", "type": "string", "value": "google.com"}
    assert processes == [
        {"serviceName": "service_1", "tags": []},
        {"serviceName": "service_2", "tags": [host]},
        {"serviceName": "service_2", "tags": [host]},
    ]


def test_no_spans_no_traces() -> None:
    assert traces_to_jaeger(stored_spans({"resourceSpans": []})) == []
    assert traces_to_jaeger(empty_spans()) == []


def test_decoded_spans_without_ai_columns_convert_too() -> None:
    otlp = json.loads((FIXTURES / "otlp2jaeger-in.json").read_text())
    decoded = decode_export_requests([otlp_json_to_protobuf(otlp)]).spans

    assert traces_to_jaeger(decoded) == traces_to_jaeger(stored_spans(otlp))


# --- envelopes -------------------------------------------------------------------------------


def test_envelopes() -> None:
    assert jaeger_envelope(["a"], total=1, limit=20) == {
        "data": ["a"], "total": 1, "limit": 20, "offset": 0, "errors": None,
    }  # fmt: skip
    assert jaeger_envelope([], errors=[])["errors"] is None
    assert jaeger_error(404, "trace not found") == {
        "data": None, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": 404, "msg": "trace not found"}],
    }  # fmt: skip

"""A misbehaving client against a real `spanwise serve`: every bad input gets the exact
status the OTLP specification (or Jaeger's API) prescribes and a message that says what
was wrong, good spans travelling with bad ones are kept, and the server keeps serving.
"""

from __future__ import annotations

import gzip
import os
import time
import uuid
from typing import Any, Iterator

import grpc
import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
INVALID_ARGUMENT = 3  # google.rpc.Code
SMALL_LIMIT = 2000


# --- building requests -------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_trace_id() -> bytes:
    return os.urandom(16)


def new_span_id() -> bytes:
    return os.urandom(8)


def otlp_span(trace_id: bytes, span_id: bytes, name: str = "op", parent: bytes = b"", **attrs: str) -> Span:
    """A span with exactly the given ids (any length: that is the point)."""
    now = time.time_ns()
    span = Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=now - 5_000_000,
        end_time_unix_nano=now,
    )
    for key, value in attrs.items():
        kv = span.attributes.add()
        kv.key = key
        kv.value.string_value = value
    return span


def otlp_request(service: str, spans: list[Span]) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    kv = resource_spans.resource.attributes.add()
    kv.key = "service.name"
    kv.value.string_value = service
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "bad-input-tests"
    scope_spans.spans.extend(spans)
    return request


def good_request(service: str, count: int = 2) -> tuple[ExportTraceServiceRequest, str, set[str]]:
    """One trace of `count` well-formed spans: (request, trace id hex, span ids hex)."""
    trace_id = new_trace_id()
    root = new_span_id()
    spans = [otlp_span(trace_id, root, "root")]
    spans += [otlp_span(trace_id, new_span_id(), f"child-{i}", parent=root) for i in range(count - 1)]
    return otlp_request(service, spans), trace_id.hex(), {s.span_id.hex() for s in spans}


def json_span(trace_id: Any, span_id: Any, name: Any = "op", parent: Any = "", **fields: Any) -> dict[str, Any]:
    """An OTLP/JSON span (hex ids); `fields` override or add any key, wrong types included."""
    now = time.time_ns()
    span: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(now - 5_000_000),
        "endTimeUnixNano": str(now),
        "attributes": [{"key": "k", "value": {"stringValue": "v"}}],
    }
    if parent:
        span["parentSpanId"] = parent
    span.update(fields)
    return span


def json_request(service: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "bad-input-tests"}, "spans": spans}],
            }
        ]
    }


# --- talking to the server ---------------------------------------------------------


def post(server: SpanwiseProcess, body: Any, content_type: str | None = PROTOBUF, **headers: str) -> httpx.Response:
    """POST /v1/traces with exactly the given body and headers (no content type if None)."""
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    if content_type is not None:
        sent["Content-Type"] = content_type
    return httpx.post(f"{server.http_url}/v1/traces", content=body, headers=sent, timeout=30)


def rpc_status(response: httpx.Response) -> status_pb2.Status:
    """The google.rpc.Status of an error answer, in the encoding the answer declares."""
    media = response.headers["content-type"].split(";")[0]
    if media == PROTOBUF:
        return status_pb2.Status.FromString(response.content)
    assert media == JSON, response.headers
    document = response.json()
    return status_pb2.Status(code=document.get("code", 0), message=document.get("message", ""))


def assert_http_error(response: httpx.Response, status: int, *fragments: str) -> status_pb2.Status:
    assert response.status_code == status, (response.status_code, response.content[:500])
    message = rpc_status(response)
    assert message.message, "an error answer must say what was wrong"
    for fragment in fragments:
        assert fragment in message.message, (fragment, message.message)
    return message


def grpc_channel(server: SpanwiseProcess) -> grpc.Channel:
    return grpc.insecure_channel(server.grpc_endpoint)


def grpc_raw_export(server: SpanwiseProcess, body: bytes, **kwargs: Any) -> bytes:
    """Export serialized bytes as they are (no client-side validation)."""
    with grpc_channel(server) as channel:
        export = channel.unary_unary(EXPORT)
        return export(body, timeout=30, **kwargs)  # type: ignore[no-any-return]


def grpc_error(server: SpanwiseProcess, body: bytes, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        grpc_raw_export(server, body, **kwargs)
    return raised.value


def ingest_stats(server: SpanwiseProcess) -> dict[str, int]:
    ingest = server.status().get("ingest", {})
    return {"accepted": ingest.get("spans_accepted", 0), "rejected": ingest.get("spans_rejected", 0)}


def stored_span_ids(server: SpanwiseProcess, trace_hex: str) -> set[str] | None:
    response = server.query(f"/api/v1/traces/{trace_hex}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return {span["spanId"] for span in response.json()["spans"]}


def wait_for_trace(server: SpanwiseProcess, trace_hex: str, span_ids: set[str]) -> None:
    """Wait until the trace is queryable with at least `span_ids`, then require exactly those
    (a request's spans are committed together, so extra spans would show up at once)."""
    server.wait_for(lambda: (stored_span_ids(server, trace_hex) or set()) >= span_ids)
    assert stored_span_ids(server, trace_hex) == span_ids, server.log()


def service_traces(server: SpanwiseProcess, service: str) -> dict[str, int]:
    response = server.query("/api/v1/traces", service=service, lookback="2h", limit=100)
    assert response.status_code == 200, response.text
    return {t["traceId"]: t["spanCount"] for t in response.json()["traces"]}


def assert_still_serving(server: SpanwiseProcess, via: str = "http") -> None:
    """A good request right after the bad one is accepted and its spans become queryable."""
    service = unique(f"after-bad-{via}")
    request, trace_hex, span_ids = good_request(service, 2)
    if via == "http":
        response = post(server, request.SerializeToString())
        assert response.status_code == 200, response.text
        assert not ExportTraceServiceResponse.FromString(response.content).HasField("partial_success")
    else:
        with grpc_channel(server) as channel:
            answer = TraceServiceStub(channel).Export(request, timeout=30)
        assert not answer.HasField("partial_success")
    wait_for_trace(server, trace_hex, span_ids)


def assert_not_stored(server: SpanwiseProcess, trace_hex: str) -> None:
    """Call after `assert_still_serving`: anything sent before it would be queryable now."""
    assert server.query(f"/api/v1/traces/{trace_hex}").status_code == 404


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    """A server whose body limit (`server.max_body_bytes`) is 2000 bytes."""
    base = tmp_path_factory.mktemp("small-limit")
    config = base / "spanwise.yaml"
    config.write_text(f"server:\n  max_body_bytes: {SMALL_LIMIT}\n", encoding="utf-8")
    (base / "data").mkdir()
    process = SpanwiseProcess(str(base / "data"), extra_args=["--config", str(config)])
    process.start()
    yield process
    process.stop()


# --- 1, 2: malformed and truncated protobuf ------------------------------------------

MALFORMED_PROTOBUF = {
    "text": b"this is not a protobuf message",
    "varint-overrun": b"\xff\xff\xff\xff",
    "json-sent-as-protobuf": b'{"resourceSpans": []}',
    "length-past-end": b"\x0a\x05abc",
    "random": bytes(range(7, 250, 3)) * 3,
}


@pytest.mark.parametrize("name", sorted(MALFORMED_PROTOBUF))
def test_malformed_protobuf_is_400_with_rpc_status(server: SpanwiseProcess, name: str) -> None:
    response = post(server, MALFORMED_PROTOBUF[name])
    assert response.headers["content-type"].startswith(PROTOBUF)
    status = assert_http_error(response, 400, "invalid OTLP protobuf payload")
    assert status.code == INVALID_ARGUMENT
    assert_still_serving(server)


def test_malformed_protobuf_over_grpc_is_invalid_argument(server: SpanwiseProcess) -> None:
    for body in MALFORMED_PROTOBUF.values():
        error = grpc_error(server, body)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
        assert "invalid OTLP protobuf payload" in error.details()
    assert_still_serving(server, via="grpc")


def test_truncated_protobuf_is_400_and_nothing_of_it_is_stored(server: SpanwiseProcess) -> None:
    service = unique("truncated")
    request, trace_hex, _ = good_request(service, 4)
    body = request.SerializeToString()
    for cut in (len(body) - 1, len(body) - 7, len(body) // 2, 2):
        status = assert_http_error(post(server, body[:cut]), 400, "invalid OTLP protobuf payload")
        assert status.code == INVALID_ARGUMENT
        error = grpc_error(server, body[:cut])
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details()
    assert_still_serving(server)
    assert_not_stored(server, trace_hex)
    assert service_traces(server, service) == {}


# --- 3: bad gzip ---------------------------------------------------------------------


def test_valid_gzip_is_accepted(server: SpanwiseProcess) -> None:
    """The positive control for the gzip cases below."""
    request, trace_hex, span_ids = good_request(unique("gzip-ok"), 3)
    response = post(server, gzip.compress(request.SerializeToString()), Content_Encoding="gzip")
    assert response.status_code == 200, response.text
    wait_for_trace(server, trace_hex, span_ids)


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_bad_gzip_is_400(server: SpanwiseProcess, content_type: str) -> None:
    service = unique("bad-gzip")
    if content_type == PROTOBUF:
        request, trace_hex, _ = good_request(service, 3)
        plain = request.SerializeToString()
    else:
        trace_hex = new_trace_id().hex()
        plain = httpx.Request("POST", "/", json=json_request(service, [json_span(trace_hex, new_span_id().hex())])).read()
    compressed = gzip.compress(plain)
    bodies = {
        "not gzip at all": plain,
        "gzip magic then garbage": b"\x1f\x8b\x08\x00garbage-garbage-garbage",
        "truncated stream": compressed[: len(compressed) // 2],
        "missing trailer": compressed[:-6],
    }
    for what, body in bodies.items():
        response = post(server, body, content_type, Content_Encoding="gzip")
        assert response.headers["content-type"].startswith(content_type), what
        status = assert_http_error(response, 400, "invalid gzip body")
        assert status.code == INVALID_ARGUMENT, what
    assert_still_serving(server)
    assert_not_stored(server, trace_hex)


def test_multi_member_gzip_is_fully_decoded(server: SpanwiseProcess) -> None:
    """RFC 1952: a gzip stream is a series of members (what `cat a.gz b.gz` makes, and
    what Go's gzip reader in the OpenTelemetry Collector decodes). Concatenated protobuf
    requests are one merged request, so both traces must be stored, not just the first."""
    service = unique("gzip-members")
    first, first_trace, first_ids = good_request(service, 2)
    second, second_trace, second_ids = good_request(service, 2)
    body = gzip.compress(first.SerializeToString()) + gzip.compress(second.SerializeToString())
    response = post(server, body, Content_Encoding="gzip")
    assert response.status_code == 200, response.text
    wait_for_trace(server, first_trace, first_ids)
    # Spans of one request are committed together: the second trace is visible by now.
    assert stored_span_ids(server, second_trace) == second_ids, "second gzip member silently dropped"


def test_gzip_with_trailing_garbage_is_400(server: SpanwiseProcess) -> None:
    """Bytes after the gzip stream are neither silently ignored nor half-ingested."""
    request, trace_hex, _ = good_request(unique("gzip-trailing"), 2)
    body = gzip.compress(request.SerializeToString()) + b"trailing garbage"
    response = post(server, body, Content_Encoding="gzip")
    assert_http_error(response, 400, "invalid gzip body")
    assert_still_serving(server)
    assert_not_stored(server, trace_hex)


# --- 4: OTLP/JSON with wrong types ---------------------------------------------------


def test_json_spans_with_wrong_types_are_rejected_and_good_ones_kept(server: SpanwiseProcess) -> None:
    service = unique("json-types")
    trace = new_trace_id().hex()
    root, child = new_span_id().hex(), new_span_id().hex()
    bad = [
        json_span(trace, new_span_id().hex(), name={"not": "a string"}),
        json_span(trace, new_span_id().hex(), startTimeUnixNano="abc"),
        json_span(trace, new_span_id().hex(), attributes={"k": "v"}),
        json_span(trace, new_span_id().hex(), events="not a list"),
    ]
    spans = [json_span(trace, root, "root"), bad[0], bad[1], json_span(trace, child, "child", root), bad[2], bad[3]]
    before = ingest_stats(server)
    response = httpx.post(f"{server.http_url}/v1/traces", json=json_request(service, spans), timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(JSON)
    partial = response.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == len(bad)
    assert f"{len(bad)} span(s) rejected" in partial["errorMessage"]
    assert "invalid span JSON" in partial["errorMessage"]
    wait_for_trace(server, trace, {root, child})
    assert service_traces(server, service) == {trace: 2}
    after = ingest_stats(server)
    assert after["rejected"] - before["rejected"] == len(bad)
    assert after["accepted"] - before["accepted"] == 2
    assert_still_serving(server)


def test_json_type_errors_and_id_errors_in_one_request_are_both_counted(server: SpanwiseProcess) -> None:
    service = unique("json-mixed")
    trace = new_trace_id().hex()
    good = new_span_id().hex()
    spans = [
        json_span(trace, good),
        json_span(trace, new_span_id().hex(), name=["list"]),  # type error
        json_span(trace, "abcd"),  # 2-byte span id
        json_span("00" * 16, new_span_id().hex()),  # all-zero trace id
    ]
    response = httpx.post(f"{server.http_url}/v1/traces", json=json_request(service, spans), timeout=30)
    assert response.status_code == 200, response.text
    partial = response.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 3
    assert "3 span(s) rejected" in partial["errorMessage"]
    assert "invalid span JSON" in partial["errorMessage"]
    assert "span_id must be 8 bytes" in partial["errorMessage"]
    assert "trace_id must be 16 bytes" in partial["errorMessage"]
    wait_for_trace(server, trace, {good})
    assert service_traces(server, service) == {trace: 1}


def test_json_resource_with_wrong_types_rejects_only_its_spans(server: SpanwiseProcess) -> None:
    service = unique("json-resource")
    bad_trace, good_trace = new_trace_id().hex(), new_trace_id().hex()
    good = new_span_id().hex()
    document = json_request(service, [json_span(good_trace, good)])
    document["resourceSpans"].insert(0, {
        "resource": {"attributes": "service.name=broken"},
        "scopeSpans": [{"spans": [json_span(bad_trace, new_span_id().hex()), json_span(bad_trace, new_span_id().hex())]}],
    })
    response = httpx.post(f"{server.http_url}/v1/traces", json=document, timeout=30)
    assert response.status_code == 200, response.text
    partial = response.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 2
    assert "2 span(s) rejected" in partial["errorMessage"] and "resource" in partial["errorMessage"]
    wait_for_trace(server, good_trace, {good})
    assert_not_stored(server, bad_trace)


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"this is not json", "invalid JSON"),
        (b"{\"resourceSpans\": [", "invalid JSON"),
        (b"", "invalid JSON"),
        (b"[]", "must be a JSON object"),
        (b'[{"resourceSpans": []}]', "must be a JSON object"),
        (b'"resourceSpans"', "must be a JSON object"),
        (b'{"resourceSpans": {"scopeSpans": []}}', "resourceSpans must be an array"),
    ],
    ids=["text", "cut-short", "empty", "empty-array", "array-of-request", "string", "resourceSpans-object"],
)
def test_json_body_that_is_not_a_request_object_is_400(server: SpanwiseProcess, body: bytes, fragment: str) -> None:
    response = post(server, body, JSON)
    assert response.headers["content-type"].startswith(JSON)
    status = assert_http_error(response, 400, fragment)
    assert status.code == INVALID_ARGUMENT
    assert_still_serving(server)


# --- 5: ids of the wrong length ----------------------------------------------------------


def _bad_id_spans(good_trace: bytes) -> list[Span]:
    """Seven spans each with one malformed id; three of them sit in the good trace."""
    return [
        otlp_span(os.urandom(15), new_span_id(), "trace-15-bytes"),
        otlp_span(os.urandom(17), new_span_id(), "trace-17-bytes"),
        otlp_span(b"", new_span_id(), "trace-empty"),
        otlp_span(b"\x00" * 16, new_span_id(), "trace-all-zero"),
        otlp_span(good_trace, os.urandom(7), "span-7-bytes"),
        otlp_span(good_trace, b"\x00" * 8, "span-all-zero"),
        otlp_span(good_trace, new_span_id(), "parent-9-bytes", parent=os.urandom(9)),
    ]


def _check_id_rejections(server: SpanwiseProcess, service: str, trace_hex: str, good: set[str], partial: Any) -> None:
    assert partial.rejected_spans == 7
    assert "7 span(s) rejected" in partial.error_message
    assert "trace_id must be 16 bytes and not all zero" in partial.error_message
    assert "span_id must be 8 bytes and not all zero" in partial.error_message
    assert "parent_span_id must be empty or 8 bytes" in partial.error_message
    wait_for_trace(server, trace_hex, good)
    assert service_traces(server, service) == {trace_hex: len(good)}
    assert server.query(f"/api/v1/traces/{'0' * 32}").status_code == 404


def _mixed_id_request(service: str) -> tuple[ExportTraceServiceRequest, str, set[str]]:
    trace = new_trace_id()
    root, child = new_span_id(), new_span_id()
    good = [otlp_span(trace, root, "root"), otlp_span(trace, child, "child", parent=root)]
    bad = _bad_id_spans(trace)
    spans = [good[0], *bad[:4], good[1], *bad[4:]]
    return otlp_request(service, spans), trace.hex(), {root.hex(), child.hex()}


def test_protobuf_spans_with_bad_ids_are_rejected_and_good_ones_kept(server: SpanwiseProcess) -> None:
    service = unique("pb-ids")
    request, trace_hex, good = _mixed_id_request(service)
    before = ingest_stats(server)
    response = post(server, request.SerializeToString())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(PROTOBUF)
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.HasField("partial_success")
    _check_id_rejections(server, service, trace_hex, good, answer.partial_success)
    after = ingest_stats(server)
    assert (after["accepted"] - before["accepted"], after["rejected"] - before["rejected"]) == (2, 7)
    assert_still_serving(server)


def test_grpc_spans_with_bad_ids_are_rejected_and_good_ones_kept(server: SpanwiseProcess) -> None:
    service = unique("grpc-ids")
    request, trace_hex, good = _mixed_id_request(service)
    with grpc_channel(server) as channel:
        answer = TraceServiceStub(channel).Export(request, timeout=30)
    assert answer.HasField("partial_success")
    _check_id_rejections(server, service, trace_hex, good, answer.partial_success)
    assert_still_serving(server, via="grpc")


def test_json_spans_with_bad_ids_are_rejected_and_good_ones_kept(server: SpanwiseProcess) -> None:
    service = unique("json-ids")
    trace = new_trace_id().hex()
    root, child = new_span_id().hex(), new_span_id().hex()
    bad = [
        json_span(os.urandom(15).hex(), new_span_id().hex()),  # 15-byte trace id
        json_span("00" * 16, new_span_id().hex()),  # all-zero trace id
        json_span("zz" * 16, new_span_id().hex()),  # 32 characters, not hex
        json_span(trace[:-1], new_span_id().hex()),  # odd number of hex digits
        json_span(trace, os.urandom(7).hex()),  # 7-byte span id
        json_span(trace, "gg" * 8),  # 16 characters, not hex
        json_span(trace, "", "empty-span-id"),
        json_span(trace, new_span_id().hex(), parent="abcdef"),  # 3-byte parent
        json_span(trace, new_span_id().hex(), parent="xyz!" * 4),  # parent not hex
    ]
    spans = [json_span(trace, root, "root"), *bad[:5], json_span(trace, child, "child", root), *bad[5:]]
    response = httpx.post(f"{server.http_url}/v1/traces", json=json_request(service, spans), timeout=30)
    assert response.status_code == 200, response.text
    partial = response.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == len(bad)
    message = partial["errorMessage"]
    assert f"{len(bad)} span(s) rejected" in message
    assert "trace_id must be 16 bytes" in message and "span_id must be 8 bytes" in message
    assert "parent_span_id must be empty or 8 bytes" in message
    wait_for_trace(server, trace, {root, child})
    assert service_traces(server, service) == {trace: 2}
    assert_still_serving(server)


# --- 6: oversize bodies --------------------------------------------------------------------


def _request_of_size(service: str, size: int) -> tuple[bytes, str, set[str]]:
    """A valid request serializing to exactly `size` bytes (padded with an attribute)."""
    trace, span = new_trace_id(), new_span_id()
    for padding in range(size):
        request = otlp_request(service, [otlp_span(trace, span, "sized", pad="x" * padding)])
        body = request.SerializeToString()
        if len(body) == size:
            return body, trace.hex(), {span.hex()}
    raise AssertionError(f"cannot build a request of exactly {size} bytes")


def _large_request(service: str, spans: int = 30) -> tuple[bytes, str]:
    trace = new_trace_id()
    request = otlp_request(service, [otlp_span(trace, new_span_id(), f"span-{i}", blob="y" * 200) for i in range(spans)])
    body = request.SerializeToString()
    assert len(body) > 2 * SMALL_LIMIT
    return body, trace.hex()


def test_body_at_the_limit_is_accepted(small_server: SpanwiseProcess) -> None:
    body, trace_hex, span_ids = _request_of_size(unique("at-limit"), SMALL_LIMIT)
    response = post(small_server, body)
    assert response.status_code == 200, response.text
    assert grpc_raw_export(small_server, body) is not None
    wait_for_trace(small_server, trace_hex, span_ids)


def test_declared_length_over_the_limit_is_413(small_server: SpanwiseProcess) -> None:
    body, trace_hex, _ = _request_of_size(unique("over-limit"), SMALL_LIMIT + 1)
    response = post(small_server, body)
    assert response.headers["content-length"] and response.headers["content-type"].startswith(PROTOBUF)
    assert_http_error(response, 413, "exceeds the limit of 2000 bytes")
    big, big_trace = _large_request(unique("over-limit-json"))
    assert_http_error(post(small_server, big, JSON), 413, "exceeds the limit of 2000 bytes")
    assert_still_serving(small_server)
    assert_not_stored(small_server, trace_hex)
    assert_not_stored(small_server, big_trace)


def test_chunked_body_over_the_limit_is_413(small_server: SpanwiseProcess) -> None:
    body, trace_hex = _large_request(unique("chunked"))

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    response = post(small_server, chunks())
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert_http_error(response, 413, "exceeds the limit of 2000 bytes")
    assert_still_serving(small_server)
    assert_not_stored(small_server, trace_hex)


def test_chunked_body_under_the_limit_is_accepted(small_server: SpanwiseProcess) -> None:
    request, trace_hex, span_ids = good_request(unique("chunked-ok"), 2)
    body = request.SerializeToString()
    response = post(small_server, iter([body[:10], body[10:]]))
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 200, response.text
    wait_for_trace(small_server, trace_hex, span_ids)


def test_gzip_expanding_past_the_limit_is_413(small_server: SpanwiseProcess) -> None:
    service = unique("gzip-bomb")
    trace, span = new_trace_id(), new_span_id()
    plain = otlp_request(service, [otlp_span(trace, span, "bomb", blob="z" * 200_000)]).SerializeToString()
    compressed = gzip.compress(plain)
    assert len(compressed) < SMALL_LIMIT < len(plain)
    response = post(small_server, compressed, Content_Encoding="gzip")
    assert_http_error(response, 413, "decompressed body exceeds the limit of 2000 bytes")
    # Just past the limit once decompressed, too.
    body, over_trace, _ = _request_of_size(service, SMALL_LIMIT + 1)
    assert_http_error(post(small_server, gzip.compress(body), Content_Encoding="gzip"), 413, "decompressed")
    assert_still_serving(small_server)
    assert_not_stored(small_server, trace.hex())
    assert_not_stored(small_server, over_trace)


def test_grpc_message_over_the_limit_is_resource_exhausted(small_server: SpanwiseProcess) -> None:
    body, trace_hex = _large_request(unique("grpc-big"))
    error = grpc_error(small_server, body)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
    assert "larger than max" in error.details(), error.details()
    # gzip-compressed on the wire but beyond the limit once decompressed.
    bomb = otlp_request(unique("grpc-bomb"), [otlp_span(new_trace_id(), new_span_id(), blob="z" * 200_000)])
    error = grpc_error(small_server, bomb.SerializeToString(), compression=grpc.Compression.Gzip)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
    assert_still_serving(small_server, via="grpc")
    assert_not_stored(small_server, trace_hex)


# --- 7: content types and encodings -------------------------------------------------------


@pytest.mark.parametrize(
    "content_type, fragment",
    [
        ("text/plain", "unsupported content type 'text/plain'"),
        (None, "unsupported content type '(none)'"),
        ("application/x-www-form-urlencoded", "unsupported content type"),
        ("application/protobuf", "unsupported content type"),
    ],
    ids=["text-plain", "missing", "form", "protobuf-without-x"],
)
def test_unknown_content_type_is_415(server: SpanwiseProcess, content_type: str | None, fragment: str) -> None:
    request, trace_hex, _ = good_request(unique("content-type"), 1)
    response = post(server, request.SerializeToString(), content_type)
    if content_type is None:
        assert "content-type" not in response.request.headers
    assert_http_error(response, 415, fragment, "application/x-protobuf", "application/json")
    assert_still_serving(server)
    assert_not_stored(server, trace_hex)


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd"])
def test_unknown_content_encoding_is_415(server: SpanwiseProcess, encoding: str) -> None:
    request, trace_hex, _ = good_request(unique("encoding"), 1)
    response = post(server, request.SerializeToString(), Content_Encoding=encoding)
    assert_http_error(response, 415, f"unsupported content encoding {encoding!r}")
    assert_still_serving(server)
    assert_not_stored(server, trace_hex)


def test_content_type_parameters_and_case_are_accepted(server: SpanwiseProcess) -> None:
    request, trace_hex, span_ids = good_request(unique("ct-params"), 1)
    response = post(server, request.SerializeToString(), "Application/X-Protobuf; charset=binary")
    assert response.status_code == 200, response.text
    wait_for_trace(server, trace_hex, span_ids)


# --- 8: empty request ------------------------------------------------------------------------


def test_empty_protobuf_body_is_a_valid_empty_request(server: SpanwiseProcess) -> None:
    assert_still_serving(server)  # nothing else in flight
    before_spans = server.status()["spans"]
    before = ingest_stats(server)
    response = post(server, b"")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(PROTOBUF)
    assert not ExportTraceServiceResponse.FromString(response.content).HasField("partial_success")
    empty_json = post(server, b"{}", JSON)
    assert empty_json.status_code == 200, empty_json.text
    assert empty_json.json() == {}
    assert_still_serving(server)  # two spans, sent after the empty requests
    assert server.status()["spans"] == before_spans + 2
    after = ingest_stats(server)
    assert (after["accepted"] - before["accepted"], after["rejected"] - before["rejected"]) == (2, 0)


# --- 9: answers in the request's encoding ----------------------------------------------------


def test_success_answers_in_the_request_encoding(server: SpanwiseProcess) -> None:
    service = unique("answer-encoding")
    request, trace_hex, span_ids = good_request(service, 1)
    response = post(server, request.SerializeToString())
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == PROTOBUF
    assert not ExportTraceServiceResponse.FromString(response.content).HasField("partial_success")
    wait_for_trace(server, trace_hex, span_ids)

    trace, span = new_trace_id().hex(), new_span_id().hex()
    response = httpx.post(f"{server.http_url}/v1/traces", json=json_request(service, [json_span(trace, span)]), timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == JSON
    assert response.json() == {}
    wait_for_trace(server, trace, {span})

    gz = post(server, gzip.compress(request.SerializeToString()), Content_Encoding="gzip")
    assert gz.status_code == 200 and gz.headers["content-type"].split(";")[0] == PROTOBUF
    ExportTraceServiceResponse.FromString(gz.content)


def test_wrong_method_on_the_otlp_endpoint(server: SpanwiseProcess) -> None:
    response = httpx.get(f"{server.http_url}/v1/traces", timeout=30)
    assert response.status_code == 405
    assert_still_serving(server)


# --- 10: query API bad input -----------------------------------------------------------------


def _native_error(response: httpx.Response, status: int, *fragments: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    error = response.json()["error"]
    assert error["status"] == status
    for fragment in fragments:
        assert fragment in error["message"], (fragment, error["message"])


def _jaeger_error(response: httpx.Response, status: int, *fragments: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["data"] is None
    assert isinstance(body["errors"], list) and len(body["errors"]) == 1
    assert body["errors"][0]["code"] == status
    for fragment in fragments:
        assert fragment in body["errors"][0]["msg"], (fragment, body["errors"][0]["msg"])


def test_unknown_trace_id_is_404(server: SpanwiseProcess) -> None:
    unknown = new_trace_id().hex()
    _native_error(server.query(f"/api/v1/traces/{unknown}"), 404, "not found", unknown)
    _jaeger_error(server.query(f"/api/traces/{unknown}"), 404, "not found")


@pytest.mark.parametrize("bad_id", ["xyz", "g" * 32, "a" * 33, "12-34"])
def test_malformed_trace_id_is_400(server: SpanwiseProcess, bad_id: str) -> None:
    _native_error(server.query(f"/api/v1/traces/{bad_id}"), 400, "malformed trace id")
    _jaeger_error(server.query(f"/api/traces/{bad_id}"), 400, "malformed trace id")


def test_jaeger_search_bad_parameters_are_400(server: SpanwiseProcess) -> None:
    _jaeger_error(server.query("/api/traces"), 400, "service")
    _jaeger_error(server.query("/api/traces", service=""), 400, "service")
    _jaeger_error(server.query("/api/traces", service="s", minDuration="abc"), 400, "minDuration")
    _jaeger_error(server.query("/api/traces", service="s", maxDuration="1x"), 400, "maxDuration")
    _jaeger_error(server.query("/api/traces", service="s", tags="{not json"), 400, "tags")
    _jaeger_error(server.query("/api/traces", service="s", tags="[1, 2]"), 400, "tags")
    _jaeger_error(server.query("/api/traces", service="s", limit="many"), 400, "limit")
    _jaeger_error(server.query("/api/traces", service="s", lookback="soon"), 400, "lookback")
    _jaeger_error(server.query("/api/traces", service="s", start="yesterday"), 400, "start")
    _jaeger_error(server.query("/api/traces", traceID="xyz"), 400, "malformed trace id")
    _jaeger_error(server.query("/api/operations"), 400, "service")
    assert server.query("/api/traces", service="s", lookback="1h").status_code == 200


def test_native_search_bad_parameters_are_400(server: SpanwiseProcess) -> None:
    _native_error(server.query("/api/v1/traces", service="s", min_duration="abc"), 400, "min_duration")
    _native_error(server.query("/api/v1/traces", service="s", lookback="abc"), 400, "lookback")
    _native_error(server.query("/api/v1/traces", service="s", limit="abc"), 400, "limit")
    _native_error(server.query("/api/v1/traces", service="s", limit=-1), 400, "limit")
    _native_error(server.query("/api/v1/traces", service="s", min_confidence="high"), 400, "min_confidence")
    _native_error(server.query("/api/v1/traces", service="s", attributes="{not json"), 400)
    _native_error(server.query("/api/v1/traces", service="s", attribute="no-colon"), 400, "key:value")
    _native_error(server.query("/api/v1/traces", service="s", start=200, end=100), 400, "time range must end after it starts")
    # every route reading start/end refuses a reversed range the same way (`serve.params.time_range`)
    for path, extra in [("/api/v1/metrics/latency", {"service": "s"}), ("/api/v1/otlp/metrics", {}), ("/api/v1/alerts/history", {})]:
        _native_error(server.query(path, start=200, end=100, **extra), 400, "time range must end after it starts")
    assert server.query("/api/v1/traces", service="s", lookback="1h").status_code == 200


def test_native_search_limit_zero_is_400(server: SpanwiseProcess) -> None:
    _native_error(server.query("/api/v1/traces", service="s", limit=0), 400, "limit")

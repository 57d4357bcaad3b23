"""The forwarder's queue, retries and counters against real local HTTP and gRPC
receivers that answer as scripted."""

from __future__ import annotations

import gzip
import random
import threading
import time
from collections import Counter
from concurrent import futures
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from server_process import free_port
from test_decode import inference_traces

from spanwise.config import Config, ForwardConfig, load_config
from spanwise.errors import ConfigError
from spanwise.core.spans import SpanBatch
from spanwise.process.factory import build_pipelines
from spanwise.process.forward import ForwardProcessor
from spanwise.process.forward_encode import PROJECT_ATTRIBUTE
from spanwise.process.forward_send import grpc_target, parse_retry_after, traces_url
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests
from spanwise.request_context import DEFAULT_PROJECT, acting, for_project

FAST = ForwardConfig(endpoint="http://unset", initial_backoff_s=0.01, max_backoff_s=0.05, timeout_s=2.0, drain_timeout_s=5.0)


def _batch(traces: int = 2, seed: int = 1) -> SpanBatch:
    decoded = decode_export_requests([inference_traces(traces, random.Random(seed))])
    return MlFieldsProcessor().process(decoded.batch)


def _spans_in(bodies: list[bytes]) -> int:
    return decode_export_requests(bodies).spans.num_rows


class HttpTarget:
    """An OTLP/HTTP receiver answering from a script: (status, headers, body) per
    request, then 200 with an empty response."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                target.requests.append((self.path, dict(self.headers), body))
                status, headers, payload = target.script.pop(0) if target.script else (200, {}, b"")
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(payload))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_target() -> Iterator[HttpTarget]:
    target = HttpTarget()
    yield target
    target.close()


def _forward(config: ForwardConfig, *batches: SpanBatch) -> ForwardProcessor:
    """Forward the batches and drain: shutdown returns once everything is accounted for.
    They are queued before the exporter starts, so they go out in one request."""
    forwarder = ForwardProcessor(config)
    for batch in batches:
        assert forwarder.process(batch) is batch
    forwarder.start()
    forwarder.shutdown()
    return forwarder


def test_http_delivers_gzip_with_headers(http_target: HttpTarget) -> None:
    config = replace(FAST, endpoint=http_target.url, headers={"x-api-key": "secret"})
    first, second = _batch(2, 1), _batch(3, 2)
    forwarder = _forward(config, first, second)
    assert forwarder.stats["forwarded_spans"] == 25 and forwarder.stats["queue_spans"] == 0
    paths = {path for path, _, _ in http_target.requests}
    assert paths == {"/v1/traces"}
    headers = http_target.requests[0][1]
    assert headers["Content-Encoding"] == "gzip" and headers["x-api-key"] == "secret"
    assert headers["Content-Type"] == "application/x-protobuf"
    assert _spans_in([body for _, _, body in http_target.requests]) == 25


def test_http_without_compression_to_a_full_url(http_target: HttpTarget) -> None:
    config = replace(FAST, endpoint=f"{http_target.url}/custom/v1/traces", compression="none")
    forwarder = _forward(config, _batch())
    assert forwarder.stats["forwarded_spans"] == 10
    path, headers, _ = http_target.requests[0]
    assert path == "/custom/v1/traces" and "Content-Encoding" not in headers


def test_retryable_answers_are_retried(http_target: HttpTarget) -> None:
    http_target.script = [(503, {"Retry-After": "0"}, b""), (429, {}, b""), (502, {}, b"")]
    forwarder = _forward(replace(FAST, endpoint=http_target.url), _batch())
    assert forwarder.stats["retries"] == 3 and forwarder.stats["forwarded_spans"] == 10
    assert len(http_target.requests) == 4


def test_a_permanent_error_drops_at_once(http_target: HttpTarget) -> None:
    error = status_pb2.Status(code=3, message="bad payload").SerializeToString()
    http_target.script = [(400, {}, error)]
    forwarder = _forward(replace(FAST, endpoint=http_target.url), _batch())
    assert forwarder.stats["dropped_spans_rejected"] == 10 and forwarder.stats["retries"] == 0
    assert forwarder.stats["forwarded_spans"] == 0


def test_partial_success_counts_the_rejected_spans(http_target: HttpTarget) -> None:
    response = ExportTraceServiceResponse()
    response.partial_success.rejected_spans = 3
    http_target.script = [(200, {}, response.SerializeToString())]
    forwarder = _forward(replace(FAST, endpoint=http_target.url), _batch())
    assert forwarder.stats["forwarded_spans"] == 7 and forwarder.stats["dropped_spans_rejected"] == 3


def test_a_dead_target_is_retried_then_counted() -> None:
    config = replace(FAST, endpoint=f"http://127.0.0.1:{free_port()}", max_retries=3)
    forwarder = _forward(config, _batch(), _batch(1))
    assert forwarder.stats["dropped_spans_after_retries"] == 15
    assert forwarder.stats["retries"] == 3  # both batches went out in one request
    assert forwarder.stats["forwarded_spans"] == 0


def test_max_elapsed_ends_retries_early() -> None:
    config = replace(FAST, endpoint=f"http://127.0.0.1:{free_port()}", initial_backoff_s=5, max_backoff_s=5, max_elapsed_s=1)
    started = time.monotonic()
    forwarder = _forward(config, _batch())
    assert time.monotonic() - started < 3
    assert forwarder.stats["retries"] == 0 and forwarder.stats["dropped_spans_after_retries"] == 10


def test_a_full_queue_drops_the_new_batch(http_target: HttpTarget) -> None:
    forwarder = ForwardProcessor(replace(FAST, endpoint=http_target.url, queue_max_spans=15))
    forwarder.process(_batch(2, 1))  # queued before start: the exporter is not running yet
    started = time.perf_counter()
    forwarder.process(_batch(2, 2))
    assert time.perf_counter() - started < 0.1
    assert forwarder.stats["dropped_spans_queue_full"] == 10 and forwarder.stats["queue_spans"] == 10
    forwarder.start()
    forwarder.shutdown()
    assert forwarder.stats["forwarded_spans"] == 10 and _spans_in([b for _, _, b in http_target.requests]) == 10


def test_shutdown_gives_up_at_the_drain_deadline() -> None:
    config = replace(FAST, endpoint=f"http://127.0.0.1:{free_port()}", initial_backoff_s=10, max_backoff_s=10,
                     max_elapsed_s=100, max_retries=10, drain_timeout_s=0.3)
    forwarder = ForwardProcessor(config)
    forwarder.start()
    forwarder.process(_batch())
    time.sleep(0.2)  # the first attempt has failed; the exporter waits to retry
    forwarder.process(_batch(1))
    started = time.monotonic()
    forwarder.shutdown()
    assert time.monotonic() - started < 2
    assert forwarder.stats["dropped_spans_shutdown"] == 15 and forwarder.stats["queue_spans"] == 0
    forwarder.process(_batch(1))  # after shutdown: counted, not queued
    assert forwarder.stats["dropped_spans_shutdown"] == 20


def test_start_and_shutdown_are_safe_twice(http_target: HttpTarget) -> None:
    ForwardProcessor(FAST).shutdown()  # never started
    forwarder = ForwardProcessor(replace(FAST, endpoint=http_target.url))
    forwarder.start()
    forwarder.start()
    forwarder.process(_batch())
    forwarder.shutdown()
    forwarder.shutdown()
    assert forwarder.stats["forwarded_spans"] == 10 and len(http_target.requests) == 1


# --- gRPC -------------------------------------------------------------------------


class GrpcTarget:
    """An OTLP/gRPC receiver answering from a script of status codes (with an optional
    RetryInfo delay), then OK."""

    def __init__(self) -> None:
        self.script: list[tuple[grpc.StatusCode, float | None]] = []
        self.bodies: list[bytes] = []
        self.metadata: list[dict[str, str]] = []

        def export(request: bytes, context: grpc.ServicerContext) -> bytes:
            self.bodies.append(request)
            self.metadata.append(dict(context.invocation_metadata()))
            if self.script:
                code, delay = self.script.pop(0)
                if delay is not None:
                    context.set_trailing_metadata([("grpc-status-details-bin", _retry_status(code, delay))])
                context.abort(code, "scripted")
            return ExportTraceServiceResponse().SerializeToString()

        handler = grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.trace.v1.TraceService",
            {"Export": grpc.unary_unary_rpc_method_handler(export)},
        )
        self.server = grpc.server(futures.ThreadPoolExecutor(2))
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()


def _retry_status(code: grpc.StatusCode, delay: float) -> bytes:
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=int(delay * 1e9))))
    return status_pb2.Status(code=code.value[0], message="scripted", details=[detail]).SerializeToString()


@pytest.fixture
def grpc_target_server() -> Iterator[GrpcTarget]:
    target = GrpcTarget()
    yield target
    target.server.stop(0)


def _grpc_config(target: GrpcTarget, **changes: Any) -> ForwardConfig:
    return replace(FAST, endpoint=f"127.0.0.1:{target.port}", protocol="grpc", **changes)


def test_grpc_delivers_with_metadata(grpc_target_server: GrpcTarget) -> None:
    forwarder = _forward(_grpc_config(grpc_target_server, headers={"X-Tenant": "a"}), _batch())
    assert forwarder.stats["forwarded_spans"] == 10
    assert _spans_in(grpc_target_server.bodies) == 10 and grpc_target_server.metadata[0]["x-tenant"] == "a"


def test_grpc_retryable_codes(grpc_target_server: GrpcTarget) -> None:
    grpc_target_server.script = [(grpc.StatusCode.UNAVAILABLE, None), (grpc.StatusCode.RESOURCE_EXHAUSTED, 0.01)]
    forwarder = _forward(_grpc_config(grpc_target_server), _batch())
    assert forwarder.stats["retries"] == 2 and forwarder.stats["forwarded_spans"] == 10


@pytest.mark.parametrize("code", [grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INVALID_ARGUMENT])
def test_grpc_permanent_codes(grpc_target_server: GrpcTarget, code: grpc.StatusCode) -> None:
    """RESOURCE_EXHAUSTED without RetryInfo means too large or over quota: no retry."""
    grpc_target_server.script = [(code, None)]
    forwarder = _forward(_grpc_config(grpc_target_server), _batch())
    assert forwarder.stats["retries"] == 0 and forwarder.stats["dropped_spans_rejected"] == 10


def test_grpc_dead_target() -> None:
    config = replace(FAST, endpoint=f"127.0.0.1:{free_port()}", protocol="grpc", max_retries=2)
    forwarder = _forward(config, _batch())
    assert forwarder.stats["retries"] == 2 and forwarder.stats["dropped_spans_after_retries"] == 10


# --- helpers and config -------------------------------------------------------------


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0


def test_endpoint_forms() -> None:
    assert traces_url("http://c:4318") == traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert traces_url("https://v.example/otlp/v1/traces") == "https://v.example/otlp/v1/traces"
    assert grpc_target("c:4317") == ("c:4317", False) and grpc_target("https://c:443") == ("c:443", True)


def test_factory_builds_forward_only_with_an_endpoint() -> None:
    assert "forward" not in build_pipelines(Config()).traces.names
    config = load_config(overrides={"forward": {"endpoint": "http://collector:4318"}})
    assert build_pipelines(config).traces.names[-1] == "forward"


@pytest.mark.parametrize(
    "settings, message",
    [({"protocol": "udp"}, "protocol"), ({"compression": "zstd"}, "compression"),
     ({"endpoint": "collector:4318"}, "http://"), ({"queue_max_spans": 0}, "queue_max_spans"),
     ({"projects": ["acme", ""]}, "projects")],
)
def test_config_is_validated(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides={"forward": settings})


def _resource_projects(body: bytes) -> Counter[str]:
    """Spans per `spanwise.project` resource attribute (absent: the default project)."""
    found: Counter[str] = Counter()
    for resource in ExportTraceServiceRequest.FromString(body).resource_spans:
        attributes = {kv.key: kv.value.string_value for kv in resource.resource.attributes}
        found[attributes.get(PROJECT_ATTRIBUTE, DEFAULT_PROJECT)] += sum(len(s.spans) for s in resource.scope_spans)
    return found


def test_forwarded_resources_name_their_project(http_target: HttpTarget) -> None:
    """Batches of two projects go out in one request, each resource naming its project."""
    forwarder = ForwardProcessor(replace(FAST, endpoint=http_target.url))
    with acting(for_project("acme")):
        forwarder.process(_batch(2, 1))
    forwarder.process(_batch(3, 2))  # in the default project, as a server without projects
    forwarder.start()
    forwarder.shutdown()
    assert len(http_target.requests) == 1 and forwarder.stats["forwarded_spans"] == 25
    assert _resource_projects(http_target.requests[0][2]) == {"acme": 10, DEFAULT_PROJECT: 15}


def test_only_chosen_projects_are_forwarded(http_target: HttpTarget) -> None:
    forwarder = ForwardProcessor(replace(FAST, endpoint=http_target.url, projects=["acme"]))
    for project in ("acme", "beta", DEFAULT_PROJECT):
        with acting(for_project(project)):
            batch = _batch(2, len(project))
            assert forwarder.process(batch) is batch
    forwarder.start()
    forwarder.shutdown()
    assert _resource_projects(b"".join(body for _, _, body in http_target.requests)) == {"acme": 10}
    assert forwarder.stats["forwarded_spans"] == 10 and forwarder.stats["skipped_spans_other_projects"] == 20
    assert "skipped_spans_other_projects" not in ForwardProcessor(FAST).stats  # a key only with `projects`

"""A real `spanwise serve` under a few hundred hypothesis-generated requests: OTLP bodies
(structured, mutated, JSON, random) with every content type and encoding, query strings
on the API routes, feedback and baseline uploads, raw gRPC bytes. Every answer is below
500, except 503 with Retry-After; afterwards the server is healthy and its memory bounded."""

from __future__ import annotations

import gzip
import random
import zlib
from typing import Any, Iterator
from urllib.parse import quote

import grpc
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from otlp_fuzz import logs_requests, metrics_requests, mutate, trace_requests
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow

RSS_GROWTH_BOUND_MB = 400  # a few hundred requests of at most a few MB may not leave more behind
OTLP_PATHS = {"/v1/traces": trace_requests(), "/v1/logs": logs_requests(), "/v1/metrics": metrics_requests()}
GRPC_METHODS = [
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
]
CONTENT_TYPES = ["application/x-protobuf", "application/json", "application/json; charset=utf-8", "text/plain",
                 "", "application/x-protobuf; foo=bar", "application/grpc", "text/csv", "multipart/form-data"]
API_PATHS = [
    "/api/traces", "/api/traces/{id}", "/api/services", "/api/services/{s}/operations", "/api/operations",
    "/api/dependencies", "/api/v1/traces", "/api/v1/traces/{id}", "/api/v1/traces/{id}/logs", "/api/v1/logs",
    "/api/v1/services", "/api/v1/services/{s}/operations", "/api/v1/dependencies", "/api/v1/metrics/latency",
    "/api/v1/metrics/red", "/api/v1/otlp/metrics", "/api/v1/otlp/metrics/{s}", "/api/v1/models",
    "/api/v1/models/{s}", "/api/v1/models/{s}/versions/{s}", "/api/v1/models/{s}/metrics",
    "/api/v1/models/{s}/quality", "/api/v1/models/{s}/drift", "/api/v1/models/{s}/baselines",
    "/api/v1/models/{s}/data-quality", "/api/v1/models/{s}/explanations", "/api/v1/models/{s}/compare",
    "/api/v1/models/{s}/concept-drift", "/api/v1/models/{s}/predictions", "/api/v1/models/{s}/signals",
    "/api/v1/models/{s}/estimated-quality", "/api/v1/predictions/{id}", "/api/v1/lineage/{id}/predictions",
    "/metrics", "/api/v1/status",
]
PARAM_NAMES = ["service", "operation", "limit", "start", "end", "lookback", "minDuration", "maxDuration", "tags",
               "tag", "version", "baseline", "step", "window", "query", "traceID", "reference_start", "bins",
               "method", "format", "q", "severity", "spanKind", "name"]
param_values = st.one_of(
    st.text(max_size=20), st.sampled_from(["", "0", "-1", "9" * 40, "1e999", "nan", "1h", "1000d", "{}", "{\"a\":",
                                          "[1]", "%00", "\x00", "a:b", "99999999999999999999999ns", "1" * 5000]),
    st.integers(-(2**70), 2**70).map(str),
)
path_values = st.one_of(st.text(st.characters(exclude_characters="/?#", exclude_categories=["Cs"]), min_size=1,
                                max_size=40),
                        st.sampled_from(["0" * 32, "f" * 32, "x" * 5000, "..", "%2F", "g" * 32, "0" * 33]))


def _encoded(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "gzip-bomb":
        return gzip.compress(b"\x00" * 50_000_000)  # 50 MB of zeros in ~50 KB
    if encoding == "bad-gzip":
        return body[:10] + b"\x1f\x8b\x08" + body
    return body


@st.composite
def otlp_posts(draw: Any) -> tuple[str, bytes, dict[str, str]]:
    path = draw(st.sampled_from(sorted(OTLP_PATHS)))
    message = draw(OTLP_PATHS[path])
    form = draw(st.sampled_from(["protobuf", "mutated", "random", "json"]))
    body = message.SerializeToString()
    if form == "mutated":
        body = mutate(body, random.Random(draw(st.integers(0, 2**32))))
    elif form == "random":
        body = draw(st.binary(max_size=300))
    elif form == "json":
        from google.protobuf import json_format
        body = json_format.MessageToJson(message).encode()
    encoding = draw(st.sampled_from(["", "", "gzip", "deflate", "gzip-bomb", "bad-gzip", "br", "gzip, gzip"]))
    headers = {"Content-Type": draw(st.sampled_from(CONTENT_TYPES))}
    if encoding:
        headers["Content-Encoding"] = "gzip" if encoding in ("gzip-bomb", "bad-gzip") else encoding
    return path, _encoded(body, encoding), headers


@st.composite
def api_gets(draw: Any) -> tuple[str, list[tuple[str, str]]]:
    path = draw(st.sampled_from(API_PATHS))
    path = path.replace("{id}", quote(draw(path_values), safe="")).replace("{s}", quote(draw(path_values), safe=""))
    query = draw(st.lists(st.tuples(st.sampled_from(PARAM_NAMES), param_values), max_size=6))
    return path, query


upload_bodies = st.one_of(st.binary(max_size=300), st.sampled_from([
    b"[]", b'[{"prediction_id": "x", "label": 1}]', b"label,prediction_id\n1,x\n", b"a,b\n1,2\n",
    b'{"kind": "window", "name": "n", "start": 0, "end": 1}', b'{"kind": "rolling", "name": "r", "lookback": "9999999d"}',
    b"a\x80,b\n1,2\n", b"a,b\nx,\x80\n", b"PAR1\x00\x00PAR1",
]))


def _check(response: httpx.Response | None, what: str) -> None:
    if response is None:
        return
    assert response.status_code < 500 or (response.status_code == 503 and "retry-after" in response.headers), (
        f"{what} -> {response.status_code} {response.text[:300]}"
    )


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        line = next(line for line in handle if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.fixture(scope="module")
def fuzzed(server: SpanwiseProcess) -> Iterator[tuple[SpanwiseProcess, httpx.Client, grpc.Channel]]:
    with httpx.Client(timeout=30) as client, grpc.insecure_channel(server.grpc_endpoint) as channel:
        yield server, client, channel


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    otlp_posts().map(lambda p: ("otlp", p)),
    api_gets().map(lambda g: ("get", g)),
    st.tuples(st.sampled_from(["/api/v1/feedback", "/api/v1/models/m/baselines"]), upload_bodies,
              st.sampled_from(["application/json", "text/csv", "application/vnd.apache.parquet", "", "x/y"]))
    .map(lambda u: ("upload", u)),
    st.tuples(st.sampled_from(GRPC_METHODS), st.one_of(st.binary(max_size=300), trace_requests()
                                                        .map(lambda r: mutate(r.SerializeToString(), random.Random(0)))))
    .map(lambda g: ("grpc", g)),
))
def test_requests_never_get_a_server_error(fuzzed: Any, case: tuple[str, Any]) -> None:
    server, client, channel = fuzzed
    kind, args = case
    if kind == "otlp":
        path, body, headers = args
        _check(client.post(f"{server.http_url}{path}", content=body, headers=headers), f"POST {path} {headers}")
    elif kind == "get":
        path, query = args
        _check(client.get(f"{server.query_url}{path}", params=query), f"GET {path} {query}")
    elif kind == "upload":
        path, body, content_type = args
        headers = {"Content-Type": content_type} if content_type else {}
        _check(client.post(f"{server.query_url}{path}", content=body, headers=headers), f"POST {path} {body[:80]!r}")
    else:
        method, body = args
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        try:
            call(body, timeout=30)
        except grpc.RpcError as exc:
            assert exc.code() not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), (method, exc.details())


def test_server_survives_healthy_and_bounded(fuzzed: Any) -> None:
    """Runs after the fuzzing (same module server): still healthy and answering queries,
    and its memory grew by less than RSS_GROWTH_BOUND_MB over a fresh server's."""
    server, client, _ = fuzzed
    assert server.process is not None and server.process.poll() is None, server.log()
    assert client.get(f"{server.query_url}/api/v1/health", timeout=2).status_code == 200
    assert client.get(f"{server.query_url}/api/v1/services").status_code == 200
    fresh = SpanwiseProcess(str(server.data_dir) + "-fresh")
    fresh.start()
    try:
        baseline = _rss_mb(fresh.process.pid)  # type: ignore[union-attr]
    finally:
        fresh.stop()
    grown = _rss_mb(server.process.pid) - baseline
    assert grown < RSS_GROWTH_BOUND_MB, f"RSS {grown:.0f} MB above a fresh server's after fuzzing"

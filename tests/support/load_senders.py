"""Load against a real server that remembers what was acknowledged, for the overload and
crash-loop tests and bench/soak.

Each request carries one trace of `spans` spans with a fresh trace id, so an
acknowledgement names exactly one trace; `assert_acknowledged_stored` then asks the
query API for every acknowledged trace and checks all of its spans are there.
Bodies are built once and only the trace id bytes are swapped per request, so a sender
thread costs little CPU (the server, not the test, should be the bottleneck).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import grpc
import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_PLACEHOLDER = b"\xa5\x5a\xc3\x3c" * 4  # 16 bytes that occur nowhere else in a body
_ids = itertools.count(1)
_ids_lock = threading.Lock()


def next_trace_id(prefix: int) -> bytes:
    """Unique across threads and (through `prefix`, e.g. a run number) across processes."""
    with _ids_lock:
        number = next(_ids)
    return prefix.to_bytes(8, "big") + number.to_bytes(8, "big")


def template(spans: int, service: str = "load", attribute_bytes: int = 64) -> bytes:
    """One trace of `spans` spans (a root and its children), trace id = placeholder."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", service
    ss = rs.scope_spans.add()
    now = time.time_ns()
    for i in range(spans):
        span = ss.spans.add(trace_id=_PLACEHOLDER, span_id=(i + 1).to_bytes(8, "big"), name=f"op-{i % 7}",
                            start_time_unix_nano=now - 1_000_000, end_time_unix_nano=now)
        if i:
            span.parent_span_id = (1).to_bytes(8, "big")
        attr = span.attributes.add()
        attr.key, attr.value.string_value = "payload", "x" * attribute_bytes
    body = request.SerializeToString()
    assert body.count(_PLACEHOLDER) == spans
    return body


def with_trace_id(body: bytes, trace_id: bytes) -> bytes:
    return body.replace(_PLACEHOLDER, trace_id)


@dataclass
class Tally:
    """What the senders saw; `acked` holds the hex ids of acknowledged traces."""

    acked: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    refused: int = 0  # 429 / 503 / UNAVAILABLE / RESOURCE_EXHAUSTED
    refused_without_retry_after: int = 0
    errors: list[str] = field(default_factory=list)  # anything else (connection errors excepted)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, trace_id: bytes | None, refused: bool = False, retry_after: bool = True, error: str = "") -> None:
        with self.lock:
            if trace_id is not None:
                self.acked.append(trace_id.hex())
            if refused:
                self.refused += 1
                self.refused_without_retry_after += not retry_after
            if error:
                self.errors.append(error)


def http_sender(url: str | Callable[[], str], body: bytes, prefix: int, tally: Tally, stop: threading.Event,
                pause: float = 0.0) -> None:
    """POST OTLP/HTTP protobuf until `stop`; a connection error (server killed) is no ack.
    `url` may be a callable (a restarted server can come back on other ports). Every
    trace id tried is kept in `tally.sent`, acknowledged or not."""
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            trace_id = next_trace_id(prefix)
            tally.sent.append(trace_id.hex())
            target = url() if callable(url) else url
            try:
                response = client.post(f"{target}/v1/traces", content=with_trace_id(body, trace_id),
                                       headers={"Content-Type": "application/x-protobuf"})
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            if response.status_code == 200:
                tally.record(trace_id)
            elif response.status_code in (429, 503):
                tally.record(None, refused=True, retry_after="retry-after" in response.headers)
                time.sleep(0.01)
            else:
                tally.record(None, error=f"HTTP {response.status_code}: {response.text[:200]}")
            if pause:
                time.sleep(pause)


def grpc_sender(endpoint: str, body: bytes, prefix: int, tally: Tally, stop: threading.Event, pause: float = 0.0) -> None:
    """Export over gRPC (raw bytes through the real channel) until `stop`."""
    refused_codes = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
    with grpc.insecure_channel(endpoint) as channel:
        export = channel.unary_unary(TRACE_EXPORT, request_serializer=None, response_deserializer=None)
        while not stop.is_set():
            trace_id = next_trace_id(prefix)
            try:
                export(with_trace_id(body, trace_id), timeout=10)
            except grpc.RpcError as exc:
                code: Any = exc.code()  # type: ignore[attr-defined]
                if code in refused_codes:
                    retry = any(k == "retry-after" for k, _ in (exc.trailing_metadata() or ()))  # type: ignore[attr-defined]
                    tally.record(None, refused=True, retry_after=retry)
                    time.sleep(0.01)
                elif code not in (grpc.StatusCode.DEADLINE_EXCEEDED,):
                    tally.record(None, error=f"gRPC {code}: {exc.details()}")  # type: ignore[attr-defined]
                continue
            tally.record(trace_id)
            if pause:
                time.sleep(pause)


def stored_span_counts(query_url: str, trace_ids: list[str], chunk: int = 50) -> dict[str, int]:
    """Spans stored per trace id (absent ids are missing), through the Jaeger API."""
    found: dict[str, int] = {}
    with httpx.Client(timeout=60) as client:
        for start in range(0, len(trace_ids), chunk):
            ids = trace_ids[start : start + chunk]
            response = client.get(f"{query_url}/api/traces", params=[("traceID", t) for t in ids])
            response.raise_for_status()
            found.update({t["traceID"]: len(t["spans"]) for t in response.json()["data"]})
    return found


def missing_acknowledged(query_url: str, acked: list[str], spans: int) -> list[str]:
    """Acknowledged traces that are not stored with all `spans` spans."""
    counts = stored_span_counts(query_url, acked)
    return [t for t in acked if counts.get(t) != spans]

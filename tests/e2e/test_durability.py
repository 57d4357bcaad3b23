"""Acknowledged data survives SIGKILL; SIGTERM drains and exits 0."""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow
SPANS_PER_REQUEST = 50


def _body(trace_number: int) -> bytes:
    """One trace of SPANS_PER_REQUEST spans per request, so each ack names one trace id."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "durability"
    ss = rs.scope_spans.add()
    now = time.time_ns()
    for i in range(SPANS_PER_REQUEST):
        span = ss.spans.add()
        span.trace_id = trace_number.to_bytes(16, "big")
        span.span_id = (i + 1).to_bytes(8, "big")
        span.name = f"op-{i % 5}"
        span.start_time_unix_nano = now
        span.end_time_unix_nano = now + 1000
    return request.SerializeToString()


def _send_until_stopped(server: SpanwiseProcess, acked: list[int], stop: threading.Event, first: int) -> None:
    number = first
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():
            try:
                response = client.post(
                    f"{server.http_url}/v1/traces",
                    content=_body(number),
                    headers={"Content-Type": "application/x-protobuf"},
                )
                if response.status_code == 200:
                    acked.append(number)
            except httpx.HTTPError:
                pass  # the server was killed mid-request: not acknowledged
            number += 1


def _load_then(server: SpanwiseProcess, seconds: float, action: str) -> list[int]:
    acked: list[int] = []
    stop = threading.Event()
    senders = [
        threading.Thread(target=_send_until_stopped, args=(server, acked, stop, 1 + k * 1_000_000))
        for k in range(3)
    ]
    for sender in senders:
        sender.start()
    time.sleep(seconds)
    if action == "kill":
        server.kill()
    else:
        assert server.stop() == 0, server.log()
    stop.set()
    for sender in senders:
        sender.join()
    return acked


def _assert_all_stored(server: SpanwiseProcess, acked: list[int]) -> None:
    assert acked, "the load generator got no acknowledgement at all"
    expected = len(acked) * SPANS_PER_REQUEST
    server.wait_for(lambda: server.status()["spans"] >= expected, timeout=60)
    missing = []
    for start in range(0, len(acked), 200):
        chunk = [f"{n:032x}" for n in acked[start : start + 200]]
        response = server.query("/api/traces", traceID=chunk)
        stored = {t["traceID"]: len(t["spans"]) for t in response.json()["data"]}
        missing += [t for t in chunk if stored.get(t) != SPANS_PER_REQUEST]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged requests lost, e.g. {missing[:5]}"


@pytest.mark.parametrize("flush_interval_ms", [500, 600_000])
def test_sigkill_under_load_loses_no_acknowledged_span(tmp_path: os.PathLike[str], flush_interval_ms: int) -> None:
    """With a 10-minute flush interval everything acknowledged is only in the ingest log
    when the process dies, so the restart must replay it."""
    config = os.path.join(tmp_path, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(f"ingest:\n  flush_interval_ms: {flush_interval_ms}\n")
    data_dir = os.path.join(tmp_path, "data")
    server = SpanwiseProcess(data_dir, ["--config", config])
    server.start()
    acked = _load_then(server, 3.0, "kill")
    restarted = SpanwiseProcess(data_dir, ["--config", config])
    restarted.start()
    try:
        _assert_all_stored(restarted, acked)
        if flush_interval_ms > 1000:
            assert restarted.status()["replayed_rows"] >= len(acked) * SPANS_PER_REQUEST
    finally:
        assert restarted.stop() == 0


def test_sigterm_drains_and_exits_zero(tmp_path: os.PathLike[str]) -> None:
    config = os.path.join(tmp_path, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write("ingest:\n  flush_interval_ms: 600000\n")
    data_dir = os.path.join(tmp_path, "data")
    server = SpanwiseProcess(data_dir, ["--config", config])
    server.start()
    acked = _load_then(server, 2.0, "term")
    assert "stopped cleanly" in server.log()
    assert not [f for f in os.listdir(os.path.join(data_dir, "ingest-log")) if f.endswith(".swlog")]
    restarted = SpanwiseProcess(data_dir, ["--config", config])
    restarted.start()
    try:
        _assert_all_stored(restarted, acked)
        assert restarted.status()["replayed_rows"] == 0
    finally:
        assert restarted.stop() == 0

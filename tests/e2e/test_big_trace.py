"""One huge trace against a real `spanwise serve`: answers stay bounded and the server
stays responsive. The native trace API pages the trace (totalSpans, nextOffset), the
Jaeger API cuts it with a warning, search summaries count every span, and
`/api/v1/health` answers quickly while the big trace is read over and over.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from otlp_build import add_attributes
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow

CAP = 4000  # server.max_trace_spans for this server
BIG = 40_000  # spans of the big trace, sent in PER_REQUEST-span requests
PER_REQUEST = 10_000
SERVICE = "big-trace-svc"
#: A native span of this test is ~0.5 KB of JSON; a page must stay near CAP of them.
MAX_PAGE_BYTES = CAP * 1500


def big_trace_requests(trace_id: bytes) -> list[bytes]:
    """A root and BIG - 1 children, one microsecond apart, as OTLP protobuf bodies."""
    base = time.time_ns() - 60 * 10**9
    root_id = (1).to_bytes(8, "big")
    bodies = []
    for first in range(0, BIG, PER_REQUEST):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        add_attributes(resource_spans.resource, {"service.name": SERVICE})
        scope_spans = resource_spans.scope_spans.add()
        for i in range(first, first + PER_REQUEST):
            span = scope_spans.spans.add()
            span.trace_id, span.span_id = trace_id, (i + 1).to_bytes(8, "big")
            span.parent_span_id = root_id if i else b""
            span.name = "root" if i == 0 else f"step-{i % 7}"
            span.kind = Span.SPAN_KIND_INTERNAL
            span.start_time_unix_nano = base + i * 1000
            span.end_time_unix_nano = base + i * 1000 + (BIG * 1000 if i == 0 else 500)
            add_attributes(span, {"step": float(i)})
        bodies.append(request.SerializeToString())
    return bodies


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SpanwiseProcess, str]]:
    """A server capped at CAP spans per trace, holding one BIG-span trace."""
    base: Path = tmp_path_factory.mktemp("big-trace")
    config = base / "spanwise.yaml"
    config.write_text(f"server:\n  max_trace_spans: {CAP}\n")
    server = SpanwiseProcess(str(base / "data"), extra_args=["--config", str(config)])
    server.start()
    trace_id = os.urandom(16)
    try:
        for body in big_trace_requests(trace_id):
            response = httpx.post(
                f"{server.http_url}/v1/traces", content=body,
                headers={"Content-Type": "application/x-protobuf"}, timeout=60,
            )
            assert response.status_code == 200, response.text
        assert server.wait_for_spans(BIG, timeout=60) >= BIG
        yield server, trace_id.hex()
    finally:
        server.stop()


def test_native_trace_is_paged_with_the_total(big: tuple[SpanwiseProcess, str]) -> None:
    server, trace_id = big
    first = server.query(f"/api/v1/traces/{trace_id}")
    assert first.status_code == 200, first.text
    assert len(first.content) < MAX_PAGE_BYTES
    page = first.json()
    assert (page["traceId"], page["totalSpans"], page["offset"], page["limit"]) == (trace_id, BIG, 0, CAP)
    assert len(page["spans"]) == CAP and page["nextOffset"] == CAP
    assert page["spans"][0]["name"] == "root"
    starts = [s["startTimeUnixNano"] for s in page["spans"]]
    assert starts == sorted(starts)

    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = server.query(f"/api/v1/traces/{trace_id}", offset=offset, limit=CAP).json()
        seen += [s["spanId"] for s in page["spans"]]
        offset = page["nextOffset"]
    assert len(seen) == len(set(seen)) == BIG
    assert seen == [(i + 1).to_bytes(8, "big").hex() for i in range(BIG)]


def test_native_page_parameters_are_checked(big: tuple[SpanwiseProcess, str]) -> None:
    server, trace_id = big
    too_many = server.query(f"/api/v1/traces/{trace_id}", limit=CAP + 1)
    assert too_many.status_code == 400 and str(CAP) in too_many.json()["error"]["message"]
    assert server.query(f"/api/v1/traces/{trace_id}", offset=-1).status_code == 400
    assert server.query(f"/api/v1/traces/{trace_id}", offset="x").status_code == 400
    small = server.query(f"/api/v1/traces/{trace_id}", offset=BIG - 10, limit=50).json()
    assert (len(small["spans"]), small["nextOffset"], small["totalSpans"]) == (10, None, BIG)
    past = server.query(f"/api/v1/traces/{trace_id}", offset=BIG + 5).json()
    assert (past["spans"], past["nextOffset"], past["totalSpans"]) == ([], None, BIG)
    assert server.query(f"/api/v1/traces/{'ab' * 16}").status_code == 404


def test_jaeger_answers_are_cut_with_a_warning(big: tuple[SpanwiseProcess, str]) -> None:
    server, trace_id = big
    warning = f"Trace truncated: showing {CAP} of {BIG} spans"
    by_id = server.query(f"/api/traces/{trace_id}")
    assert by_id.status_code == 200 and len(by_id.content) < 2 * MAX_PAGE_BYTES
    (trace,) = by_id.json()["data"]
    assert len(trace["spans"]) == CAP
    assert any(w.startswith(warning) for w in trace["warnings"]), trace["warnings"]
    search = server.query("/api/traces", service=SERVICE, lookback="2h")
    (found,) = search.json()["data"]
    assert len(found["spans"]) == CAP and any(w.startswith(warning) for w in found["warnings"])


def test_search_summary_counts_every_span(big: tuple[SpanwiseProcess, str]) -> None:
    server, trace_id = big
    response = server.query("/api/v1/traces", service=SERVICE, lookback="2h")
    (summary,) = response.json()["traces"]
    assert summary["traceId"] == trace_id
    assert (summary["spanCount"], summary["errorCount"], summary["services"]) == (BIG, 0, [SERVICE])
    assert (summary["rootServiceName"], summary["rootSpanName"]) == (SERVICE, "root")
    assert summary["durationNano"] == BIG * 1000
    assert summary["models"] == []


def test_health_stays_fast_while_the_big_trace_is_read(big: tuple[SpanwiseProcess, str]) -> None:
    """Reading and rendering a big trace runs off the event loop: health answers in a small
    fraction of a big read's time while reads run. Compared with the reads of the same run,
    not with a wall-clock bound, so a busy machine slows both alike."""
    server, trace_id = big
    stop = threading.Event()
    read_times: list[float] = []

    def read_big_trace() -> None:
        with httpx.Client(base_url=server.query_url, timeout=60) as client:
            while not stop.is_set():
                for path in (f"/api/v1/traces/{trace_id}", f"/api/traces/{trace_id}"):
                    began = time.perf_counter()
                    assert client.get(path).status_code == 200
                    read_times.append(time.perf_counter() - began)

    readers = [threading.Thread(target=read_big_trace) for _ in range(2)]
    for reader in readers:
        reader.start()
    latencies = []
    try:
        with httpx.Client(base_url=server.query_url, timeout=10) as client:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline or len(read_times) < 4:
                began = time.perf_counter()
                assert client.get("/api/v1/health").status_code == 200
                latencies.append(time.perf_counter() - began)
                time.sleep(0.05)
    finally:
        stop.set()
        for reader in readers:
            reader.join(60)
    read = statistics.median(read_times)
    # A loop blocked by a read would make health wait about as long as that read.
    assert statistics.median(latencies) < 0.25 * read, (statistics.median(latencies), read)
    assert sorted(latencies)[int(0.9 * len(latencies))] < read, (sorted(latencies)[-5:], read)

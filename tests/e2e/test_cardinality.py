"""Unbounded cardinality against a real `spanwise serve` with the default config: a
client sending thousands of distinct span names or feature names must not make
`/metrics` or the prediction export grow without bound, and nothing may be lost.
"""

from __future__ import annotations

import os
import time
from typing import Iterator

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_build import add_attributes
from prometheus_client.parser import text_string_to_metric_families
from server_process import SpanwiseProcess

from spanwise.model.metrics import DEFAULT_MAX_SERIES

pytestmark = pytest.mark.slow

PROTOBUF = {"Content-Type": "application/x-protobuf"}
CALLS = "traces_span_metrics_calls_total"
OVERFLOW = ("otel_metric_overflow", "true")
NAMES = 6000  # distinct span names, well past the default series limit
HOT = 40  # spans of one busy name, which must keep its own series


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    process = SpanwiseProcess(str(tmp_path_factory.mktemp("cardinality") / "data"))
    process.start()
    yield process
    assert process.stop() == 0


def spans_request(service: str, spans: list[tuple[str, int, dict[str, object]]]) -> bytes:
    """One OTLP request of (name, start ns, attributes) spans, 1 ms each."""
    body = ExportTraceServiceRequest()
    rs = body.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", service
    scope = rs.scope_spans.add()
    for name, start, attributes in spans:
        span = scope.spans.add()
        span.trace_id, span.span_id, span.name, span.kind = os.urandom(16), os.urandom(8), name, 2
        span.start_time_unix_nano, span.end_time_unix_nano = start, start + 10**6
        add_attributes(span, attributes)
    return body.SerializeToString()


def post(server: SpanwiseProcess, body: bytes) -> None:
    response = httpx.post(f"{server.http_url}/v1/traces", content=body, headers=PROTOBUF, timeout=60)
    assert response.status_code == 200, response.text


def calls(text: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The calls counter's samples by label set, parsed with the official parser."""
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text) for s in family.samples if s.name == CALLS
    }


def test_metrics_keep_a_bounded_number_of_series_and_every_count(server: SpanwiseProcess) -> None:
    now = time.time_ns()
    spans = [(f"random-{i}", now, {}) for i in range(NAMES)] + [("checkout", now, {})] * HOT
    post(server, spans_request("cardinality", spans))
    sent = NAMES + HOT
    server.wait_for(lambda: sum(calls(server.query("/metrics").text).values()) >= sent, timeout=60)

    started = time.monotonic()
    scrape = server.query("/metrics")
    elapsed = time.monotonic() - started
    series = calls(scrape.text)
    assert scrape.status_code == 200
    assert len(series) == DEFAULT_MAX_SERIES + 1, "at the limit, plus one overflow series"
    assert sum(series.values()) == sent, "the overflow series carries the rest: totals add up"
    (overflow,) = [value for labels, value in series.items() if OVERFLOW in labels]
    assert overflow == NAMES - (DEFAULT_MAX_SERIES - 1)
    hot = [v for labels, v in series.items() if ("span_name", "checkout") in labels]
    assert hot == [HOT], "the busiest series keeps its own labels"
    assert len(scrape.content) < 5_000_000 and elapsed < 5, (len(scrape.content), elapsed)


def test_series_without_recent_spans_are_not_exposed(server: SpanwiseProcess) -> None:
    two_hours_ago = time.time_ns() - 2 * 3600 * 10**9  # past the default staleness window (1 h)
    post(server, spans_request("stale-service", [("old", two_hours_ago, {})] * 100))  # busy enough to rank first
    post(server, spans_request("fresh-service", [("new", time.time_ns(), {})] * 100))
    fresh = server.wait_for(lambda: "fresh-service" in server.query("/metrics").text, timeout=60)
    assert fresh
    assert "stale-service" not in server.query("/metrics").text

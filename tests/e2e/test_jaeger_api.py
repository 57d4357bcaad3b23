"""The Jaeger HTTP JSON API over the wire, as Grafana's Jaeger data source calls it.

Jaeger's own OTLP input is posted to the OTLP/HTTP receiver as OTLP/JSON, then read back
through `/api/traces...` and compared with Jaeger's own expected output, field by field.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jaeger"
TRACE_ID = "83a9efd15c1c98a977e0711cc93ee28b"
START_US = 1706678909209712


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    """A server that stores spans as sent: Jaeger's fixtures carry an IPv4 address
    (`net.peer.ip`), which default PII redaction would mask, and this module checks the
    conversion to Jaeger's output, not redaction."""
    base = tmp_path_factory.mktemp("jaeger")
    config = base / "spanwise.yaml"
    config.write_text("redaction:\n  enabled: false\ningest:\n  max_age_days: 0  # the fixtures are from 2024\n")
    process = SpanwiseProcess(str(base / "data"), ["--config", str(config)])
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def loaded(server: SpanwiseProcess) -> SpanwiseProcess:
    body = (FIXTURES / "otlp2jaeger-in.json").read_bytes()
    response = httpx.post(f"{server.http_url}/v1/traces", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert server.wait_for(lambda: server.query(f"/api/traces/{TRACE_ID}").status_code == 200)
    return server


def _expected() -> dict[str, Any]:
    return json.loads((FIXTURES / "otlp2jaeger-out.json").read_text())


def test_trace_by_id_equals_jaegers_output(loaded: SpanwiseProcess) -> None:
    assert loaded.query(f"/api/traces/{TRACE_ID}").json() == _expected()


def test_search_returns_the_same_trace(loaded: SpanwiseProcess) -> None:
    window = {"start": START_US - 10**6, "end": START_US + 10**6}
    found = loaded.query("/api/traces", service="telemetrygen", limit=20, **window).json()
    assert found["data"] == _expected()["data"] and found["errors"] is None
    for extra in (
        {"tags": '{"peer.service":"telemetrygen-client"}'},
        {"tag": "net.peer.ip:1.2.3.4"},
        {"operation": "okey-dokey-0", "minDuration": "100us", "maxDuration": "1ms"},
    ):
        assert [t["traceID"] for t in loaded.query("/api/traces", service="telemetrygen", **window, **extra).json()["data"]] == [TRACE_ID]
    for miss in ({"tags": '{"peer.service":"other"}'}, {"minDuration": "1s"}, {"operation": "nope"}):
        assert loaded.query("/api/traces", service="telemetrygen", **window, **miss).json()["data"] == []


def test_trace_ids_parameter_and_short_ids(loaded: SpanwiseProcess) -> None:
    found = loaded.query("/api/traces", traceID=[TRACE_ID, "1" * 32]).json()
    assert [t["traceID"] for t in found["data"]] == [TRACE_ID]


def test_services_and_operations(loaded: SpanwiseProcess) -> None:
    services = loaded.query("/api/services").json()
    assert "telemetrygen" in services["data"] and services["total"] == len(services["data"])
    assert loaded.query("/api/services/telemetrygen/operations").json()["data"] == ["okey-dokey-0"]
    ops = loaded.query("/api/operations", service="telemetrygen", spanKind="server").json()["data"]
    assert ops == [{"name": "okey-dokey-0", "spanKind": "server"}]
    assert loaded.query("/api/operations", service="telemetrygen", spanKind="client").json()["data"] == []


def test_dependencies_from_parent_child_spans_across_services(loaded: SpanwiseProcess) -> None:
    now_ns = time.time_ns() - 7 * 86_400 * 10**9  # a quiet hour of its own (future spans are refused)
    def span(service: str, span_id: str, parent: str) -> dict[str, Any]:
        return {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
            "scopeSpans": [{"spans": [{
                "traceId": "ab" * 16, "spanId": span_id, "parentSpanId": parent, "name": "call", "kind": 3,
                "startTimeUnixNano": str(now_ns), "endTimeUnixNano": str(now_ns + 1000),
            }]}],
        }
    body = {"resourceSpans": [span("dep-web", "01" * 8, ""), span("dep-db", "02" * 8, "01" * 8)]}
    assert httpx.post(f"{loaded.http_url}/v1/traces", json=body).status_code == 200
    end_ms = now_ns // 10**6 + 1000

    def edges() -> list[dict[str, Any]]:
        return loaded.query("/api/dependencies", endTs=end_ms, lookback=60_000).json()["data"]

    assert loaded.wait_for(edges) == [{"parent": "dep-web", "child": "dep-db", "callCount": 1}]


def test_unknown_trace_is_a_404_in_jaegers_error_envelope(loaded: SpanwiseProcess) -> None:
    response = loaded.query(f"/api/traces/{'0' * 31}9")
    assert response.status_code == 404
    body = response.json()
    assert body["data"] is None and body["errors"][0]["code"] == 404 and "not found" in body["errors"][0]["msg"]

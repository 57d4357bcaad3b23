"""The native API as documented by its own OpenAPI description."""

from __future__ import annotations

import time

import httpx
import pytest
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow


def test_openapi_describes_every_native_route(server: SpanwiseProcess) -> None:
    spec = server.query("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/health", "/api/v1/status", "/api/v1/traces", "/api/v1/traces/{trace_id}",
                 "/api/v1/services", "/api/v1/dependencies", "/api/v1/metrics/latency"):
        assert "get" in spec["paths"][path], path
    # A response is described by its description (and content) only: an unquoted comma in a
    # docstring's YAML flow mapping would split the description into a stray key.
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation.get("responses", {}).items():
                assert set(response) <= {"description", "content", "$ref"}, (path, method, status, response)


def test_latency_percentiles_per_minute(server: SpanwiseProcess) -> None:
    now = time.time_ns() - 120 * 10**9
    spans = [
        {"traceId": f"{i + 1:032x}", "spanId": f"{i + 1:016x}", "name": "work",
         "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + (i + 1) * 10**6)}
        for i in range(100)
    ]
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "lat-svc"}}]},
                               "scopeSpans": [{"spans": spans}]}]}
    assert httpx.post(f"{server.http_url}/v1/traces", json=body).status_code == 200

    def points() -> list[dict[str, float]]:
        return server.query("/api/v1/metrics/latency", service="lat-svc", step=60, lookback="1h").json()["points"]

    series = server.wait_for(lambda: sum(p["count"] for p in points()) == 100 and points())
    assert len(series) == 1
    assert series[0]["p50_ms"] == pytest.approx(50.5, rel=0.05)
    assert series[0]["p99_ms"] == pytest.approx(99, rel=0.05)
    assert server.query("/api/v1/metrics/latency", service="lat-svc", step=0).status_code == 400
    assert server.query("/api/v1/metrics/latency").status_code == 400

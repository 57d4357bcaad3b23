"""OTLP metrics end to end: a counter, a histogram and a gauge recorded with the real
OpenTelemetry SDK, exported over gRPC (cumulative, the SDK default) and over HTTP
(delta), stored in the exporter's `otel_metrics_*` tables and read back as series whose
increases add up to what was recorded."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader, MetricExporter
from opentelemetry.sdk.resources import Resource
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow
DELTA = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}


def _record(exporter: MetricExporter, service: str, rounds: int = 3) -> None:
    """Record, export and record again `rounds` times (each export is one point per series)."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=Resource.create({"service.name": service}), metric_readers=[reader])
    meter = provider.get_meter("e2e")
    predictions = meter.create_counter("predictions", unit="1", description="predictions served")
    latency = meter.create_histogram("inference.latency", unit="ms")
    meter.create_observable_gauge("queue.depth", callbacks=[lambda options: [Observation(7, {"queue": "a"})]])
    for _ in range(rounds):
        for value in (10.0, 20.0, 30.0):
            predictions.add(2, {"model": "fraud"})
            latency.record(value, {"model": "fraud"})
        data = reader.get_metrics_data()
        assert data is not None
        assert exporter.export(data).name == "SUCCESS"
    provider.shutdown()


@pytest.fixture(scope="module")
def sent(server: SpanwiseProcess) -> None:
    _record(GrpcMetricExporter(endpoint=server.grpc_endpoint, insecure=True), "grpc-svc")
    _record(HttpMetricExporter(endpoint=f"{server.http_url}/v1/metrics", preferred_temporality=DELTA), "http-svc")


def _series(server: SpanwiseProcess, name: str, service: str) -> dict[str, object]:
    answer = server.query(f"/api/v1/otlp/metrics/{name}", service=service, step=3600, lookback="2h")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_metrics_are_listed(server: SpanwiseProcess, sent: None) -> None:
    listed = {(m["name"], m["kind"]): m for m in server.query("/api/v1/otlp/metrics").json()["metrics"]}
    assert set(listed) == {("predictions", "sum"), ("inference.latency", "histogram"), ("queue.depth", "gauge")}
    assert listed[("predictions", "sum")]["unit"] == "1"
    assert listed[("predictions", "sum")]["description"] == "predictions served"
    assert sorted(listed[("predictions", "sum")]["services"]) == ["grpc-svc", "http-svc"]
    assert listed[("predictions", "sum")]["points"] == 6


@pytest.mark.parametrize("service", ["grpc-svc", "http-svc"])
def test_counter_increase_matches_what_was_recorded(server: SpanwiseProcess, sent: None, service: str) -> None:
    series = _series(server, "predictions", service)
    assert series["kind"] == "sum"
    total = sum(p["increase"] for p in series["points"])  # type: ignore[attr-defined]
    # Cumulative points (gRPC) are 6, 12, 18: the first point counts from zero; delta
    # points (HTTP) are 6 each. Either way 18 predictions were recorded.
    assert total == 18


@pytest.mark.parametrize("service", ["grpc-svc", "http-svc"])
def test_histogram_count_and_sum(server: SpanwiseProcess, sent: None, service: str) -> None:
    points = _series(server, "inference.latency", service)["points"]
    assert sum(p["count"] for p in points) == 9  # type: ignore[attr-defined]
    assert sum(p["sum"] for p in points) == 180.0  # type: ignore[attr-defined]


@pytest.mark.parametrize("service", ["grpc-svc", "http-svc"])
def test_histogram_quantiles_lie_in_the_recorded_values_buckets(
    server: SpanwiseProcess, sent: None, service: str
) -> None:
    """Each round records 10, 20 and 30 ms, so every step's median is 20 and its p95 30;
    the SDK's default bounds (0, 5, 10, 25, 50, ...) put them in (10, 25] and (25, 50],
    and the estimate, linear inside the bucket, is off by at most the bucket's width."""
    points = _series(server, "inference.latency", service)["points"]
    assert isinstance(points, list)
    steps = [p for p in points if p["count"]]
    assert steps
    for step in steps:
        assert 10 < step["p50"] <= 25 and abs(step["p50"] - 20) <= 15
        assert 25 < step["p95"] <= 50 and abs(step["p95"] - 30) <= 25
        assert step["mean"] == pytest.approx(20.0)


def test_gauge_values(server: SpanwiseProcess, sent: None) -> None:
    points = _series(server, "queue.depth", "grpc-svc")["points"]
    assert [(p["last"], p["min"], p["max"]) for p in points] == [(7.0, 7.0, 7.0)]  # type: ignore[index]


def test_bad_metric_requests(server: SpanwiseProcess, sent: None) -> None:
    assert server.query("/api/v1/otlp/metrics/nope").status_code == 404
    bad = httpx.post(f"{server.http_url}/v1/metrics", content=b"\x0a\xff", headers={"content-type": "application/x-protobuf"})
    assert bad.status_code == 400
    summary = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "legacy", "summary": {"dataPoints": [
            {"count": "1", "sum": 2.0, "quantileValues": [{"quantile": 0.5, "value": 2.0}]},
            {"count": "1", "sum": 2.0, "quantileValues": [{"quantile": 50, "value": 2.0}]}]}},  # a percent, not [0, 1]
        {"name": "json.gauge", "gauge": {"dataPoints": [{"asDouble": 1.5, "timeUnixNano": str(time.time_ns())}]}},
        {"name": "ancient", "gauge": {"dataPoints": [{"asDouble": 1.5, "timeUnixNano": "1"}]}}]}]}]}
    answer = httpx.post(f"{server.http_url}/v1/metrics", content=orjson.dumps(summary),
                        headers={"content-type": "application/json"})
    assert answer.status_code == 200, answer.text
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedDataPoints"] == "2"
    assert "1 summary point(s): at most 64 quantiles, each between 0 and 1" in partial["errorMessage"]
    assert "times must lie within" in partial["errorMessage"]  # 1970: outside the ingest time window
    stored = server.query("/api/v1/otlp/metrics", start=0).json()["metrics"]
    assert any(m["name"] == "json.gauge" for m in stored)
    assert [(m["kind"], m["points"]) for m in stored if m["name"] == "legacy"] == [("summary", 1)]


def test_non_finite_values_read_as_null_not_as_a_server_error(server: SpanwiseProcess) -> None:
    """OTLP doubles may be NaN or infinite (JSON has neither): stored as sent, answered as null."""
    now = time.time_ns()
    metrics = [{"name": "nf.gauge", "gauge": {"dataPoints": [{"timeUnixNano": str(now), "asDouble": "NaN"}]}},
               {"name": "nf.sum", "sum": {"aggregationTemporality": 2, "isMonotonic": True, "dataPoints": [
                   {"startTimeUnixNano": str(now - 10**9), "timeUnixNano": str(now), "asDouble": "Infinity"}]}}]
    body = {"resourceMetrics": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "nf"}}]},
                                 "scopeMetrics": [{"metrics": metrics}]}]}
    assert httpx.post(f"{server.http_url}/v1/metrics", json=body).status_code == 200
    gauge = server.wait_for(lambda: _points(server, "nf.gauge"))
    assert gauge[0]["last"] is None and gauge[0]["points"] == 1
    assert server.wait_for(lambda: _points(server, "nf.sum"))[0]["increase"] is None


def _points(server: SpanwiseProcess, name: str) -> list[dict[str, object]]:
    response = server.query(f"/api/v1/otlp/metrics/{name}", lookback="1h")
    assert response.status_code in (200, 404), response.text
    return response.json()["points"] if response.status_code == 200 else []

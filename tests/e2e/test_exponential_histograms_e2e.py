"""Exponential histograms end to end: latencies recorded with the real OpenTelemetry SDK
configured for `ExponentialBucketHistogramAggregation` (as .NET, Java and Python services
often are), exported over gRPC, stored in `otel_metrics_exponential_histogram` and read
back through the API: listed with their kind, counted, and their quantiles within the
error bound the series states."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow
LATENCIES = [float(ms) for ms in range(1, 201)]  # 1..200 ms, twice (two exports, cumulative)


def test_sdk_exponential_histogram_is_stored_and_read_back(server: SpanwiseProcess) -> None:
    reader = InMemoryMetricReader()
    view = View(instrument_type=Histogram, aggregation=ExponentialBucketHistogramAggregation())
    provider = MeterProvider(resource=Resource.create({"service.name": "exp-svc"}), metric_readers=[reader],
                             views=[view])
    latency = provider.get_meter("e2e").create_histogram("rpc.duration", unit="ms")
    exporter = OTLPMetricExporter(endpoint=server.grpc_endpoint, insecure=True)
    for _ in range(2):
        for value in LATENCIES:
            latency.record(value, {"rpc.method": "Predict"})
        data = reader.get_metrics_data()
        assert data is not None and exporter.export(data).name == "SUCCESS"
    provider.shutdown()

    listed = [m for m in server.query("/api/v1/otlp/metrics").json()["metrics"] if m["name"] == "rpc.duration"]
    assert [(m["kind"], m["services"], m["points"]) for m in listed] == [("exponential_histogram", ["exp-svc"], 2)]
    answer = server.query("/api/v1/otlp/metrics/rpc.duration", service="exp-svc", step=3600, lookback="2h")
    assert answer.status_code == 200, answer.text
    points = answer.json()["points"]
    assert sum(p["count"] for p in points) == 400 and sum(p["sum"] for p in points) == 2 * sum(LATENCIES)
    step = max(points, key=lambda p: p["count"])
    assert step["mean"] == pytest.approx(100.5)
    for name, true in (("p50", 100.0), ("p90", 180.0), ("p99", 198.0)):  # a step holds 1..200 once or twice
        assert abs(step[name] - true) / true <= step["max_relative_error"], (name, step)

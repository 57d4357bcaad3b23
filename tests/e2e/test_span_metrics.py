"""Span metrics at /metrics are exact while head sampling stores about 1% of traces.

Spans go in through the real OpenTelemetry SDK; `/metrics` is parsed with the official
`prometheus_client` parser and compared with counts computed here from what was sent;
then a real Prometheus scrapes it.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client.parser import text_string_to_metric_families
from prometheus_process import PrometheusProcess
from server_process import SpanwiseProcess

from spanwise.core.metrics import CONFIDENCE_BUCKETS, DURATION_BUCKETS_MS

pytestmark = pytest.mark.slow
CONFIG = """
sampling: {enabled: true, default_rate: 0.01}
metrics:
  dimensions: [deployment.environment]
  counters:
    - {name: orders, attribute: order.id, labels: [payment.method]}
    - {name: revenue, attribute: order.amount, value: sum, description: "Order amounts"}
  histograms:
    - {name: order_amount, attribute: order.amount, buckets: [10, 100, 1000]}
"""
DURATIONS_MS = (0.25, 2, 2.5, 4, 5.999, 8, 10, 10.001, 49.5, 50, 100, 399, 800, 1000, 1399, 1400, 2000, 4999,
                10000, 15000, 15000.001, 30000)
CONFIDENCES = (0.05, 0.1, 0.15, 0.5, 0.55, 0.9, 0.99, 1.0, None)
AMOUNTS = (5.0, 10.0, 19.99, 100.0, 250.5, 1000.0, 5000.0, "n/a")
KINDS = {SpanKind.SERVER: "SERVER", SpanKind.CLIENT: "CLIENT", SpanKind.INTERNAL: "INTERNAL",
         SpanKind.PRODUCER: "PRODUCER", SpanKind.CONSUMER: "CONSUMER"}
STATUSES = {StatusCode.UNSET: "UNSET", StatusCode.OK: "OK", StatusCode.ERROR: "ERROR"}
SPANS = 1500
Key = tuple[tuple[str, str], ...]


@dataclass
class Expected:
    """Every metric computed from the spans as sent (the unsampled input)."""

    durations: dict[Key, list[float]] = field(default_factory=lambda: defaultdict(list))
    latencies: dict[Key, list[float]] = field(default_factory=lambda: defaultdict(list))
    confidences: dict[Key, list[float]] = field(default_factory=lambda: defaultdict(list))
    orders: Counter[Key] = field(default_factory=Counter)
    amounts: list[float] = field(default_factory=list)


def _key(labels: dict[str, str]) -> Key:
    return tuple(sorted((k, v) for k, v in labels.items() if k not in ("le", "job", "instance", "__name__")))


@pytest.fixture(scope="module")
def metrics_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    work = tmp_path_factory.mktemp("span-metrics")
    (work / "spanwise.yaml").write_text(CONFIG)
    process = SpanwiseProcess(str(work / "data"), ["--config", str(work / "spanwise.yaml")])
    process.start()
    yield process
    assert process.stop() == 0


def _send(server: SpanwiseProcess) -> Expected:
    """SPANS root spans (one trace each) from three services through the SDK."""
    rng, expected = random.Random(7), Expected()
    providers = {
        service: TracerProvider(resource=Resource.create({"service.name": service, **resource}))
        for service, resource in (("shop-frontend", {"deployment.environment": "prod"}),
                                  ("shop-checkout", {}), ("fraud-model", {}))
    }
    for provider in providers.values():
        exporter = OTLPSpanExporter(endpoint=f"{server.http_url}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=500))
    base = time.time_ns() - 60 * 10**9
    for i in range(SPANS):
        service = rng.choice(sorted(providers))
        kind, status = rng.choice(list(KINDS)), rng.choice(list(STATUSES))
        name, attributes = _attributes(service, rng, expected, rng.randrange(4))
        duration_ns = round(rng.choice(DURATIONS_MS) * 10**6)
        span = providers[service].get_tracer("metrics-e2e").start_span(name, kind=kind, start_time=base + i, attributes=attributes)
        if status != StatusCode.UNSET:
            span.set_status(Status(status))
        span.end(end_time=base + i + duration_ns)
        labels = {"service_name": service, "span_name": name, "span_kind": f"SPAN_KIND_{KINDS[kind]}",
                  "status_code": f"STATUS_CODE_{STATUSES[status]}"}
        if service == "shop-frontend":
            labels["deployment_environment"] = "prod"
        expected.durations[_key(labels)].append(duration_ns / 1e6)
        if "ml.model.name" in attributes:
            model = _key({"model_name": "fraud", "model_version": str(attributes["ml.model.version"])})
            expected.latencies[model].append(duration_ns / 1e6)
            if "ml.prediction.confidence" in attributes:
                expected.confidences[model].append(float(attributes["ml.prediction.confidence"]))
    for provider in providers.values():
        provider.force_flush()
        provider.shutdown()
    return expected


def _attributes(service: str, rng: random.Random, expected: Expected, variant: int) -> tuple[str, dict[str, Any]]:
    """A span name and attributes: predictions for the model, orders for checkout."""
    if service == "fraud-model" and variant:
        confidence = rng.choice(CONFIDENCES)
        attributes: dict[str, Any] = {"ml.model.name": "fraud", "ml.model.version": f"v{variant % 2 + 1}"}
        if confidence is None:
            attributes["ml.prediction.label"] = "ok"
        else:
            attributes["ml.prediction.confidence"] = confidence
        return "predict", attributes
    if service == "shop-checkout" and variant:
        method, amount = rng.choice(("card", "cash", None)), rng.choice(AMOUNTS)
        attributes = {"order.id": f"o-{rng.random()}", "order.amount": amount}
        if method:
            attributes["payment.method"] = method
        expected.orders[_key({"payment_method": method} if method else {})] += 1
        if not isinstance(amount, str):
            expected.amounts.append(amount)
        return "checkout", attributes
    return rng.choice(("GET /", "GET /cart", "load")), {}


@pytest.fixture(scope="module")
def sent(metrics_server: SpanwiseProcess) -> Expected:
    expected = _send(metrics_server)

    def all_counted() -> bool:
        calls = _families(metrics_server).get("traces_span_metrics_calls")
        return calls is not None and sum(s.value for s in calls.samples) == SPANS

    assert metrics_server.wait_for(all_counted, timeout=60), metrics_server.log()
    return expected


def _families(server: SpanwiseProcess) -> dict[str, Any]:
    response = server.query("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def _counter(family: Any) -> dict[Key, float]:
    return {_key(s.labels): s.value for s in family.samples}


def _histogram(family: Any) -> tuple[dict[Key, dict[str, float]], dict[Key, float], dict[Key, float]]:
    """Cumulative buckets (by `le` text), sums and counts per series."""
    buckets: dict[Key, dict[str, float]] = defaultdict(dict)
    sums, counts = {}, {}
    for sample in family.samples:
        key = _key(sample.labels)
        if sample.name.endswith("_bucket"):
            buckets[key][sample.labels["le"]] = sample.value
        elif sample.name.endswith("_sum"):
            sums[key] = sample.value
        else:
            counts[key] = sample.value
    return buckets, sums, counts


def _le(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else repr(bound)


def _assert_histogram(family: Any, observed: dict[Key, list[float]], bounds: tuple[float, ...]) -> None:
    buckets, sums, counts = _histogram(family)
    assert set(buckets) == set(observed)
    for key, values in observed.items():
        want = {_le(b): sum(1 for v in values if v <= b) for b in bounds} | {"+Inf": len(values)}
        assert buckets[key] == want, key
        assert counts[key] == len(values)
        assert sums[key] == pytest.approx(sum(values), rel=1e-9)


def test_span_metrics_equal_the_unsampled_input(metrics_server: SpanwiseProcess, sent: Expected) -> None:
    families = _families(metrics_server)
    calls = families["traces_span_metrics_calls"]
    assert calls.type == "counter" and {s.name for s in calls.samples} == {"traces_span_metrics_calls_total"}
    assert _counter(calls) == {key: len(values) for key, values in sent.durations.items()}
    _assert_histogram(families["traces_span_metrics_duration_milliseconds"], sent.durations, DURATION_BUCKETS_MS)
    assert metrics_server.status()["spans"] < SPANS // 10  # head sampling kept about 1%


def test_model_metrics_equal_the_unsampled_input(metrics_server: SpanwiseProcess, sent: Expected) -> None:
    families = _families(metrics_server)
    predictions = _counter(families["spanwise_model_predictions"])
    assert predictions == {key: len(values) for key, values in sent.latencies.items()}
    _assert_histogram(families["spanwise_model_latency_milliseconds"], sent.latencies, DURATION_BUCKETS_MS)
    _assert_histogram(families["spanwise_model_confidence"], sent.confidences, CONFIDENCE_BUCKETS)


def test_custom_business_metrics(metrics_server: SpanwiseProcess, sent: Expected) -> None:
    families = _families(metrics_server)
    assert _counter(families["orders"]) == dict(sent.orders)
    revenue = families["revenue"]
    assert revenue.documentation == "Order amounts"
    assert _counter(revenue)[()] == pytest.approx(sum(sent.amounts))
    _assert_histogram(families["order_amount"], {(): sent.amounts}, (10.0, 100.0, 1000.0))


def test_a_real_prometheus_scrapes_them(metrics_server: SpanwiseProcess, sent: Expected, tmp_path: Any) -> None:
    prometheus = PrometheusProcess(str(tmp_path), f"127.0.0.1:{metrics_server.query_port}")
    prometheus.start()
    try:
        want = {key: float(len(values)) for key, values in sent.durations.items()}

        def scraped() -> dict[Key, float]:
            return {_key(r["metric"]): float(r["value"][1]) for r in prometheus.query("traces_span_metrics_calls_total")}

        assert metrics_server.wait_for(lambda: scraped() == want, timeout=60), prometheus.log()
        up = prometheus.query('up{job="spanwise"}')
        assert [r["value"][1] for r in up] == ["1"]
        predictions = prometheus.query("sum(spanwise_model_predictions_total)")
        assert float(predictions[0]["value"][1]) == sum(len(v) for v in sent.latencies.values())
        p99 = prometheus.query("histogram_quantile(0.99, sum by (le) (traces_span_metrics_duration_milliseconds_bucket))")
        assert float(p99[0]["value"][1]) == 15000  # in the +Inf bucket: Prometheus answers the highest finite bound
    finally:
        prometheus.stop()

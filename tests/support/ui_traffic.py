"""Real OTLP traffic for the browser tests, sent with the OpenTelemetry SDK over gRPC.

A small shop: `frontend` -> `checkout-api` -> `feature-store` and a `churn` model
prediction span (versions v1 and v2) with features, confidence, label and attributions;
some checkouts fail and some are slow. Plus one 10,000-span trace and one trace whose
names, keys and values are HTML/script payloads.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

MS = 10**6
XSS = [
    "<script>window.__xss = 1</script>",
    '<img src=x onerror="window.__xss = 2">',
    '"><svg onload="window.__xss = 3">',
    "javascript:window.__xss = 4",
]


@dataclass
class Sent:
    """What was sent, for the tests to look for."""

    trace_ids: list[str] = field(default_factory=list)
    error_trace_ids: list[str] = field(default_factory=list)
    predictions: dict[str, dict[str, object]] = field(default_factory=dict)  # prediction id -> attributes
    prediction_traces: dict[str, str] = field(default_factory=dict)  # prediction id -> trace id


class Services:
    """One tracer provider per service, all exporting to `endpoint`."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.providers: dict[str, TracerProvider] = {}

    def tracer(self, service: str) -> trace.Tracer:
        if service not in self.providers:
            provider = TracerProvider(resource=Resource.create({"service.name": service, "service.version": "1.4.2"}))
            exporter = OTLPSpanExporter(endpoint=self.endpoint, insecure=True)
            provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=20_000, max_export_batch_size=2048))
            self.providers[service] = provider
        return self.providers[service].get_tracer("ui-traffic")

    def shutdown(self) -> None:
        for provider in self.providers.values():
            provider.shutdown()


def _hex(span: trace.Span) -> str:
    return format(span.get_span_context().trace_id, "032x")


def send_shop(endpoint: str, count: int = 40, seed: int = 3) -> Sent:
    """`count` checkout traces over the last 10 minutes."""
    rng = random.Random(seed)
    services = Services(endpoint)
    sent = Sent()
    now = time.time_ns()
    for i in range(count):
        start = now - (count - i) * 15_000 * MS
        failed = i % 7 == 3
        slow = i % 11 == 5
        frontend = services.tracer("frontend").start_span(
            "GET /checkout", kind=trace.SpanKind.SERVER, start_time=start,
            attributes={"http.method": "GET", "http.route": "/checkout", "user.id": f"user-{i % 9}"})
        ctx = trace.set_span_in_context(frontend)
        api = services.tracer("checkout-api").start_span(
            "POST /api/checkout", context=ctx, kind=trace.SpanKind.SERVER, start_time=start + 2 * MS,
            attributes={"http.method": "POST", "http.status_code": 500 if failed else 200})
        api_ctx = trace.set_span_in_context(api)
        features = services.tracer("feature-store").start_span(
            "get_features", context=api_ctx, start_time=start + 3 * MS, attributes={"feature.count": 3})
        features.end(end_time=start + 9 * MS)
        prediction_id = f"pred-{i:04d}"
        version = "v2" if i % 2 else "v1"
        tenure, spend = round(rng.uniform(1, 60), 2), round(rng.uniform(10, 400), 2)
        confidence = round(rng.uniform(0.55, 0.99), 3)
        attributes: dict[str, object] = {
            "ml.model.name": "churn", "ml.model.version": version, "ml.prediction.id": prediction_id,
            "ml.feature.tenure_months": tenure, "ml.feature.monthly_spend": spend,
            "ml.feature.plan": rng.choice(["basic", "pro", "team"]),
            "ml.prediction.label": "churn" if spend < 80 else "stay", "ml.prediction.confidence": confidence,
            "ml.explanation.tenure_months": round(-0.02 * tenure, 4),
            "ml.explanation.monthly_spend": round(0.001 * (100 - spend), 4),
        }
        model = services.tracer("checkout-api").start_span(
            "churn.predict", context=api_ctx, start_time=start + 10 * MS, attributes=attributes)
        model.end(end_time=start + (250 if slow else 18) * MS)
        if failed:
            api.set_status(Status(StatusCode.ERROR, "payment declined"))
            api.add_event("exception", {"exception.type": "PaymentError", "exception.message": "card declined"},
                          timestamp=start + 21 * MS)
        api.end(end_time=start + (260 if slow else 25) * MS)
        frontend.end(end_time=start + (270 if slow else 30) * MS)
        trace_id = _hex(frontend)
        sent.trace_ids.append(trace_id)
        if failed:
            sent.error_trace_ids.append(trace_id)
        sent.predictions[prediction_id] = attributes
        sent.prediction_traces[prediction_id] = trace_id
    services.shutdown()
    return sent


def send_big_trace(endpoint: str, spans: int = 10_000) -> str:
    """One trace of `spans` spans: a root with 100 batches of ~100 child steps."""
    services = Services(endpoint)
    tracer = services.tracer("batch-scorer")
    start = time.time_ns() - 120_000 * MS
    root = tracer.start_span("score_all", start_time=start)
    ctx = trace.set_span_in_context(root)
    made = 1
    batch_index = 0
    while made < spans:
        batch = tracer.start_span(f"batch {batch_index}", context=ctx, start_time=start + batch_index * 10 * MS)
        made += 1
        batch_ctx = trace.set_span_in_context(batch)
        for step in range(min(99, spans - made)):
            child = tracer.start_span("score_row", context=batch_ctx,
                                      start_time=start + batch_index * 10 * MS + step * 50_000,
                                      attributes={"row": step})
            child.end(end_time=start + batch_index * 10 * MS + step * 50_000 + 40_000)
            made += 1
        batch.end(end_time=start + (batch_index + 1) * 10 * MS)
        batch_index += 1
    root.end(end_time=start + (batch_index + 1) * 10 * MS)
    trace_id = _hex(root)
    services.shutdown()
    return trace_id


def send_hostile(endpoint: str) -> str:
    """A trace whose service, span names, attribute keys and values are XSS payloads."""
    services = Services(endpoint)
    tracer = services.tracer(XSS[1])
    attributes: dict[str, object] = {f"key{XSS[0]}": XSS[1], "hostile.value": XSS[2], "hostile.link": XSS[3],
                                     "ml.model.name": "churn<script>", "ml.prediction.id": XSS[1],
                                     "ml.feature.<img src=x onerror=window.__xss=5>": 1.5}
    root = tracer.start_span(XSS[0], attributes=attributes)
    root.add_event(XSS[2], {XSS[0]: XSS[1]})
    child = tracer.start_span(XSS[2], context=trace.set_span_in_context(root), attributes={"x": XSS[0]})
    child.set_status(Status(StatusCode.ERROR, XSS[1]))
    child.end()
    root.end()
    trace_id = _hex(root)
    services.shutdown()
    return trace_id

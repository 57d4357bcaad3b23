"""Deterministic labelled predictions in two adjacent one-hour windows, with injected
concept drift, for the concept-drift and export tests, and what scipy says about them.

- `fraud` (classification): features amount (numeric) and region (north/south/east); the
  label agrees with the prediction 90% of the time, except in the current window's
  `south` segment, where 60% of the labels are flipped.
- `steady` (classification): the same model and data without the flip: nothing drifts.
- `eta` (regression): feature city (paris/lyon); the error's spread triples in the
  current window (all segments).
Labels arrive as feedback, except every 7th prediction's, which travels as `ml.label`.
"""

from __future__ import annotations

import random
import time
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_build import add_attributes

HOUR = 3600 * 10**9
REFERENCE_START = (time.time_ns() // HOUR - 3) * HOUR
CURRENT_START = REFERENCE_START + HOUR
CURRENT_END = CURRENT_START + HOUR - 1
REGIONS = ("north", "south", "east")
PER_WINDOW = 300


def predictions() -> list[dict[str, Any]]:
    """One dict per prediction: id, model, start_ns, window ("reference"/"current"),
    attributes (span attributes), actual (label text) and on_span (label sent as ml.label)."""
    rng = random.Random(7)
    made: list[dict[str, Any]] = []
    for model in ("fraud", "steady", "eta"):
        for w, start in (("reference", REFERENCE_START), ("current", CURRENT_START)):
            for i in range(PER_WINDOW):
                at = start + (i * HOUR) // PER_WINDOW + 10**6
                pid = f"{model}-{w[:3]}-{i}"
                if model == "eta":
                    city = "paris" if i % 2 else "lyon"
                    value = round(rng.uniform(5, 60), 3)
                    actual = round(value + rng.gauss(0, 2 if w == "reference" else 6), 3)
                    attributes: dict[str, Any] = {"ml.prediction.value": value, "ml.feature.city": city,
                                                  "ml.feature.distance": round(value / 3, 2)}
                    label = repr(actual)
                else:
                    region = REGIONS[i % 3]
                    amount = round(rng.uniform(0, 100), 2)
                    predicted = "yes" if amount > 50 else "no"
                    wrong = rng.random() < 0.1
                    if model == "fraud" and w == "current" and region == "south":
                        wrong = rng.random() < 0.6
                    label = ("no" if predicted == "yes" else "yes") if wrong else predicted
                    attributes = {"ml.prediction.label": predicted, "ml.prediction.confidence": 0.5 + abs(amount - 50) / 100,
                                  "ml.prediction.proba.yes": amount / 100, "ml.feature.amount": amount,
                                  "ml.feature.region": region, "ml.explanation.amount": round((amount - 50) / 100, 4)}
                made.append({"id": pid, "model": model, "start_ns": at, "window": w, "attributes": attributes,
                             "actual": label, "on_span": i % 7 == 0})
    return made


def span_attributes(p: dict[str, Any]) -> dict[str, Any]:
    extra = {"ml.label": p["actual"]} if p["on_span"] else {}
    return {"ml.model.name": p["model"], "ml.model.version": "v1", "ml.prediction.id": p["id"], **p["attributes"], **extra}


def feedback(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"prediction_id": p["id"], "label": p["actual"], "timestamp": p["start_ns"] / 1e9 + 3600}
            for p in rows if not p["on_span"]]


def export_request(rows: list[dict[str, Any]]) -> bytes:
    """All predictions as one OTLP export request (one span each)."""
    body = ExportTraceServiceRequest()
    for i, p in enumerate(rows):
        rs = body.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", f"{p['model']}-service"
        s = rs.scope_spans.add().spans.add()
        s.trace_id, s.span_id = (i + 1).to_bytes(16, "big"), (i + 1).to_bytes(8, "big")
        s.name, s.kind = "predict", 2
        s.start_time_unix_nano, s.end_time_unix_nano = p["start_ns"], p["start_ns"] + 10**6
        add_attributes(s, span_attributes(p))
    return body.SerializeToString()


def _errors(rows: list[dict[str, Any]], model: str, window: str, feature: str | None, value: str | None) -> list[Any]:
    chosen = [p for p in rows if p["model"] == model and p["window"] == window
              and (feature is None or p["attributes"].get(f"ml.feature.{feature}") == value)]
    if model == "eta":
        return [abs(float(p["actual"]) - p["attributes"]["ml.prediction.value"]) for p in chosen]
    return [p["actual"] != p["attributes"]["ml.prediction.label"] for p in chosen]


def expected(rows: list[dict[str, Any]], model: str, feature: str | None = None, value: str | None = None) -> dict[str, float]:
    """scipy on the raw rows: chi-squared (classification) or Mann-Whitney U (regression)."""
    from scipy import stats

    ref, cur = _errors(rows, model, "reference", feature, value), _errors(rows, model, "current", feature, value)
    if model == "eta":
        result = stats.mannwhitneyu(cur, ref, method="asymptotic")
        return {"statistic": float(result.statistic), "p_value": float(result.pvalue),
                "reference_mae": sum(ref) / len(ref), "current_mae": sum(cur) / len(cur)}
    table = [[sum(ref), len(ref) - sum(ref)], [sum(cur), len(cur) - sum(cur)]]
    chi2 = stats.chi2_contingency(table, correction=False)
    return {"statistic": float(chi2.statistic), "p_value": float(chi2.pvalue),
            "reference_error_rate": sum(ref) / len(ref), "current_error_rate": sum(cur) / len(cur)}


def send(server: Any) -> list[dict[str, Any]]:
    """Send every prediction with the real OpenTelemetry SDK (one tracer provider per model's
    service) and post the feedback labels; returns the rows once they are stored."""
    import httpx
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    rows = predictions()
    providers: dict[str, TracerProvider] = {}
    for p in rows:
        if p["model"] not in providers:
            provider = TracerProvider(resource=Resource.create({"service.name": f"{p['model']}-service"}))
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=server.grpc_endpoint, insecure=True)))
            providers[p["model"]] = provider
        span = providers[p["model"]].get_tracer("e2e").start_span("predict", start_time=p["start_ns"])
        for key, value in span_attributes(p).items():
            span.set_attribute(key, value)
        span.end(end_time=p["start_ns"] + 10**6)
    for provider in providers.values():
        provider.shutdown()
    assert server.wait_for(lambda: server.status()["predictions"] >= len(rows)), server.log()
    answer = httpx.post(f"{server.query_url}/api/v1/feedback", json=feedback(rows), timeout=60).json()
    assert answer["accepted"] == len(feedback(rows)) and answer["pending"] == 0
    return rows

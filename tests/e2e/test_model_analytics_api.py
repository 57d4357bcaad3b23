"""Data quality, explanations and version comparison end to end: the injected changes of
tests/support/analytics_data.py sent as spans with the real OpenTelemetry SDK to a real
server, and each endpoint checked (statistics against scipy on the same rows)."""

from __future__ import annotations

from typing import Any

import pytest
from analytics_data import END_NS, MINUTE, START_NS, fraud_predictions, in_window
from model_data import Prediction
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode
from scipy import stats
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow
WINDOWS = {"start": START_NS, "end": END_NS, "step": 60}


@pytest.fixture(scope="module")
def rows(server: SpanwiseProcess) -> list[Prediction]:
    made = fraud_predictions()
    provider = TracerProvider(resource=Resource.create({"service.name": "fraud-service"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=server.grpc_endpoint, insecure=True)))
    tracer = provider.get_tracer("e2e")
    for p in made:
        span = tracer.start_span("predict", start_time=p.start_ns)
        for key, value in {"ml.model.name": p.model, "ml.model.version": p.version,
                           "ml.prediction.id": p.prediction_id, "ml.label": p.span_label, **p.attributes}.items():
            span.set_attribute(key, value)
        if p.error:
            span.set_status(Status(StatusCode.ERROR, "failed"))
        span.end(end_time=p.start_ns + round(p.duration_ms * 10**6))
    provider.shutdown()
    assert server.wait_for(lambda: server.status()["predictions"] >= len(made)), server.log()
    return made


def test_data_quality(server: SpanwiseProcess, rows: list[Prediction]) -> None:
    body = server.query("/api/v1/models/fraud/data-quality", version="v1", **WINDOWS).json()
    issues = {(w["window"], f["name"]): f["issues"] for w in body["windows"] for f in w["features"] if f["issues"]}
    assert issues == {
        (1, "age"): ["missing"], (1, "country"): ["new_categories"], (1, "legacy"): ["vanished"],
        (2, "device"): ["appeared"], (2, "score_in"): ["out_of_range"], (2, "zip"): ["type_change"],
    }
    fixed = server.query("/api/v1/models/fraud/data-quality", version="v1", reference_start=START_NS - MINUTE,
                         reference_end=START_NS - 1, **WINDOWS).json()
    assert fixed["reference"]["kind"] == "fixed" and len(fixed["windows"]) == 3
    assert server.query("/api/v1/models/fraud/data-quality", version="v9", **WINDOWS).status_code == 404
    assert server.query("/api/v1/models/fraud/data-quality", reference_start=1, **WINDOWS).status_code == 400


def test_explanations(server: SpanwiseProcess, rows: list[Prediction]) -> None:
    body = server.query("/api/v1/models/fraud/explanations", version="v1", **WINDOWS).json()
    drifted = {(w["window"], f["name"]) for w in body["windows"] for f in w["features"] if f["drifted"]}
    assert drifted == {(2, "age")}
    age = next(f for f in body["windows"][2]["features"] if f["name"] == "age")
    want = stats.ks_2samp([p.attributes["ml.explanation.age"] for p in in_window(rows, "v1", 1)],
                          [p.attributes["ml.explanation.age"] for p in in_window(rows, "v1", 2)])
    assert age["drift"]["statistic"] == pytest.approx(want.statistic) and age["drift"]["p_value"] == pytest.approx(want.pvalue)
    assert age["mean_abs_attribution"] == pytest.approx(0.18)


def test_compare(server: SpanwiseProcess, rows: list[Prediction]) -> None:
    body = server.query("/api/v1/models/fraud/compare", a="v1", b="v2", start=START_NS - MINUTE, end=END_NS).json()
    significant = {k for k, v in body.items() if isinstance(v, dict) and v.get("significant")}
    assert significant == {"latency_ms"}
    ms = [[round(p.duration_ms * 10**6) / 1e6 for p in rows if p.version == v] for v in ("v1", "v2")]
    want = stats.mannwhitneyu(ms[0], ms[1], alternative="two-sided")
    assert body["latency_ms"]["p_value"] == pytest.approx(want.pvalue, rel=1e-9)
    assert body["latency_ms"]["b"]["p50"] > body["latency_ms"]["a"]["p50"] + 15
    assert body["accuracy"]["labelled"] == {"a": 160, "b": 160} and body["error_rate"]["difference"] == 0
    assert server.query("/api/v1/models/fraud/compare", a="v1", b="v1").status_code == 400
    assert server.query("/api/v1/models/fraud/compare", a="v1", b="v7").status_code == 404


def test_openapi_describes_the_routes(server: SpanwiseProcess) -> None:
    paths: dict[str, Any] = server.query("/api/v1/openapi.json").json()["paths"]
    for path in ("/api/v1/models/{name}/data-quality", "/api/v1/models/{name}/explanations",
                 "/api/v1/models/{name}/compare"):
        assert "summary" in paths[path]["get"], path

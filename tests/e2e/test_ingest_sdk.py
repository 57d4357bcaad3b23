"""The real OpenTelemetry SDK and the seed example send to a real `spanwise serve`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonHttpExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as ProtobufHttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow
SEED = os.path.join(os.path.dirname(__file__), "..", "support", "seed_inference_service.py")


@pytest.fixture(scope="module")
def seed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    """The seed example hard-codes localhost:4317, so this server takes the default port."""
    process = SpanwiseProcess(str(tmp_path_factory.mktemp("seed-data")))
    process.grpc_port = 4317
    process.start()
    yield process
    assert process.stop() == 0


def _traces(server: SpanwiseProcess, service: str) -> list[dict[str, Any]]:
    return server.query("/api/v1/traces", service=service, lookback="2h", limit=50).json()["traces"]


def test_seed_example_runs_unchanged_and_its_traces_arrive(seed_server: SpanwiseProcess) -> None:
    run = subprocess.run([sys.executable, SEED], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "Failed to export" not in run.stderr
    summaries = seed_server.wait_for(lambda: len(_traces(seed_server, "ai-inference-service")) == 2 and _traces(seed_server, "ai-inference-service"))
    assert summaries and len(summaries) == 2
    versions = set()
    for summary in summaries:
        assert summary["spanCount"] == 4
        trace = seed_server.query(f"/api/v1/traces/{summary['traceId']}").json()
        spans = {s["name"]: s for s in trace["spans"]}
        assert set(spans) == {"inference_request", "fetch_features", "model_predict", "post_process_result"}
        root = spans["inference_request"]
        assert root["parentSpanId"] == ""
        for child in ("fetch_features", "model_predict", "post_process_result"):
            assert spans[child]["parentSpanId"] == root["spanId"]
            assert spans[child]["traceId"] == root["traceId"]
        assert all(s["serviceName"] == "ai-inference-service" for s in spans.values())
        assert root["resource"]["service.version"] == "1.0.0"
        assert root["attributes"]["user.id"] in {"user_123", "user_456"}
        assert spans["fetch_features"]["attributes"]["features.retrieved"] == 2
        prediction = spans["model_predict"]["prediction"]
        version = root["attributes"]["model.version"]
        versions.add(version)
        assert prediction["model_name"] == "ai-inference-service"
        assert prediction["model_version"] == version
        assert prediction["features"] == {"feature_A": 0.5, "feature_B": 1.2}
        assert prediction["confidence"] == 0.9
        expected = 1.7 * 0.7 + (0.1 if version == "v1" else 0.2)
        assert prediction["prediction_value"] == pytest.approx(expected)
        assert prediction["prediction_id"] == f"{root['traceId']}:{spans['model_predict']['spanId']}"
        assert "prediction" not in spans["fetch_features"]
        assert summary["models"] == [{"name": "ai-inference-service", "version": version, "predictions": 1}]
    assert versions == {"v1", "v2"}
    assert seed_server.status()["predictions"] == 2


def _send_rich_trace(exporter: SpanExporter, service: str) -> None:
    """Every attribute type, an event, a link, an error status, nested spans."""
    provider = TracerProvider(resource=Resource.create({"service.name": service, "host.cores": 2}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("e2e-tests", "1.2.3")
    with tracer.start_as_current_span("other") as other:
        pass
    with tracer.start_as_current_span("handle", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.status_code", 500)
        root.set_attribute("ratio", 0.25)
        root.set_attribute("cached", False)
        root.set_attribute("tags", ["a", "b"])
        with tracer.start_as_current_span("predict", kind=SpanKind.CLIENT, links=[Link(other.get_span_context(), {"why": "batch"})]) as span:
            span.set_attribute("ml.model.name", "fraud")
            span.set_attribute("ml.model.version", "v7")
            span.set_attribute("ml.prediction.id", f"pred-{service}")
            span.set_attribute("ml.feature.amount", 120.5)
            span.set_attribute("ml.feature.country", "NL")
            span.set_attribute("ml.prediction.label", "fraud")
            span.set_attribute("ml.prediction.proba.fraud", 0.8)
            span.set_attribute("ml.explanation.amount", 0.3)
            span.add_event("scored", {"threshold": 0.5})
            span.set_status(Status(StatusCode.ERROR, "too risky"))
    provider.shutdown()


@pytest.mark.parametrize(
    "name, make_exporter",
    [
        ("protobuf-http", lambda s: ProtobufHttpExporter(endpoint=f"{s.http_url}/v1/traces")),
        ("json-http", lambda s: JsonHttpExporter(endpoint=f"{s.http_url}/v1/traces")),
        ("grpc", lambda s: GrpcExporter(endpoint=s.grpc_endpoint, insecure=True)),
    ],
)
def test_sdk_exporters_deliver_every_field(server: SpanwiseProcess, name: str, make_exporter: Any) -> None:
    service = f"svc-{name}"
    _send_rich_trace(make_exporter(server), service)
    summaries = server.wait_for(lambda: [t for t in _traces(server, service) if t["spanCount"] == 2])
    assert summaries, server.log()
    trace = server.query(f"/api/v1/traces/{summaries[0]['traceId']}").json()
    spans = {s["name"]: s for s in trace["spans"]}
    root, predict = spans["handle"], spans["predict"]
    assert root["kind"] == "Server" and predict["kind"] == "Client"
    assert root["attributes"] == {"http.status_code": 500, "ratio": 0.25, "cached": False, "tags": ["a", "b"]}
    assert root["resource"]["host.cores"] == 2
    assert predict["parentSpanId"] == root["spanId"]
    assert predict["status"] == {"code": "Error", "message": "too risky"}
    assert predict["scope"] == {"name": "e2e-tests", "version": "1.2.3"}
    assert [e["name"] for e in predict["events"]] == ["scored"]
    assert predict["events"][0]["attributes"] == {"threshold": "0.5"}
    assert len(predict["links"]) == 1 and predict["links"][0]["attributes"] == {"why": "batch"}
    prediction = predict["prediction"]
    assert prediction["model_name"] == "fraud" and prediction["model_version"] == "v7"
    assert prediction["prediction_id"] == f"pred-{service}"
    assert prediction["features"] == {"amount": 120.5}
    assert prediction["string_features"] == {"country": "NL"}
    assert prediction["prediction_label"] == "fraud"
    assert prediction["scores"] == {"fraud": 0.8}
    assert prediction["attributions"] == {"amount": 0.3}
    found = server.query("/api/v1/traces", service=service, attribute="ml.prediction.id:pred-" + service).json()
    assert [t["traceId"] for t in found["traces"]] == [trace["traceId"]]


def test_the_readme_quick_start_answers_as_it_says(seed_server: SpanwiseProcess) -> None:
    """Every URL of the README's quick start, read from the README, after the seed example
    ran (the test above): 200, and the answers it promises."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Two-minute quick start", 1)[1].split("```", 2)[1]
    urls = re.findall(r"curl -s '(localhost:16686[^']+)'", quick_start)
    assert len(urls) == 5, urls
    v2 = seed_server.query("/api/v1/traces", service="ai-inference-service", attribute="ml.model.version:v2").json()
    trace_id = v2["traces"][0]["traceId"]
    answers = {}
    for url in urls:
        path = url.removeprefix("localhost:16686").replace("<traceId>", trace_id)
        response = httpx.get(f"{seed_server.query_url}{path}", timeout=30)
        assert response.status_code == 200, (path, response.text[:300])
        answers[path.split("?")[0]] = response
    assert answers["/api/services"].json()["data"] == ["ai-inference-service"]
    assert len(answers["/api/v1/traces"].json()["traces"]) == 1  # the v2 request
    assert len(answers[f"/api/v1/traces/{trace_id}"].json()["spans"]) == 4
    assert [m["name"] for m in answers["/api/v1/models"].json()] == ["ai-inference-service"]
    assert "traces_span_metrics_calls_total" in answers["/metrics"].text

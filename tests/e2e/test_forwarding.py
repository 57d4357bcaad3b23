"""Forwarding end to end: a front Spanwise forwards processed spans to a second Spanwise
over OTLP/HTTP or OTLP/gRPC; with the target down, the front keeps accepting, retries,
then counts the drops; with projects, forwarded resources name theirs."""

from __future__ import annotations

import os
from typing import Any, Iterator

import httpx
import pytest
import yaml
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from server_process import SpanwiseProcess, free_port

pytestmark = pytest.mark.slow


def _front(tmp_path_factory: pytest.TempPathFactory, forward: dict[str, Any], auth: bool = False) -> SpanwiseProcess:
    base = tmp_path_factory.mktemp("front")
    path = os.path.join(base, "spanwise.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"forward": forward, "ingest": {"flush_interval_ms": 100}}, handle)
    process = SpanwiseProcess(str(base / "data"), ["--config", path], auth=auth)
    process.start()
    return process


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    process = SpanwiseProcess(str(tmp_path_factory.mktemp("target-data")))
    process.start()
    yield process
    assert process.stop() == 0


def _send_traces(front: SpanwiseProcess, service: str, traces: int, exporter: SpanExporter | None = None) -> list[str]:
    """Traces with every attribute type the SDK has, a typed resource, an event, a link,
    an error status and AI attributes, through `exporter` (default: the SDK's OTLP/HTTP
    protobuf exporter); three spans per trace, one of them in a trace of its own."""
    provider = TracerProvider(resource=Resource.create({"service.name": service, "host.cores": 2, "zone": "eu"}))
    provider.add_span_processor(BatchSpanProcessor(exporter or OTLPSpanExporter(endpoint=f"{front.http_url}/v1/traces")))
    tracer = provider.get_tracer("forward-e2e", "0.1")
    trace_ids = []
    for n in range(traces):
        with tracer.start_as_current_span("other") as other:
            pass
        with tracer.start_as_current_span("handle", kind=SpanKind.SERVER) as root:
            root.set_attributes({"http.status_code": 200 + n, "ratio": 0.25, "cached": False, "tags": ["a", "b"]})
            with tracer.start_as_current_span("predict", links=[Link(other.get_span_context(), {"why": "batch"})]) as span:
                span.set_attributes({"ml.model.name": "fraud", "ml.model.version": "v7", "ml.feature.amount": 120.5,
                                     "ml.prediction.label": "fraud", "ml.prediction.confidence": 0.9, "counts": [1, 2]})
                span.add_event("scored", {"threshold": 0.5})
                span.set_status(Status(StatusCode.ERROR, "too risky"))
        trace_ids.append(format(root.get_span_context().trace_id, "032x"))
    provider.shutdown()
    return trace_ids


def _trace(server: SpanwiseProcess, trace_id: str, spans: int) -> dict[str, Any] | None:
    response = server.query(f"/api/v1/traces/{trace_id}")
    if response.status_code != 200 or len(response.json()["spans"]) < spans:
        return None
    return dict(response.json())


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_processed_spans_arrive_with_their_types(
    target: SpanwiseProcess, tmp_path_factory: pytest.TempPathFactory, protocol: str
) -> None:
    endpoint = target.http_url if protocol == "http" else f"127.0.0.1:{target.grpc_port}"
    front = _front(tmp_path_factory, {"endpoint": endpoint, "protocol": protocol, "compression": "gzip"})
    try:
        trace_ids = _send_traces(front, f"svc-{protocol}", 3)
        for trace_id in trace_ids:
            forwarded = target.wait_for(lambda: _trace(target, trace_id, 2), timeout=20)
            assert forwarded, front.log()
            stored = front.wait_for(lambda: _trace(front, trace_id, 2))
            assert forwarded == stored  # every field, type and derived AI column
        spans = {s["name"]: s for s in forwarded["spans"]}
        assert spans["handle"]["attributes"] == {"http.status_code": 202, "ratio": 0.25, "cached": False, "tags": ["a", "b"]}
        assert spans["handle"]["resource"]["host.cores"] == 2 and spans["predict"]["attributes"]["counts"] == [1, 2]
        assert spans["predict"]["prediction"]["features"] == {"amount": 120.5}
        assert spans["predict"]["status"] == {"code": "Error", "message": "too risky"}
        assert len(spans["predict"]["links"]) == 1 and spans["predict"]["events"][0]["name"] == "scored"
        stats = front.wait_for(lambda: (s := front.status()["processors"])["forward.forwarded_spans"] >= 9 and s)
        assert stats["forward.forwarded_spans"] == 9 and stats["forward.dropped_spans_after_retries"] == 0
    finally:
        assert front.stop() == 0


def test_a_dead_target_is_retried_and_the_drops_counted(tmp_path_factory: pytest.TempPathFactory) -> None:
    forward = {"endpoint": f"http://127.0.0.1:{free_port()}", "max_retries": 2, "initial_backoff_s": 0.05,
               "max_backoff_s": 0.1, "timeout_s": 1}
    front = _front(tmp_path_factory, forward)
    try:
        trace_ids = _send_traces(front, "svc-dead-target", 4)
        assert front.wait_for_spans(12) == 12  # the front kept accepting and storing
        assert all(_trace(front, t, 2) for t in trace_ids)
        stats = front.wait_for(lambda: (s := front.status()["processors"])["forward.dropped_spans_after_retries"] >= 12 and s)
        assert stats, front.status()
        assert stats["forward.dropped_spans_after_retries"] == 12 and stats["forward.retries"] > 0
        assert stats["forward.forwarded_spans"] == 0 and stats["forward.queue_spans"] == 0
    finally:
        assert front.stop() == 0


def _ingest_token(front: SpanwiseProcess, project: str) -> str:
    if project != "default":
        created = httpx.post(f"{front.query_url}/api/v1/projects", json={"name": project}, headers=front.auth_headers())
        assert created.status_code == 200, created.text
    issued = httpx.post(f"{front.query_url}/api/v1/tokens", headers=front.auth_headers(),
                        json={"name": f"{project}-ingest", "role": "ingest", "project": project})
    assert issued.status_code == 200, issued.text
    return str(issued.json()["token"])


def test_forwarded_spans_name_their_project(target: SpanwiseProcess, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A front with projects forwards two of three: a project's spans (sent over gRPC) arrive
    with the resource attribute `spanwise.project`, the default project's (over HTTP) as
    they were sent, and the project not chosen in `forward.projects` is not forwarded."""
    front = _front(tmp_path_factory, {"endpoint": target.http_url, "projects": ["default", "acme"]}, auth=True)
    try:
        tokens = {project: _ingest_token(front, project) for project in ("acme", "default", "unshared")}
        acme = _send_traces(front, "svc-acme", 2, GrpcSpanExporter(
            endpoint=front.grpc_endpoint, insecure=True, headers=(("authorization", f"Bearer {tokens['acme']}"),)))
        sent = {project: _send_traces(front, f"svc-{project}", 2, OTLPSpanExporter(
            endpoint=f"{front.http_url}/v1/traces", headers={"Authorization": f"Bearer {tokens[project]}"}))
            for project in ("default", "unshared")}
        stats = front.wait_for(lambda: (s := front.status()["processors"])["forward.forwarded_spans"] >= 12 and s)
        assert stats, front.log()
        assert stats["forward.forwarded_spans"] == 12 and stats["forward.skipped_spans_other_projects"] == 6
        for trace_ids, project in ((acme, "acme"), (sent["default"], None)):
            for trace_id in trace_ids:
                forwarded = target.wait_for(lambda: _trace(target, trace_id, 2), timeout=20)
                assert forwarded, target.log()
                assert [s["resource"].get("spanwise.project") for s in forwarded["spans"]] == [project, project]
                assert all(s["resource"]["zone"] == "eu" for s in forwarded["spans"])
        assert not any(_trace(target, trace_id, 1) for trace_id in sent["unshared"])
    finally:
        assert front.stop() == 0

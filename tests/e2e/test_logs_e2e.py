"""OTLP logs end to end: Python `logging` records inside spans, exported by the real
OpenTelemetry SDK over gRPC and over HTTP, stored in `otel_logs`, found by trace id
(correlated with the trace) and by search; PII in bodies redacted; bad input answered
per the OTLP spec without losing the good records."""

from __future__ import annotations

import logging
import time
from typing import Iterator

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow
RESOURCE = Resource.create({"service.name": "scoring-api"})


def _emit(server: SpanwiseProcess, exporter: object, tag: str) -> str:
    """Log three records inside a span through Python logging; return the trace id."""
    tracer_provider = TracerProvider(resource=RESOURCE)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=server.grpc_endpoint, insecure=True)))
    logger_provider = LoggerProvider(resource=RESOURCE)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(exporter))  # type: ignore[arg-type]
    handler = LoggingHandler(level=logging.DEBUG, logger_provider=logger_provider)
    logger = logging.getLogger(f"scoring.{tag}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    tracer = tracer_provider.get_tracer("e2e")
    with tracer.start_as_current_span("score") as span:
        logger.info("loaded features for %s", tag, extra={"feature.count": 12})
        logger.warning("feature age_days is stale (%s)", tag)
        logger.error("model timeout, contact oncall@example.com (%s)", tag)
        trace_id = format(span.get_span_context().trace_id, "032x")
    logger.removeHandler(handler)
    logger_provider.shutdown()
    tracer_provider.shutdown()
    return trace_id


@pytest.fixture(scope="module")
def traces(server: SpanwiseProcess) -> Iterator[dict[str, str]]:
    sent = {
        "grpc": _emit(server, GrpcLogExporter(endpoint=server.grpc_endpoint, insecure=True), "grpc"),
        "http": _emit(server, HttpLogExporter(endpoint=f"{server.http_url}/v1/logs"), "http"),
    }
    yield sent


def _trace_logs(server: SpanwiseProcess, trace_id: str) -> list[dict[str, object]]:
    answer = server.query(f"/api/v1/traces/{trace_id}/logs")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["logs"])


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_logs_are_correlated_with_their_trace(server: SpanwiseProcess, traces: dict[str, str], transport: str) -> None:
    logs = _trace_logs(server, traces[transport])
    assert [entry["severityText"] for entry in logs] == ["INFO", "WARN", "ERROR"]
    assert [entry["severityNumber"] for entry in logs] == [9, 13, 17]
    assert logs[0]["body"] == f"loaded features for {transport}"
    assert logs[0]["attributes"]["feature.count"] == "12"  # type: ignore[index]
    assert logs[0]["serviceName"] == "scoring-api"
    assert logs[0]["scope"]["name"] == f"scoring.{transport}"  # type: ignore[index]
    assert server.wait_for(lambda: server.query(f"/api/v1/traces/{traces[transport]}").status_code == 200)
    spans = server.query(f"/api/v1/traces/{traces[transport]}").json()["spans"]
    assert {entry["spanId"] for entry in logs} == {spans[0]["spanId"]}
    timestamps = [entry["timeUnixNano"] for entry in logs]
    assert timestamps == sorted(timestamps)


def test_pii_in_log_bodies_is_redacted(server: SpanwiseProcess, traces: dict[str, str]) -> None:
    body = str(_trace_logs(server, traces["grpc"])[2]["body"])
    assert "oncall@example.com" not in body
    assert body.startswith("model timeout, contact ") and body.endswith("(grpc)")


def test_search_by_severity_text_and_service(server: SpanwiseProcess, traces: dict[str, str]) -> None:
    found = server.query("/api/v1/logs", service="scoring-api", severity="warn", lookback="1h").json()["logs"]
    assert sorted(entry["severityText"] for entry in found) == ["ERROR", "ERROR", "WARN", "WARN"]
    assert [e["timeUnixNano"] for e in found] == sorted((e["timeUnixNano"] for e in found), reverse=True)
    stale = server.query("/api/v1/logs", q="STALE (http)").json()["logs"]
    assert [entry["traceId"] for entry in stale] == [traces["http"]]
    assert server.query("/api/v1/logs", service="nobody").json()["logs"] == []
    bad = server.query("/api/v1/logs", severity="loud")
    assert bad.status_code == 400 and "unknown severity" in bad.json()["error"]["message"]
    assert server.query("/api/v1/traces/xyz/logs").status_code == 400


def test_json_logs_with_hex_ids_and_a_bad_record(server: SpanwiseProcess) -> None:
    trace_id = "5b8efff798038103d269b633813fc60c"
    record = {"timeUnixNano": str(time.time_ns() - 60 * 10**9), "severityNumber": 9, "severityText": "INFO",
              "body": {"stringValue": "json log"}, "traceId": trace_id, "spanId": "eee19b7ec3c1b174",
              "attributes": [{"key": "k", "value": {"intValue": "7"}}]}
    bad = {"timeUnixNano": "not a number", "body": {"stringValue": "lost"}}
    document = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
                                  "scopeLogs": [{"scope": {"name": "s"}, "logRecords": [record, bad]}]}]}
    answer = httpx.post(f"{server.http_url}/v1/logs", content=orjson.dumps(document),
                        headers={"content-type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["partialSuccess"]["rejectedLogRecords"] == "1"
    logs = _trace_logs(server, trace_id)
    assert [(entry["body"], entry["serviceName"], entry["attributes"]) for entry in logs] == [("json log", "json-svc", {"k": "7"})]


def test_malformed_protobuf_is_400_and_nothing_else_breaks(server: SpanwiseProcess) -> None:
    answer = httpx.post(f"{server.http_url}/v1/logs", content=b"\xff\xff\xff",
                        headers={"content-type": "application/x-protobuf"})
    assert answer.status_code == 400
    empty = httpx.post(f"{server.http_url}/v1/logs", content=b"", headers={"content-type": "application/x-protobuf"})
    assert empty.status_code == 200
    ExportLogsServiceResponse.FromString(empty.content)
    assert httpx.post(f"{server.http_url}/v1/logs", content=b"x", headers={"content-type": "text/plain"}).status_code == 415
    assert server.query("/api/v1/health").json()["status"] == "ok"

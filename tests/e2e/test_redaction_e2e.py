"""PII redaction end to end: the real OTel SDK sends spans full of PII to a real server;
neither its store nor the stream it forwards holds any of it, features parsed from the
redacted text are redacted too, and with hashing on, a search for the plain value still
finds the span. Metric points and log records the SDK sends to the same server are
stored redacted by the same rules (read back through the OTLP metrics and logs APIs)."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from typing import Any, Iterator

import pytest
import yaml
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.metrics import Observation
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from server_process import SpanwiseProcess

from spanwise.process.redactor import hash_value

pytestmark = pytest.mark.slow
HASH_KEY = "e2e-secret"
EMAIL = "alice.smith@example.com"
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
#: Every PII value sent; none may appear anywhere in what is stored or forwarded.
PLAIN = [EMAIL, "ops@example.com", "+1 415 555 0100", "4111 1111 1111 1111", "203.0.113.42",
         "536-22-1234", "DE89 3704 0044 0532 0130 00", "2001:db8::8a2e:370:7334", JWT, "AKIAIOSFODNN7EXAMPLE"]
FORWARDING = importlib.util.find_spec("spanwise.process.forward") is not None


def _server(base: str, settings: dict[str, Any]) -> SpanwiseProcess:
    path = os.path.join(base, "spanwise.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"ingest": {"flush_interval_ms": 100}, **settings}, handle)
    process = SpanwiseProcess(os.path.join(base, "data"), ["--config", path])
    process.start()
    return process


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    """Receives the forwarded stream and stores it as it comes (its own redaction off)."""
    process = _server(str(tmp_path_factory.mktemp("target")), {"redaction": {"enabled": False}})
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory, target: SpanwiseProcess) -> Iterator[SpanwiseProcess]:
    """Default redaction, but e-mail addresses hashed; forwards to `target`."""
    settings: dict[str, Any] = {"redaction": {"actions": {"email": "hash"}, "hash_key": HASH_KEY}}
    if FORWARDING:
        settings["forward"] = {"endpoint": target.http_url, "protocol": "http"}
    process = _server(str(tmp_path_factory.mktemp("front")), settings)
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def trace_id(front: SpanwiseProcess) -> str:
    """One trace with PII in the resource, span names, attributes, events and features."""
    resource = Resource.create({"service.name": "pii-svc", "deployment.owner": "ops@example.com"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{front.http_url}/v1/traces")))
    tracer = provider.get_tracer("redaction-e2e")
    with tracer.start_as_current_span("lookup +1 415 555 0100") as root:
        root.set_attributes({"user.email": EMAIL, "client.address": "203.0.113.42", "card": "4111 1111 1111 1111"})
        root.add_event("login", {"auth.header": f"Bearer {JWT}", "peer": "2001:db8::8a2e:370:7334"})
        with tracer.start_as_current_span("predict") as span:
            features = {"email": EMAIL, "ssn": "536-22-1234", "iban": "DE89 3704 0044 0532 0130 00", "amount": 12.5}
            span.set_attributes({
                "model.input_features": str(features), "ml.feature.key": "AKIAIOSFODNN7EXAMPLE",
                "model.output_prediction": 1, "model.confidence": 0.9, "model.version": "v1.2.3",
            })
    provider.shutdown()
    return format(root.get_span_context().trace_id, "032x")


def _trace(server: SpanwiseProcess, trace_id: str) -> dict[str, Any] | None:
    response = server.query(f"/api/v1/traces/{trace_id}")
    if response.status_code != 200 or len(response.json()["spans"]) < 2:
        return None
    return dict(response.json())


def _assert_redacted(trace: dict[str, Any]) -> None:
    text = json.dumps(trace)
    assert not [value for value in PLAIN if value in text]
    spans = {span["name"]: span for span in trace["spans"]}
    alice = hash_value(HASH_KEY.encode(), EMAIL)
    root = spans["lookup [REDACTED:phone]"]
    assert root["attributes"]["user.email"] == alice
    assert root["attributes"]["client.address"] == "[REDACTED:ipv4]"
    assert root["attributes"]["card"] == "[REDACTED:credit_card]"
    assert root["resource"]["deployment.owner"] == hash_value(HASH_KEY.encode(), "ops@example.com")
    assert root["events"][0]["attributes"] == {"auth.header": "Bearer [REDACTED:jwt]", "peer": "[REDACTED:ipv6]"}
    predict = spans["predict"]
    assert predict["attributes"]["model.version"] == "v1.2.3"


def test_store_holds_no_pii_and_parsed_features_are_redacted(front: SpanwiseProcess, trace_id: str) -> None:
    trace = front.wait_for(lambda: _trace(front, trace_id))
    assert trace, front.log()
    _assert_redacted(trace)
    prediction = {span["name"]: span for span in trace["spans"]}["predict"]["prediction"]
    assert prediction["string_features"] == {
        "email": hash_value(HASH_KEY.encode(), EMAIL), "ssn": "[REDACTED:us_ssn]", "iban": "[REDACTED:iban]",
        "key": "[REDACTED:api_key]",
    }
    assert prediction["features"] == {"amount": 12.5} and prediction["prediction_value"] == 1
    counters = front.status()["processors"]
    assert counters["redaction.detector.email"] >= 3 and counters["redaction.detector.credit_card"] == 1


def test_search_for_the_plain_value_finds_the_hashed_span(front: SpanwiseProcess, trace_id: str) -> None:
    assert front.wait_for(lambda: _trace(front, trace_id))

    def found(**params: Any) -> list[str]:
        response = front.query("/api/v1/traces", service="pii-svc", lookback="1h", **params)
        assert response.status_code == 200, response.text
        return [summary["traceId"] for summary in response.json()["traces"]]

    assert found(attribute=f"user.email:{EMAIL}") == [trace_id]
    assert found(attribute=f"ml.feature.email:{EMAIL}") == [trace_id]
    assert found(attribute="user.email:bob@example.com") == []
    jaeger = front.query("/api/traces", service="pii-svc", lookback="1h", tags=json.dumps({"user.email": EMAIL}))
    assert [t["traceID"] for t in jaeger.json()["data"]] == [trace_id]


@pytest.mark.skipif(not FORWARDING, reason="forwarding is not built yet")
def test_the_forwarded_stream_is_redacted(target: SpanwiseProcess, trace_id: str) -> None:
    forwarded = target.wait_for(lambda: _trace(target, trace_id), timeout=30)
    assert forwarded, target.log()
    _assert_redacted(forwarded)


def _resource(service: str) -> Resource:
    return Resource.create({"service.name": service, "deployment.owner": "ops@example.com"})


def _no_plain_pii(answer: Any) -> None:
    assert answer.status_code == 200, answer.text
    assert not [value for value in PLAIN if value in answer.text]


def test_metric_point_attributes_are_stored_redacted(front: SpanwiseProcess) -> None:
    """A counter and a gauge from the SDK's MeterProvider, PII in point attributes (an
    e-mail address, hashed here; an IP; a credential-like key, masked whole)."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=_resource("pii-metrics"), metric_readers=[reader])
    meter = provider.get_meter("redaction-e2e")
    logins = meter.create_counter("logins")
    logins.add(2, {"user.email": EMAIL, "client.address": "203.0.113.42", "api_key": "k-123", "region": "eu"})
    meter.create_observable_gauge("sessions", callbacks=[lambda _: [Observation(3, {"contact": "ops@example.com"})]])
    data = reader.get_metrics_data()
    assert data is not None
    assert OTLPMetricExporter(endpoint=f"{front.http_url}/v1/metrics").export(data).name == "SUCCESS"
    provider.shutdown()

    def series(name: str, *group_by: str) -> list[dict[str, Any]]:
        answer = front.query(f"/api/v1/otlp/metrics/{name}", service="pii-metrics", lookback="1h", step=3600,
                             group_by=list(group_by))
        _no_plain_pii(answer)
        return list(answer.json()["series"])

    (logins_series,) = series("logins", "user.email", "client.address", "api_key")
    assert logins_series["attributes"] == {"user.email": hash_value(HASH_KEY.encode(), EMAIL),
                                           "client.address": "[REDACTED:ipv4]", "api_key": "[REDACTED:secret_key]"}
    assert sum(point["increase"] for point in logins_series["points"]) == 2
    (sessions,) = series("sessions", "contact")
    assert sessions["attributes"] == {"contact": hash_value(HASH_KEY.encode(), "ops@example.com")}
    assert [point["last"] for point in sessions["points"]] == [3.0]
    assert series("logins", "region")[0]["attributes"] == {"region": "eu"}
    counters = front.status()["metric_processors"]
    assert counters["redaction.points_in"] == 2 and counters["redaction.detector.email"] >= 4  # 2 points, 2 resources
    assert counters["redaction.key_rule.secret_key"] == 1


def test_log_records_are_stored_redacted(front: SpanwiseProcess) -> None:
    """A Python `logging` record through the SDK's LoggerProvider over gRPC: its body, its
    attributes and its resource's are redacted."""
    provider = LoggerProvider(resource=_resource("pii-logs"))
    provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=front.grpc_endpoint, insecure=True)))
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    logger = logging.getLogger("redaction-e2e")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.error("login failed for %s from +1 415 555 0100", EMAIL, extra={"user.email": EMAIL, "password": "hunter2"})
    finally:
        logger.removeHandler(handler)
        provider.shutdown()
    answer = front.query("/api/v1/logs", service="pii-logs", lookback="1h")
    _no_plain_pii(answer)
    (record,) = answer.json()["logs"]
    alice = hash_value(HASH_KEY.encode(), EMAIL)
    assert record["body"] == f"login failed for {alice} from [REDACTED:phone]"
    assert record["attributes"]["user.email"] == alice and record["attributes"]["password"] == "[REDACTED:secret_key]"
    assert record["resource"]["deployment.owner"] == hash_value(HASH_KEY.encode(), "ops@example.com")
    counters = front.status()["log_processors"]
    assert counters["redaction.log_records_in"] == 1 and counters["redaction.detector.phone"] == 1

"""One signal model for processors: each processor's factory declares the OTLP signals it
handles, the factory wires it into exactly those signals' chains (in the configured order),
and redaction runs on log records and metric points as it does on spans."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from spanwise.config import KNOWN_PROCESSORS, Config, load_config
from spanwise.core.otlp_metrics import MetricPoints
from spanwise.process.api import LOGS, METRICS, SIGNALS, TRACES
from spanwise.process.chain import LOG_RECORDS, POINTS, ProcessorChain
from spanwise.process.factory import FACTORIES, build_pipelines
from spanwise.process.redaction import LogRedactionProcessor, MetricRedactionProcessor, RedactionProcessor
from spanwise.process.redactor import hash_value
from spanwise.receive.logs_decode import decode_logs_requests
from spanwise.receive.metrics_decode import decode_metrics_requests

NOW = time.time_ns()
EMAIL = "alice.smith@example.com"
HASH_KEY = "unit-secret"
#: Every processor with something to do, so each builder builds.
EVERYTHING_ON = {
    "enrichment": {"rules": [{"action": "set", "key": "team", "value": "risk"}]},
    "sampling": {"enabled": True, "default_rate": 0.5},
    "forward": {"endpoint": "http://127.0.0.1:9"},
}


def _attributes(target: Any, values: dict[str, str]) -> None:
    target.extend(KeyValue(key=key, value=AnyValue(string_value=value)) for key, value in values.items())


def _points() -> MetricPoints:
    """A point of each kind of one resource, PII in attributes and resource."""
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    _attributes(resource.resource.attributes, {"service.name": "pii-svc", "deployment.owner": "ops@example.com"})
    metrics = resource.scope_metrics.add().metrics
    logins = metrics.add(name="logins").sum
    logins.is_monotonic, logins.aggregation_temporality = True, 2
    point = logins.data_points.add(time_unix_nano=NOW, as_int=2)
    _attributes(point.attributes, {"user.email": EMAIL, "api_key": "k-123", "region": "eu"})
    gauge = metrics.add(name="sessions").gauge.data_points.add(time_unix_nano=NOW, as_double=3.0)
    _attributes(gauge.attributes, {"client.address": "203.0.113.42", "customer.id": "c-9"})
    histogram = metrics.add(name="latency").histogram
    histogram.aggregation_temporality = 2
    bucket = histogram.data_points.add(time_unix_nano=NOW, count=1, sum=5.0, explicit_bounds=[10.0], bucket_counts=[1, 0])
    _attributes(bucket.attributes, {"note": "call +1 415 555 0100"})
    exponential = metrics.add(name="latency.exp").exponential_histogram.data_points.add(time_unix_nano=NOW, count=1)
    _attributes(exponential.attributes, {"user.email": EMAIL})
    summary = metrics.add(name="latency.summary").summary.data_points.add(time_unix_nano=NOW, count=1)
    _attributes(summary.attributes, {"client.address": "203.0.113.42"})
    decoded = decode_metrics_requests([request.SerializeToString()])
    assert decoded.accepted == 5, decoded.reject_reason
    return decoded.points


def _logs() -> pa.Table:
    request = ExportLogsServiceRequest()
    resource = request.resource_logs.add()
    _attributes(resource.resource.attributes, {"service.name": "pii-svc", "host.ip": "203.0.113.42"})
    record = resource.scope_logs.add().log_records.add(time_unix_nano=NOW, severity_text="ERROR")
    record.body.string_value = f"timeout, contact {EMAIL}"
    _attributes(record.attributes, {"password": "hunter2", "attempt": "3"})
    return decode_logs_requests([request.SerializeToString()]).logs


def _map(table: pa.Table, column: str, row: int = 0) -> dict[str, str]:
    return dict(table.column(column)[row].as_py())


def test_each_processor_declares_its_signals() -> None:
    """Redaction runs on every signal; the others are about spans."""
    assert set(FACTORIES) == set(KNOWN_PROCESSORS)  # a listed name that built nothing would be silently off
    declared = {name: factory.signals for name, factory in FACTORIES.items()}
    assert declared == {"redaction": (TRACES, LOGS, METRICS), "enrichment": (TRACES,), "ml_fields": (TRACES,),
                        "sampling": (TRACES,), "forward": (TRACES,)}


@pytest.mark.parametrize("order", [list(KNOWN_PROCESSORS), ["redaction", "forward", "ml_fields", "sampling", "enrichment"]])
def test_the_factory_wires_each_processor_into_its_signals_chains(order: list[str]) -> None:
    config = load_config(overrides={**EVERYTHING_ON, "pipeline": {"processors": order}})
    pipelines = build_pipelines(config)
    chains = {TRACES: pipelines.traces, LOGS: pipelines.logs, METRICS: pipelines.metrics}
    for signal in SIGNALS:
        assert chains[signal].names == [name for name in order if signal in FACTORIES[name].signals], signal
    assert pipelines.traces.names == order
    assert pipelines.logs.names == pipelines.metrics.names == ["redaction"]
    kinds = {signal: [type(p) for p in chain.processors if p.name == "redaction"] for signal, chain in chains.items()}
    assert kinds == {TRACES: [RedactionProcessor], LOGS: [LogRedactionProcessor], METRICS: [MetricRedactionProcessor]}
    assert len({id(chain.processors[0]) for chain in chains.values()}) == 3  # one processor (and counters) per signal


def test_redaction_off_or_unlisted_is_off_for_every_signal() -> None:
    for config in (load_config(environ={"SPANWISE_REDACTION_ENABLED": "false"}),
                   load_config(overrides={"pipeline": {"processors": ["ml_fields"]}})):
        pipelines = build_pipelines(config)
        assert "redaction" not in pipelines.traces.names
        assert pipelines.logs.names == pipelines.metrics.names == []
        points = _points()
        assert pipelines.metrics.run(points).batch is points  # an empty chain passes the batch through


def test_metric_point_and_resource_attributes_are_redacted_in_every_kind() -> None:
    chain = build_pipelines(Config()).metrics
    points = chain.run(_points()).batch
    assert sorted(points) == ["exponential_histogram", "gauge", "histogram", "sum", "summary"]
    assert _map(points["sum"], "Attributes") == {"user.email": "[REDACTED:email]", "api_key": "[REDACTED:secret_key]",
                                                 "region": "eu"}
    assert _map(points["gauge"], "Attributes") == {"client.address": "[REDACTED:ipv4]", "customer.id": "c-9"}
    assert _map(points["histogram"], "Attributes") == {"note": "call [REDACTED:phone]"}
    assert _map(points["exponential_histogram"], "Attributes") == {"user.email": "[REDACTED:email]"}
    assert _map(points["summary"], "Attributes") == {"client.address": "[REDACTED:ipv4]"}
    for kind in points:
        assert _map(points[kind], "ResourceAttributes") == {"service.name": "pii-svc",
                                                            "deployment.owner": "[REDACTED:email]"}
        assert points[kind].column("ServiceName").to_pylist() == ["pii-svc"]
    assert points["sum"].column("Value").to_pylist() == [2.0] and points["histogram"].column("Count").to_pylist() == [1]
    stats = chain.all_stats()
    assert stats["redaction.points_in"] == 5
    assert stats["redaction.detector.email"] == 7 and stats["redaction.key_rule.secret_key"] == 1


def test_metric_redaction_follows_actions_key_rules_and_allow_keys() -> None:
    config = load_config(overrides={"redaction": {
        "actions": {"email": "hash"}, "hash_key": HASH_KEY, "allow_keys": ["service.name", "client.address"],
        "key_rules": [{"pattern": "customer.*", "match": "glob", "action": "drop"}]}})
    points = build_pipelines(config).metrics.run(_points()).batch
    assert _map(points["sum"], "Attributes")["user.email"] == hash_value(HASH_KEY.encode(), EMAIL)
    assert _map(points["sum"], "Attributes")["api_key"] == "k-123"  # the key rules replace the default one
    assert _map(points["gauge"], "Attributes") == {"client.address": "203.0.113.42"}  # allowed; customer.* dropped


def test_log_bodies_log_and_resource_attributes_are_redacted() -> None:
    chain = build_pipelines(Config()).logs
    logs = chain.run(_logs()).batch
    assert logs.column("Body").to_pylist() == ["timeout, contact [REDACTED:email]"]
    assert _map(logs, "LogAttributes") == {"password": "[REDACTED:secret_key]", "attempt": "3"}
    assert _map(logs, "ResourceAttributes") == {"service.name": "pii-svc", "host.ip": "[REDACTED:ipv4]"}
    assert logs.schema == _logs().schema
    assert chain.all_stats()["redaction.log_records_in"] == 1


class Exploding:
    name = "exploding"

    def process(self, batch: Any) -> Any:
        raise ValueError("bad state")


def test_a_failing_log_or_metric_processor_drops_the_batch_and_is_counted() -> None:
    logs = ProcessorChain([Exploding()], LOG_RECORDS)
    result = logs.run(_logs())
    assert (result.batch.num_rows, result.dropped) == (0, 1) and "exploding failed: bad state" in result.message
    assert result.batch.schema == _logs().schema
    metrics = ProcessorChain([Exploding()], POINTS)
    dropped = metrics.run(_points())
    assert (dropped.batch, dropped.dropped) == ({}, 5)
    assert logs.stats["exploding.dropped_log_records"] == 1 and metrics.stats["exploding.dropped_points"] == 5
    assert metrics.stats["exploding.failures"] == 1

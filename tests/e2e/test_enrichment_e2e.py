"""Enrichment rules from a config file, applied to spans sent by the OTel SDK."""

from __future__ import annotations

import os

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow

CONFIG = """
enrichment:
  rules:
    - {action: rename, source: mdl_ver, key: ml.model.version}
    - {action: copy, source: risk, key: ml.prediction.confidence}
    - {action: set, key: deployment.region, value: eu-west-1}
"""


def test_users_names_become_canonical_fields(tmp_path: os.PathLike[str]) -> None:
    config = os.path.join(tmp_path, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(CONFIG)
    server = SpanwiseProcess(os.path.join(tmp_path, "data"), ["--config", config])
    server.start()
    try:
        provider = TracerProvider(resource=Resource.create({"service.name": "scorer"}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{server.http_url}/v1/traces")))
        with provider.get_tracer("t").start_as_current_span("score") as span:
            span.set_attribute("mdl_ver", "2024-06")
            span.set_attribute("risk", 0.83)
            trace_id = f"{span.get_span_context().trace_id:032x}"
        provider.shutdown()
        response = server.wait_for(lambda: (r := server.query(f"/api/v1/traces/{trace_id}")).status_code == 200 and r)
        span_json = response.json()["spans"][0]
        assert span_json["attributes"] == {
            "risk": 0.83, "ml.model.version": "2024-06", "ml.prediction.confidence": 0.83, "deployment.region": "eu-west-1",
        }
        assert span_json["prediction"]["model_version"] == "2024-06" and span_json["prediction"]["confidence"] == 0.83
        found = server.query("/api/v1/traces", service="scorer", attribute="ml.model.version:2024-06").json()["traces"]
        assert [t["traceId"] for t in found] == [trace_id]
    finally:
        assert server.stop() == 0


#: The README's enrichment example, verbatim (its `derive` reads the resource's service.name).
README_RULES = r"""
enrichment:
  rules:
    - {action: rename, source: mdl_ver, key: ml.model.version}
    - {action: copy, source: risk, key: ml.prediction.confidence}
    - {action: set, key: deployment.region, value: eu-west-1}          # only where absent
    - {action: derive, source: service.name, key: team, pattern: '^(\w+)-.*$', replacement: '\1'}
"""


def test_readme_derive_from_the_resource_service_name_fires(tmp_path: os.PathLike[str]) -> None:
    config = os.path.join(tmp_path, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(README_RULES)
    server = SpanwiseProcess(os.path.join(tmp_path, "data"), ["--config", config])
    server.start()
    try:
        provider = TracerProvider(resource=Resource.create({"service.name": "payments-api"}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{server.http_url}/v1/traces")))
        with provider.get_tracer("t").start_as_current_span("charge") as span:
            trace_id = f"{span.get_span_context().trace_id:032x}"
        provider.shutdown()
        response = server.wait_for(lambda: (r := server.query(f"/api/v1/traces/{trace_id}")).status_code == 200 and r)
        assert response.json()["spans"][0]["attributes"] == {"deployment.region": "eu-west-1", "team": "payments"}
        found = server.query("/api/v1/traces", service="payments-api", attribute="team:payments").json()["traces"]
        assert [t["traceId"] for t in found] == [trace_id]
        assert server.status()["processors"]["enrichment.rule_3_derive_team"] == 1
    finally:
        assert server.stop() == 0

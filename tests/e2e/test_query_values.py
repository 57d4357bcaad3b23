"""Searched values arrive in the store exactly as sent: spans and logs whose service,
operation, attribute keys and values, model name and version, feature names and log
bodies hold backslashes, tabs, newlines, quotes, NUL and emoji are found again through
every search and filter of the native and Jaeger APIs (ClickHouse reads query parameters
in an escaped format: unescaped, `C:\\temp\\new` arrived as `C:<tab>emp<newline>ew`)."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from otlp_build import add_attributes
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow

VALUES = {
    "path": "C:\\temp\\new",
    "trailing-backslash": "abc\\",
    "escaped-null": "\\N",
    "tab": "a\tb",
    "newline": "a\nb\r\nc",
    "quotes": "it's \"quoted\"",
    "nul": "nul\x00byte",
    "emoji": "emoji 😀 𝄞",
    "sql": "x' OR '1'='1",
}
IDS = list(VALUES)


def _names(tag: str) -> dict[str, str]:
    """The names one trace uses for value `tag` (each holds the value itself)."""
    value = VALUES[tag]
    bare = value.replace(":", ";")  # `attribute=key:value` splits at the first ':'
    return {
        "service": f"svc {tag} {value}", "operation": f"op {value}", "key": f"key {bare}",
        "model": f"model {value}", "version": f"v{value}", "feature": f"ml.feature.f {bare}",
        "prediction": f"pred-{uuid.uuid4().hex[:8]} {value}",
    }


def _request(tag: str, names: dict[str, str]) -> tuple[ExportTraceServiceRequest, str]:
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    add_attributes(resource.resource, {"service.name": names["service"]})
    scope = resource.scope_spans.add()
    now = time.time_ns()
    trace_id = os.urandom(16)
    span = Span(trace_id=trace_id, span_id=os.urandom(8), name=names["operation"], kind=Span.SPAN_KIND_INTERNAL,
                start_time_unix_nano=now - 5_000_000, end_time_unix_nano=now)
    add_attributes(span, {
        names["key"]: VALUES[tag], "ml.model.name": names["model"], "ml.model.version": names["version"],
        "ml.prediction.id": names["prediction"], "ml.prediction.label": "yes", names["feature"]: VALUES[tag],
    })
    scope.spans.append(span)
    return request, trace_id.hex()


def _log_document(tag: str, service: str) -> dict[str, Any]:
    record = {"timeUnixNano": str(time.time_ns()), "body": {"stringValue": f"log body {VALUES[tag]} end"}}
    return {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                              "scopeLogs": [{"scope": {"name": "values"}, "logRecords": [record]}]}]}


@pytest.fixture(scope="module")
def sent(server: SpanwiseProcess) -> dict[str, tuple[dict[str, str], str]]:
    """Per value: the names used and the trace id, once all are stored."""
    out = {}
    for tag in IDS:
        names = _names(tag)
        request, trace_id = _request(tag, names)
        answer = httpx.post(f"{server.http_url}/v1/traces", content=request.SerializeToString(),
                            headers={"content-type": "application/x-protobuf"}, timeout=30)
        assert answer.status_code == 200, answer.text
        answer = httpx.post(f"{server.http_url}/v1/logs", content=orjson.dumps(_log_document(tag, names["service"])),
                            headers={"content-type": "application/json"}, timeout=30)
        assert answer.status_code == 200, answer.text
        out[tag] = (names, trace_id)
    assert server.wait_for(lambda: server.status()["predictions"] >= len(IDS)), server.log()
    return out


def _found(answer: httpx.Response) -> set[str]:
    assert answer.status_code == 200, answer.text
    return {t["traceID"] if "traceID" in t else t["traceId"] for t in answer.json()["data"]}


def _native(server: SpanwiseProcess, **params: Any) -> set[str]:
    answer = server.query("/api/v1/traces", lookback="1h", **params)
    assert answer.status_code == 200, answer.text
    return {t["traceId"] for t in answer.json()["traces"]}


@pytest.mark.parametrize("tag", IDS)
def test_native_search_finds_every_value(server: SpanwiseProcess, sent: dict[str, Any], tag: str) -> None:
    names, trace_id = sent[tag]
    value = VALUES[tag]
    assert trace_id in _native(server, service=names["service"])
    assert trace_id in _native(server, service=names["service"], operation=names["operation"])
    assert trace_id in _native(server, attribute=f"{names['key']}:{value}")
    assert trace_id in _native(server, attributes=orjson.dumps({names["key"]: value}).decode())
    assert trace_id in _native(server, attribute=f"ml.model.name:{names['model']}")
    assert trace_id in _native(server, attribute=f"ml.model.version:{names['version']}")
    assert trace_id in _native(server, attribute=f"{names['feature']}:{value}")
    assert trace_id in _native(server, attribute=f"ml.prediction.id:{names['prediction']}")
    assert not _native(server, service=names["service"], attribute=f"{names['key']}:{value}x")


@pytest.mark.parametrize("tag", IDS)
def test_jaeger_search_finds_every_value(server: SpanwiseProcess, sent: dict[str, Any], tag: str) -> None:
    names, trace_id = sent[tag]
    tags = orjson.dumps({names["key"]: VALUES[tag]}).decode()
    assert trace_id in _found(server.query("/api/traces", service=names["service"], lookback="1h"))
    assert trace_id in _found(server.query("/api/traces", service=names["service"], operation=names["operation"],
                                           tags=tags, lookback="1h"))
    assert names["service"] in server.query("/api/services").json()["data"]
    operations = server.query(f"/api/services/{quote(names['service'], safe='')}/operations").json()["data"]
    assert names["operation"] in operations


@pytest.mark.parametrize("tag", IDS)
def test_models_and_logs_find_every_value(server: SpanwiseProcess, sent: dict[str, Any], tag: str) -> None:
    names, trace_id = sent[tag]
    models = {m["name"]: m for m in server.query("/api/v1/models").json()}
    assert names["model"] in models
    model = server.query(f"/api/v1/models/{quote(names['model'], safe='')}")
    assert model.status_code == 200, model.text
    assert [v["version"] for v in model.json()["versions"]] == [names["version"]]
    assert [f["name"] for f in model.json()["features"]] == [names["feature"].removeprefix("ml.feature.")]
    version = server.query(f"/api/v1/models/{quote(names['model'], safe='')}/versions/{quote(names['version'], safe='')}")
    assert version.status_code == 200, version.text
    metrics = server.query(f"/api/v1/models/{quote(names['model'], safe='')}/metrics", version=names["version"])
    assert metrics.status_code == 200, metrics.text
    assert sum(point["count"] for point in metrics.json()["points"]) == 1, metrics.text
    prediction = server.query(f"/api/v1/predictions/{quote(names['prediction'], safe='')}")
    assert prediction.status_code == 200, prediction.text
    assert prediction.json()["trace_id"] == trace_id
    logs = server.wait_for(lambda: server.query("/api/v1/logs", service=names["service"], q=VALUES[tag]).json()["logs"])
    assert [entry["body"] for entry in logs] == [f"log body {VALUES[tag]} end"]

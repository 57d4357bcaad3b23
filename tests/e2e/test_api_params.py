"""Query parameters against a real `spanwise serve`: a misspelt, unknown, repeated or
inconsistent parameter is a 400 naming it and what is allowed, never a silent 200 that
ignores it; the parameters Grafana's Jaeger data source sends keep working."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow

HOUR = 3600 * 10**9
NOW = time.time_ns()
SENT_AT = NOW - 2 * HOUR  # every span starts here


def _attr(key: str, value: Any) -> dict[str, Any]:
    return {"key": key, "value": {"doubleValue": value} if isinstance(value, float) else {"stringValue": value}}


def _span(trace: int, span: int, parent: int | None, **attrs: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "traceId": f"{trace:032x}", "spanId": f"{span:016x}", "name": f"op{span}", "kind": 2,
        "startTimeUnixNano": str(SENT_AT + span), "endTimeUnixNano": str(SENT_AT + span + 5 * 10**6),
        "attributes": [_attr(k, v) for k, v in attrs.items()],
    }
    if parent:
        body["parentSpanId"] = f"{parent:016x}"
    return body


def _resource(service: str, *spans: dict[str, Any]) -> dict[str, Any]:
    return {"resource": {"attributes": [_attr("service.name", service)]}, "scopeSpans": [{"spans": list(spans)}]}


def _predictions() -> list[dict[str, Any]]:
    """Ten classifier predictions (labels cat/dog) and ten regressor ones (values)."""
    spans = []
    for i in range(10):
        spans.append(_resource("clf-svc", _span(100 + i, 1000 + i, None, **{
            "ml.model.name": "clf", "ml.model.version": "v1", "ml.prediction.id": f"clf-{i}",
            "ml.prediction.label": "cat" if i % 2 else "dog", "ml.prediction.proba.cat": 0.6 if i % 2 else 0.3})))
        spans.append(_resource("reg-svc", _span(200 + i, 2000 + i, None, **{
            "ml.model.name": "reg", "ml.model.version": "v1", "ml.prediction.id": f"reg-{i}",
            "ml.prediction.value": float(i)})))
    return spans


@pytest.fixture(scope="module")
def loaded(server: SpanwiseProcess) -> SpanwiseProcess:
    calls = [_resource("front", _span(1, 11, None)), _resource("back", _span(1, 12, 11))]
    body = {"resourceSpans": calls + _predictions()}
    assert httpx.post(f"{server.http_url}/v1/traces", json=body).status_code == 200
    feedback = [{"prediction_id": f"clf-{i}", "label": "cat" if i < 5 else "dog"} for i in range(10)]
    feedback += [{"prediction_id": f"reg-{i}", "label": i + 0.5} for i in range(10)]
    posted = httpx.post(f"{server.query_url}/api/v1/feedback", json=feedback)
    assert posted.status_code == 200, posted.text
    assert server.wait_for(lambda: server.status()["predictions"] == 20)
    # Labels posted before their predictions were stored wait, and join within a second.
    assert server.wait_for(lambda: server.status()["feedback"]["pending"] == 0)
    assert server.wait_for(lambda: server.query("/api/v1/traces/" + f"{1:032x}").status_code == 200)
    return server


def _error(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["error"]["message"]
    return message


def test_a_misspelt_parameter_is_refused_with_the_close_match(loaded: SpanwiseProcess) -> None:
    message = _error(loaded.query("/api/v1/traces", minConfidence=0.5))
    assert message.startswith("unknown parameter 'minConfidence' (did you mean 'min_confidence'?); allowed: ")
    assert "max_confidence" in message and "lookback" in message


def test_unknown_parameters_are_refused_on_every_native_route(loaded: SpanwiseProcess) -> None:
    assert "takes no query parameters" in _error(loaded.query("/api/v1/health", verbose=1))
    assert "'window'" in _error(loaded.query("/api/v1/models/clf/quality", window="1h"))
    assert "'lookbak'" in _error(loaded.query("/api/v1/otlp/metrics", lookbak="1h"))
    assert "'fmt'" in _error(loaded.query("/api/v1/models/clf/predictions", fmt="csv"))
    posted = httpx.post(f"{loaded.query_url}/api/v1/feedback?dry_run=1", json=[])
    assert "unknown parameter 'dry_run'" in _error(posted)


def test_a_single_valued_parameter_given_twice_is_refused(loaded: SpanwiseProcess) -> None:
    response = httpx.get(f"{loaded.query_url}/api/v1/traces?limit=1&limit=5")
    assert "'limit' is given 2 times" in _error(response)
    repeated = httpx.get(f"{loaded.query_url}/api/v1/traces?attribute=a:1&attribute=b:2")
    assert repeated.status_code == 200, repeated.text


def test_the_openapi_description_lists_the_declared_parameters(loaded: SpanwiseProcess) -> None:
    paths = loaded.query("/api/v1/openapi.json").json()["paths"]
    names = {p["name"] for p in paths["/api/v1/traces"]["get"]["parameters"]}
    assert {"min_confidence", "max_confidence", "attribute", "lookback", "limit"} <= names
    quality = {p["name"]: p for p in paths["/api/v1/models/{name}/quality"]["get"]["parameters"]}
    assert quality["positive_label"]["in"] == "query" and quality["name"]["in"] == "path"


def test_positive_label_must_be_a_class(loaded: SpanwiseProcess) -> None:
    message = _error(loaded.query("/api/v1/models/clf/quality", positive_label="yes"))
    assert message == "positive_label 'yes' is not a class of model 'clf'; its classes: 'cat', 'dog'"
    good = loaded.query("/api/v1/models/clf/quality", positive_label="cat").json()["windows"][0]
    assert good["precision"] == pytest.approx(0.4) and good["recall"] == pytest.approx(0.4)


def test_the_task_must_match_what_the_model_predicts(loaded: SpanwiseProcess) -> None:
    message = _error(loaded.query("/api/v1/models/clf/quality", task="regression"))
    assert message.startswith("task=regression: model 'clf' predicts labels (") and "use task=classification" in message
    regression = loaded.query("/api/v1/models/reg/quality", task="regression")
    assert regression.status_code == 200 and regression.json()["windows"][0]["mae"] == pytest.approx(0.5)


def test_a_windowless_quality_report_starts_at_the_range_start(loaded: SpanwiseProcess) -> None:
    start = SENT_AT - HOUR
    window = loaded.query("/api/v1/models/clf/quality", start=start, end=NOW).json()["windows"][0]
    assert window["start_unix_nano"] == start


def test_dependencies_honour_start_and_end(loaded: SpanwiseProcess) -> None:
    edge = {"parent": "front", "child": "back"}
    around = loaded.query("/api/v1/dependencies", start=SENT_AT - HOUR, end=SENT_AT + HOUR).json()["dependencies"]
    assert [{k: d[k] for k in edge} for d in around] == [edge]
    after = loaded.query("/api/v1/dependencies", start=SENT_AT + HOUR).json()["dependencies"]
    assert after == []
    assert "time range must end after it starts" in _error(loaded.query("/api/v1/dependencies", start=NOW, end=NOW - 1))


def test_csv_export_writes_iso_8601_times_with_a_t(loaded: SpanwiseProcess) -> None:
    response = loaded.query("/api/v1/models/clf/predictions", format="csv")
    assert response.status_code == 200, response.text
    row = next(csv.DictReader(io.StringIO(response.text)))
    assert row["timestamp"].endswith("Z") and row["timestamp"][10] == "T", row["timestamp"]
    assert row["label_timestamp"][10] == "T", row["label_timestamp"]


def test_jaeger_takes_what_grafana_sends_and_refuses_the_rest(loaded: SpanwiseProcess) -> None:
    start_us, end_us = (SENT_AT - HOUR) // 1000, NOW // 1000
    search = loaded.query("/api/traces", service="front", operation="op11", tags="{}", minDuration="", maxDuration="",
                          limit=20, start=start_us, end=end_us, lookback="custom")
    assert search.status_code == 200 and len(search.json()["data"]) == 1, search.text
    assert loaded.query(f"/api/traces/{1:032x}", start=start_us, end=end_us).status_code == 200
    assert loaded.query("/api/dependencies", endTs=NOW // 10**6, lookback=86_400_000).status_code == 200
    assert loaded.query("/api/services").json()["data"] == ["back", "clf-svc", "front", "reg-svc"]
    refused = loaded.query("/api/traces", service="front", servce="front")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["msg"].startswith("unknown parameter 'servce' (did you mean 'service'?)")


def test_otlp_metrics_split_by_model_and_version(loaded: SpanwiseProcess) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=Resource.create({"service.name": "sdk"}), metric_readers=[reader])
    counter = provider.get_meter("e2e").create_counter("spanwise.predictions")
    for model, version, rows in (("churn", "v1", 3), ("churn", "v2", 5), ("price", "v1", 7)):
        counter.add(rows, {"ml.model.name": model, "ml.model.version": version})
    data = reader.get_metrics_data()
    assert data is not None
    assert HttpMetricExporter(endpoint=f"{loaded.http_url}/v1/metrics").export(data).name == "SUCCESS"
    path = "/api/v1/otlp/metrics/spanwise.predictions"
    assert loaded.wait_for(lambda: loaded.query(path, step=3600).status_code == 200)
    split = loaded.query(path, step=3600, group_by=["ml.model.name", "ml.model.version"]).json()
    totals = {tuple(s["attributes"].values()): sum(p["increase"] for p in s["points"]) for s in split["series"]}
    assert totals == {("churn", "v1"): 3, ("churn", "v2"): 5, ("price", "v1"): 7}
    churn = loaded.query(path, step=3600, attribute="ml.model.name:churn", group_by="ml.model.version").json()
    assert {s["attributes"]["ml.model.version"]: s["points"][0]["increase"] for s in churn["series"]} == {"v1": 3, "v2": 5}
    assert sum(p["increase"] for p in loaded.query(path, step=3600).json()["points"]) == 15
    too_many = loaded.query(path, group_by=["a", "b", "c", "d"])
    assert "at most 3" in _error(too_many)

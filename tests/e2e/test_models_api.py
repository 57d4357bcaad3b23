"""Model intelligence end to end: prediction spans sent with the real OpenTelemetry SDK,
feedback posted as JSON and CSV, and the inventory, metrics, lookup, lineage and quality
APIs checked (quality against scikit-learn on the same rows)."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
from model_data import HOUR, START_NS, Prediction, expected_classification, expected_multiclass, expected_regression
from model_data import feedback_records, predictions
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanContext, Status, StatusCode
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow
RANGE = {"start": START_NS - HOUR, "end": START_NS + HOUR}


def _send(server: SpanwiseProcess, rows: list[Prediction]) -> tuple[str, dict[str, tuple[str, str]]]:
    """A pipeline-run trace, then one span per prediction (linked to the run for some).
    Returns the run's trace id and each prediction's (trace id, span id)."""
    ids: dict[str, tuple[str, str]] = {}
    providers = {}
    for model in ("pipeline", "churn", "price", "iris"):
        provider = TracerProvider(resource=Resource.create({"service.name": f"{model}-service"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=server.grpc_endpoint, insecure=True)))
        providers[model] = provider
    pipeline = providers["pipeline"].get_tracer("e2e")
    steps: list[SpanContext] = []
    with pipeline.start_as_current_span("pipeline_run") as run:
        for step in ("extract", "transform"):
            with pipeline.start_as_current_span(step) as span:
                steps.append(span.get_span_context())
    run_trace = f"{run.get_span_context().trace_id:032x}"
    for i, p in enumerate(rows):
        links = [Link(steps[i % 2])] if p.linked else []
        span = providers[p.model].get_tracer("e2e").start_span("predict", start_time=p.start_ns, links=links)
        for key, value in {"ml.model.name": p.model, "ml.model.version": p.version,
                           "ml.prediction.id": p.prediction_id, **p.attributes}.items():
            span.set_attribute(key, value)
        if p.span_label:
            span.set_attribute("ml.label", p.span_label)
        if p.error:
            span.set_status(Status(StatusCode.ERROR, "failed"))
        span.end(end_time=p.start_ns + round(p.duration_ms * 10**6))
        ctx = span.get_span_context()
        ids[p.prediction_id] = (f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}")
    for provider in providers.values():
        provider.shutdown()
    return run_trace, ids


@pytest.fixture(scope="module")
def sent(server: SpanwiseProcess) -> dict[str, Any]:
    rows = predictions()
    run_trace, ids = _send(server, rows)
    assert server.wait_for(lambda: server.status()["predictions"] >= len(rows)), server.log()
    records = feedback_records(rows)
    churn = [r for r in records if r["prediction_id"].startswith("churn")]
    price = [r for r in records if r["prediction_id"].startswith("price")]
    iris = [r for r in records if r["prediction_id"].startswith("iris")]
    json_part = churn[: len(churn) // 2] + iris + [{"prediction_id": "nobody", "label": "yes"}]
    answers = [_post(server, json_part)]
    csv_rows = ["prediction_id,label,timestamp"] + [f"{r['prediction_id']},{r['label']},{r['timestamp']}" for r in churn[len(churn) // 2:]]
    answers.append(_post(server, "\n".join(csv_rows) + "\n", "text/csv"))
    by_span = [{"trace_id": ids[r["prediction_id"]][0], "span_id": ids[r["prediction_id"]][1], "label": r["label"],
                "timestamp": r["timestamp"]} for r in price]
    answers.append(_post(server, by_span + [{"trace_id": "ab" * 16, "span_id": "cd" * 8, "label": 1}]))
    sent_in_order = [churn[: len(churn) // 2] + iris, churn[len(churn) // 2:], price]
    return {"rows": rows, "run_trace": run_trace, "ids": ids, "answers": answers, "records": records,
            "requests": sent_in_order}


def _expected_updated(requests: list[list[dict[str, Any]]]) -> list[int]:
    """Per request, the predictions whose winning label (latest timestamp, the later record
    on a tie) differs from the one they had before it."""
    winning: dict[str, tuple[str, float]] = {}
    counts = []
    for records in requests:
        before = dict(winning)
        for r in records:
            if r["prediction_id"] not in winning or r["timestamp"] >= winning[r["prediction_id"]][1]:
                winning[r["prediction_id"]] = (str(r["label"]), r["timestamp"])
        counts.append(sum(pid in before and winning[pid][0] != before[pid][0] for pid in winning))
    return counts


def _post(server: SpanwiseProcess, body: Any, content_type: str = "application/json") -> httpx.Response:
    if content_type == "application/json":
        return httpx.post(f"{server.query_url}/api/v1/feedback", json=body, timeout=30)
    return httpx.post(f"{server.query_url}/api/v1/feedback", content=body, headers={"content-type": content_type}, timeout=30)


def test_feedback_answers(sent: dict[str, Any]) -> None:
    answers = [a.json() for a in sent["answers"]]
    assert [a.status_code for a in sent["answers"]] == [200, 200, 200]
    assert sum(a["accepted"] for a in answers) == len(sent["records"]) + 2  # with the two never-seen ones
    assert [a["updated"] for a in answers] == _expected_updated(sent["requests"])
    assert answers[1]["updated"] > 0  # corrections in the second request change earlier labels
    assert answers[0]["pending_ids"] == ["nobody"] and answers[0]["pending"] == 1
    assert answers[2]["pending_ids"] == ["ab" * 16 + ":" + "cd" * 8]
    assert sum(a["clamped"] for a in answers) == 0


def test_malformed_feedback_names_the_line(server: SpanwiseProcess) -> None:
    bad_csv = _post(server, "prediction_id,label\nchurn-1,yes\nchurn-2\n", "text/csv")
    assert bad_csv.status_code == 400 and "line 3" in bad_csv.json()["error"]["message"]
    bad_json = _post(server, [{"prediction_id": "churn-1", "label": "yes"}, {"label": "no"}])
    assert bad_json.status_code == 400 and "item 1" in bad_json.json()["error"]["message"]
    assert _post(server, "{", "application/json").status_code == 400
    too_big = httpx.post(f"{server.query_url}/api/v1/feedback", content=b"[" + b" " * (17 * 2**20) + b"]",
                         headers={"content-type": "application/json"}, timeout=30)
    assert too_big.status_code == 413


def test_inventory(server: SpanwiseProcess, sent: dict[str, Any]) -> None:
    models = {m["name"]: m for m in server.query("/api/v1/models").json()}
    assert set(models) == {"churn", "price", "iris"}
    churn = models["churn"]
    assert [v["version"] for v in churn["versions"]] == ["v1", "v2"]
    assert churn["versions"][1]["predictions"] == 30 and churn["versions"][1]["services"] == ["churn-service"]
    features = {f["name"]: f for f in churn["features"]}
    assert features["tenure"] == {"name": "tenure", "type": "numeric", "min": 0.0, "max": 23.0, "distinct": None}
    assert features["plan"]["type"] == "categorical"
    assert server.query("/api/v1/models/churn").json()["name"] == "churn"
    assert server.query("/api/v1/models/unknown").status_code == 404
    version = server.query("/api/v1/models/churn/versions/v2").json()
    assert version["version"] == "v2" and version["predictions"] == 30
    assert server.query("/api/v1/models/churn/versions/v9").status_code == 404


def test_metrics_per_version(server: SpanwiseProcess, sent: dict[str, Any]) -> None:
    body = server.query("/api/v1/models/churn/metrics", version="v1", step="1h", **RANGE).json()
    assert len(body["points"]) == 1
    point, mine = body["points"][0], [p for p in sent["rows"] if p.version == "v1"]
    assert point["count"] == len(mine) and point["errors"] == sum(p.error for p in mine)
    assert point["error_rate"] == pytest.approx(point["errors"] / point["count"])
    durations = [p.duration_ms for p in mine]
    for q in (50, 95, 99):
        assert point["latency_ms"][f"p{q}"] == pytest.approx(np.percentile(durations, q), rel=0.05)
    assert sum(b["count"] for b in point["confidence"]) == len(mine)
    assert {s["label"] for s in point["prediction_labels"]} == {"yes", "no"}
    price = server.query("/api/v1/models/price/metrics", step=60, **RANGE).json()
    assert sum(sum(b["count"] for b in p["prediction_values"]) for p in price["points"]) == 40
    assert server.query("/api/v1/models/churn/metrics", step=0).status_code == 400


def test_prediction_lookup_and_lineage(server: SpanwiseProcess, sent: dict[str, Any]) -> None:
    rows = sent["rows"]
    found = server.query("/api/v1/predictions/churn-0").json()
    assert (found["trace_id"], found["span_id"]) == sent["ids"]["churn-0"]
    assert found["model"] == "churn" and found["version"] == "v2"
    assert found["label"] == rows[0].actual and found["label_source"] == "feedback"
    assert found["features"] == {"tenure": 0.0} and found["string_features"] == {"plan": "pro"}
    assert found["scores"] == {"score": rows[0].attributes["ml.prediction.score"]}
    assert found["prediction_label"] == rows[0].attributes["ml.prediction.label"]
    assert [link["trace_id"] for link in found["lineage"]] == [sent["run_trace"]]
    assert server.query("/api/v1/predictions/churn-3").json()["label_source"] == "span"
    assert server.query("/api/v1/predictions/missing").status_code == 404
    linked = server.query(f"/api/v1/lineage/{sent['run_trace']}/predictions", limit=1000, **RANGE).json()
    assert sorted(p["prediction_id"] for p in linked["predictions"]) == sorted(p.prediction_id for p in rows if p.linked)


def test_quality_equals_scikit_learn(server: SpanwiseProcess, sent: dict[str, Any]) -> None:
    body = server.query("/api/v1/models/churn/quality", version="v1", positive_label="yes", **RANGE).json()
    got, want = body["windows"][0], expected_classification(sent["rows"], "v1")
    assert got["labelled"] == want["n"] and got["predictions"] == want["total"]
    assert got["confusion_matrix"] == want["confusion"]
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"):
        assert got[key] == pytest.approx(want[key], rel=1e-9), key
    assert got["weighted"]["f1"] == pytest.approx(want["weighted_f1"], rel=1e-9)
    assert [b["fraction_positive"] for b in got["calibration"]] == pytest.approx(want["prob_true"], rel=1e-9)
    assert 0 <= got["expected_calibration_error"] <= 1
    regression = server.query("/api/v1/models/price/quality", task="regression", **RANGE).json()["windows"][0]
    expected = expected_regression(sent["rows"])
    for key in ("mae", "rmse", "mape", "r2"):
        assert regression[key] == pytest.approx(expected[key], rel=1e-9), key
    assert regression["label_coverage"] == 1.0
    multiclass = server.query("/api/v1/models/iris/quality", **RANGE).json()["windows"][0]
    assert multiclass["log_loss"] == pytest.approx(expected_multiclass(sent["rows"])["log_loss"], rel=1e-9)
    assert server.query("/api/v1/models/churn/quality", task="ranking").status_code == 400


def test_openapi_describes_model_routes(server: SpanwiseProcess) -> None:
    paths = server.query("/api/v1/openapi.json").json()["paths"]
    for path in ("/api/v1/models", "/api/v1/models/{name}", "/api/v1/models/{name}/metrics",
                 "/api/v1/models/{name}/quality", "/api/v1/predictions/{prediction_id}",
                 "/api/v1/lineage/{trace_id}/predictions"):
        assert "get" in paths[path], path
    assert "post" in paths["/api/v1/feedback"]

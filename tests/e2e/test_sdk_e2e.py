"""The SDK against a real server: a scikit-learn model wrapped in one line, every row of a
batch recorded (drift and quality see all of them), feedback joined in quality, the
training run's baseline used for drift, lineage links, trace context across a simulated
queue and over gRPC; `logging` records inside a wrapped predict found with the trace, and
the prediction counter among the OTLP metrics (both protocols)."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pytest
from server_process import SpanwiseProcess
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from spanwise.sdk import Spanwise

pytestmark = pytest.mark.slow
ROWS, TRAIN_ROWS = 600, 2_000


@pytest.fixture(scope="module")
def sw(server: SpanwiseProcess) -> Iterator[Spanwise]:
    instance = Spanwise("sdk-e2e", server.http_url, api_url=server.query_url, schedule_delay_s=0.2)
    yield instance
    instance.shutdown()


def _data(rows: int, shift: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"tenure": rng.normal(12, 4, rows) + shift, "spend": rng.normal(50, 10, rows)})
    target = ((frame["tenure"] - 12) / 4 + (frame["spend"] - 50) / 10 + rng.normal(0, 0.5, rows) > 0).astype(int)
    return frame, target.to_numpy()


@pytest.fixture(scope="module")
def churn(server: SpanwiseProcess, sw: Spanwise) -> dict[str, Any]:
    """Train under a training run (baseline uploaded), then predict a shifted batch."""
    X_train, y_train = _data(TRAIN_ROWS, 0.0, 1)
    with sw.training_run("sdk-churn", "v1", params={"C": 1.0}) as run:
        with run.step("fit"):
            clf = LogisticRegression().fit(X_train, y_train)
        run.log_metric("train_accuracy", clf.score(X_train, y_train))
        run.set_training_data(X_train, predictions=clf.predict(X_train), labels=y_train)
    model = sw.wrap(clf, "sdk-churn", "v1")
    X_live, y_live = _data(ROWS, 6.0, 2)  # tenure drifts by 1.5 standard deviations
    predicted, ids = model.predict_with_ids(X_live)
    assert sw.flush(10)
    assert server.wait_for(lambda: server.query("/api/v1/models/sdk-churn").json().get("predictions") == ROWS), server.log()
    return {"run": run, "X": X_live, "y": y_live, "predicted": predicted, "ids": ids, "clf": clf}


def test_wrapped_model_records_each_row_with_the_canonical_fields(server: SpanwiseProcess, churn: dict[str, Any]) -> None:
    found = server.query(f"/api/v1/predictions/{churn['ids'][7]}").json()
    row = churn["X"].iloc[7]
    proba = churn["clf"].predict_proba(churn["X"].iloc[[7]])[0]
    assert (found["model"], found["version"], found["service"]) == ("sdk-churn", "v1", "sdk-e2e")
    assert found["features"] == pytest.approx({"tenure": row["tenure"], "spend": row["spend"]})
    assert found["prediction_label"] == str(churn["predicted"][7])
    assert found["scores"] == pytest.approx({"0": proba[0], "1": proba[1]})
    assert found["confidence"] == pytest.approx(max(proba))
    trace = server.query(f"/api/v1/traces/{found['trace_id']}").json()
    assert sorted(s["name"] for s in trace["spans"]).count("predict") == ROWS


def test_feedback_joins_and_quality_matches_sklearn(server: SpanwiseProcess, sw: Spanwise, churn: dict[str, Any]) -> None:
    for pid, label in zip(churn["ids"], churn["y"]):
        sw.feedback(pid, label)
    assert sw.flush(20), dict(sw.feedback_sender.stats)
    quality = server.query("/api/v1/models/sdk-churn/quality", task="classification", lookback="1h").json()
    (window,) = quality["windows"]
    assert (window["predictions"], window["labelled"]) == (ROWS, ROWS)
    assert window["accuracy"] == pytest.approx(accuracy_score(churn["y"], churn["predicted"]))


def test_training_baseline_is_the_drift_reference(server: SpanwiseProcess, churn: dict[str, Any]) -> None:
    assert churn["run"].baseline["rows"] == TRAIN_ROWS
    drift = server.query("/api/v1/models/sdk-churn/drift", version="v1", lookback="1h").json()
    assert (drift["reference"]["name"], drift["reference"]["rows"], drift["current"]["rows"]) == ("training", TRAIN_ROWS, ROWS)
    assert drift["drifted_features"] == ["tenure"]


def test_prediction_links_to_the_pipeline_run_that_made_its_features(server: SpanwiseProcess, sw: Spanwise) -> None:
    with sw.pipeline_run("nightly-features") as run:
        with sw.pipeline_step("aggregate") as step:
            step.record(pd.DataFrame({"spend": [1.0, None]}))
    stored_with_features = run.ref.to_traceparent()  # e.g. a column of the feature table
    pid = sw.record_prediction("sdk-lineage", "v1", features={"spend": 1.0}, value=0.3, links=[stored_with_features])
    sw.flush(10)
    linked = server.wait_for(lambda: server.query(f"/api/v1/lineage/{run.ref.trace_id}/predictions").json()["predictions"])
    assert [p["prediction_id"] for p in linked] == [pid]
    lineage = server.query(f"/api/v1/predictions/{pid}").json()["lineage"]
    assert run.ref.trace_id in str(lineage)


def test_context_crosses_a_simulated_queue(server: SpanwiseProcess, sw: Spanwise) -> None:
    """A producer service puts a message with Kafka-style headers on a queue; a consumer
    service (its own provider and resource) scores it in another thread."""
    consumer = Spanwise("sdk-e2e-scorer", server.http_url, api_url=server.query_url)
    messages: queue.Queue[tuple[dict[str, float], list[tuple[str, bytes]]]] = queue.Queue()
    scored: list[str] = []

    def consume() -> None:
        features, headers = messages.get(timeout=10)
        with consumer.consume("transactions process", headers):
            scored.append(consumer.record_prediction("sdk-fraud", "v1", features=features, label="ok", confidence=0.8))

    worker = threading.Thread(target=consume)
    worker.start()
    headers: list[tuple[str, bytes]] = [("tenant", b"t1")]
    with sw.produce("transactions publish", headers) as producer:
        messages.put(({"amount": 12.0}, headers))
    worker.join(10)
    trace_id = f"{producer.get_span_context().trace_id:032x}"
    sw.flush(10)
    consumer.shutdown()
    prediction = server.wait_for(lambda: server.query(f"/api/v1/predictions/{scored[0]}").json().get("trace_id"))
    assert prediction == trace_id
    spans = server.wait_for(lambda: len(s := server.query(f"/api/v1/traces/{trace_id}").json().get("spans", [])) == 3 and s)
    by_name = {s["name"]: s for s in spans}
    assert by_name["transactions process"]["parentSpanId"] == by_name["transactions publish"]["spanId"]
    assert {s["serviceName"] for s in spans} == {"sdk-e2e", "sdk-e2e-scorer"}


def test_grpc_protocol(server: SpanwiseProcess) -> None:
    grpc_sw = Spanwise("sdk-e2e-grpc", f"http://{server.grpc_endpoint}", protocol="grpc", api_url=server.query_url)
    pid = grpc_sw.record_prediction("sdk-grpc", "v1", features={"x": 1}, value=2.0)
    grpc_sw.shutdown()
    found = server.wait_for(lambda: (r := server.query(f"/api/v1/predictions/{pid}")).status_code == 200 and r.json())
    assert found["prediction_value"] == 2.0 and found["features"] == {"x": 1.0}


class _LoggingModel:
    """A model that logs while it predicts."""

    def predict(self, X: Any) -> Any:
        logging.getLogger("sdk-e2e.model").warning("scoring %d rows", len(X))
        return np.asarray(X).sum(axis=1)


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_logs_and_metrics_from_a_wrapped_model(server: SpanwiseProcess, protocol: str) -> None:
    service = f"sdk-e2e-telemetry-{protocol.split('/')[0]}"
    endpoint = server.http_url if protocol == "http/protobuf" else f"http://{server.grpc_endpoint}"
    instance = Spanwise(service, endpoint, protocol=protocol, api_url=server.query_url, log_handler="sdk-e2e.model")
    try:
        model = instance.wrap(_LoggingModel(), "sdk-telemetry", "v1", feature_names=["a", "b"])
        model.predict(np.ones((3, 2)))
        pid = model.last_prediction_ids[0]
        assert instance.flush(10)
    finally:
        instance.shutdown()
    trace_id = server.wait_for(lambda: server.query(f"/api/v1/predictions/{pid}").json().get("trace_id"))
    logs = server.wait_for(lambda: server.query(f"/api/v1/traces/{trace_id}/logs").json()["logs"])
    spans = server.wait_for(lambda: server.query(f"/api/v1/traces/{trace_id}").json().get("spans"))
    batch = next(s for s in spans if s["name"] == "predict_batch")
    assert [(e["body"], e["severityText"], e["serviceName"], e["spanId"]) for e in logs] == [
        ("scoring 3 rows", "WARN", service, batch["spanId"])]
    listed = server.wait_for(lambda: [m for m in server.query("/api/v1/otlp/metrics").json()["metrics"]
                                      if m["name"] == "spanwise.predictions" and service in m["services"]])
    assert listed[0]["kind"] == "sum"
    series = server.query("/api/v1/otlp/metrics/spanwise.predictions", service=service, lookback="1h").json()
    assert sum(p["increase"] for p in series["points"]) == 3

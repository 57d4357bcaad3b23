"""Performance before labels arrive (CBPE) against a real server fed by the real OTel SDK.

A calibrated binary classifier, P(yes | x) = sigmoid(1.5 x), sees a covariate shift: x is
centred at 0, then 1, then 2 in three consecutive hours, so its realized accuracy moves
(0.73 -> 0.80 -> 0.89 in expectation). Labels arrive only for the first hour. The
estimate for the two unlabelled hours must track the accuracy and ROC AUC the labels
(drawn here, never sent) would give; an overconfident model (scores of sigmoid(4 x)) must
be called untrustworthy by the calibration check."""

from __future__ import annotations

import math
import os
import random
import time
from typing import Any, Iterator

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from server_process import SpanwiseProcess
from sklearn.metrics import accuracy_score, roc_auc_score

pytestmark = pytest.mark.slow

HOUR = 3600 * 10**9
PER_HOUR = 1500
#: Accuracy and ROC AUC of the estimate against labels drawn from the true probabilities:
#: the sampling noise of a 1,500-row accuracy is ~0.011 (sd), of its ROC AUC ~0.013.
TOLERANCE = 0.04
FIRST_HOUR = (time.time_ns() // HOUR - 4) * HOUR


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def _send(server: SpanwiseProcess, model: str, slope: float) -> dict[int, tuple[list[str], list[float]]]:
    """Three hours of predictions (scores from `slope`, truth from 1.5); labels for the first
    hour go out as feedback. Returns per hour the drawn labels and the true probabilities."""
    rng = random.Random(7)
    provider = TracerProvider(resource=Resource.create({"service.name": f"{model}-api"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{server.http_url}/v1/traces"),
                                                   max_queue_size=5000, max_export_batch_size=512))
    tracer = provider.get_tracer("cbpe-test")
    truth: dict[int, tuple[list[str], list[float]]] = {}
    feedback = []
    for hour, centre in enumerate((0.0, 1.0, 2.0)):
        labels, probabilities = [], []
        for i in range(PER_HOUR):
            x = rng.gauss(centre, 1.0)
            p_true, p_model = _sigmoid(1.5 * x), _sigmoid(slope * x)
            label = "yes" if rng.random() < p_true else "no"
            predicted = "yes" if p_model >= 0.5 else "no"
            start = FIRST_HOUR + hour * HOUR + i * (HOUR // PER_HOUR)
            span = tracer.start_span("predict", start_time=start, attributes={
                "ml.model.name": model, "ml.model.version": "v1", "ml.prediction.id": f"{model}-{hour}-{i}",
                "ml.prediction.label": predicted, "ml.prediction.confidence": max(p_model, 1 - p_model),
                "ml.prediction.proba.yes": p_model, "ml.prediction.proba.no": 1 - p_model, "ml.feature.x": x,
            })
            span.end(end_time=start + 2_000_000)
            labels.append(label)
            probabilities.append(p_true)
            if hour == 0:
                feedback.append({"prediction_id": f"{model}-{hour}-{i}", "label": label})
        truth[hour] = (labels, probabilities)
    provider.shutdown()
    assert server.wait_for(lambda: server.status()["predictions"] >= PER_HOUR * 3 * (2 if model == "overconfident" else 1),
                           timeout=60), server.status()
    answer = httpx.post(f"{server.query_url}/api/v1/feedback", json=feedback, timeout=60)
    assert answer.status_code == 200, answer.text
    return truth


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    process = SpanwiseProcess(os.path.join(tmp_path_factory.mktemp("cbpe"), "data"))
    process.start()
    yield process
    process.stop()


def _estimate(server: SpanwiseProcess, model: str, **params: Any) -> dict[str, Any]:
    response = server.query(f"/api/v1/models/{model}/estimated-quality", start=FIRST_HOUR, end=FIRST_HOUR + 3 * HOUR - 1,
                            step=3600, reference_start=FIRST_HOUR, reference_end=FIRST_HOUR + HOUR - 1, **params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_estimate_tracks_realized_quality_through_a_covariate_shift(server: SpanwiseProcess) -> None:
    truth = _send(server, "calibrated", 1.5)
    found = _estimate(server, "calibrated")
    assert found["method"] == "CBPE" and found["positive_label"] == "yes"  # the greater of two labels
    assert found["calibration"]["trustworthy"], found["calibration"]
    windows = {(w["start_unix_nano"] - FIRST_HOUR) // HOUR: w for w in found["windows"]}
    assert sorted(windows) == [0, 1, 2]
    for hour, (labels, p_true) in truth.items():
        predicted = ["yes" if p >= 0.5 else "no" for p in p_true]  # a calibrated model predicts by p
        estimated = windows[hour]["estimated"]
        assert abs(estimated["accuracy"] - accuracy_score(labels, predicted)) < TOLERANCE, (hour, estimated)
        assert abs(estimated["roc_auc"] - roc_auc_score([label == "yes" for label in labels], p_true)) < TOLERANCE
        assert windows[hour]["scored"] == PER_HOUR
    assert windows[0]["realized"]["accuracy"] is not None and windows[2]["realized"] is None  # labels: hour 0 only
    assert windows[2]["estimated"]["accuracy"] > windows[0]["estimated"]["accuracy"] + 0.08  # the shift shows


def test_an_overconfident_model_is_not_trusted(server: SpanwiseProcess) -> None:
    _send(server, "overconfident", 4.0)
    calibration = _estimate(server, "overconfident")["calibration"]
    assert calibration["trustworthy"] is False
    assert "not calibrated" in calibration["reason"], calibration


def test_bad_parameters_are_named(server: SpanwiseProcess) -> None:
    response = server.query("/api/v1/models/calibrated/estimated-quality", positive_label="maybe", lookback="1d")
    assert response.status_code == 400 and "positive_label 'maybe'" in response.json()["error"]["message"]
    response = server.query("/api/v1/models/calibrated/estimated-quality", reference_start=5)
    assert response.status_code == 400 and "reference_end" in response.json()["error"]["message"]
    assert server.query("/api/v1/models/nothing/estimated-quality").status_code == 404

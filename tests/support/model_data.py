"""Deterministic prediction data for the model tests, and what scikit-learn says about it.

Three models: `churn` (binary classification, versions v1/v2, a score, numeric and
categorical features, some errors), `price` (regression, one version) and `iris`
(multiclass, a probability per class). Ground truth
arrives as feedback for most predictions, as `ml.label` on the span for a few, and not
at all for the rest; some feedback is sent twice (the later timestamp wins).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_build import add_attributes

HOUR = 3600 * 10**9
_HOUR_START = time.time_ns() // HOUR * HOUR
#: Every prediction falls in the past, within one clock hour (so a 1h step has one point).
START_NS = _HOUR_START + 10**9 if time.time_ns() - _HOUR_START > 180 * 10**9 else _HOUR_START - HOUR + 10**9
PIPELINE_TRACE = f"{0xFEED:032x}"
PIPELINE_SPANS = (f"{0xA1:016x}", f"{0xA2:016x}")


@dataclass
class Prediction:
    prediction_id: str
    model: str
    version: str
    start_ns: int
    duration_ms: float
    error: bool
    attributes: dict[str, Any]
    actual: str | None = None  # the label that should win
    span_label: str | None = None  # sent as ml.label on the span
    feedback: list[tuple[str, float]] = field(default_factory=list)  # (label, unix seconds), in sending order
    linked: bool = False


def predictions() -> list[Prediction]:
    rng = random.Random(42)
    made = []
    for i in range(90):
        score = round(rng.random(), 2)  # two decimals: tied scores exercise the AUC's tie handling
        actual = "yes" if rng.random() < 0.15 + 0.7 * score else "no"
        p = Prediction(
            f"churn-{i}", "churn", "v1" if i % 3 else "v2", START_NS + i * 10**9, 2 + rng.random() * 40, i % 17 == 0,
            {"ml.prediction.score": score, "ml.prediction.label": "yes" if score >= 0.5 else "no",
             "ml.prediction.confidence": max(score, 1 - score), "ml.feature.tenure": float(i % 24),
             "ml.feature.plan": "pro" if i % 4 == 0 else "basic"},
            linked=i % 2 == 0,
        )
        if i % 10 == 3:
            p.span_label, p.actual = actual, actual
        elif i % 10 != 7:  # i % 10 == 7: never labelled
            p.actual = actual
            p.feedback = [(actual, 1_700_000_000 + i)]
            if i % 5 == 0:  # a correction: wrong first, then right with a later timestamp
                p.feedback = [("no" if actual == "yes" else "yes", 1_600_000_000.0), (actual, 1_700_000_000 + i)]
            if i % 9 == 0:  # a stale duplicate arriving last: older timestamp, must not win
                p.feedback.append(("no" if actual == "yes" else "yes", 1_500_000_000.0))
        made.append(p)
    for i in range(40):
        value = round(rng.uniform(10, 100), 3)
        actual = round(value + rng.gauss(0, 5), 3)
        made.append(Prediction(
            f"price-{i}", "price", "r1", START_NS + i * 10**9, 1 + rng.random() * 5, False,
            {"ml.prediction.value": value, "ml.feature.sqft": 50.0 + i}, actual=str(actual),
            feedback=[(str(actual), 1_700_000_000 + i)] if i % 8 else [],
        ))
        if i % 8 == 0:
            made[-1].span_label = str(actual)
    made += _iris(rng)
    return made


IRIS = ("setosa", "versicolor", "virginica")


def _iris(rng: random.Random) -> list[Prediction]:
    """Multiclass: a probability per class (`ml.prediction.proba.<class>`), labels as feedback."""
    made = []
    for i in range(30):
        weights = [rng.random() + 0.05 for _ in IRIS]
        proba = [w / sum(weights) for w in weights]
        actual = IRIS[i % 3] if i % 4 else IRIS[(i + 1) % 3]
        attributes: dict[str, Any] = {f"ml.prediction.proba.{c}": p for c, p in zip(IRIS, proba)}
        attributes["ml.prediction.label"] = IRIS[proba.index(max(proba))] if i % 5 else IRIS[i % 3]
        made.append(Prediction(f"iris-{i}", "iris", "m1", START_NS + i * 10**9, 1.0, False, attributes,
                               actual=actual, feedback=[(actual, 1_700_000_000 + i)]))
    return made


def feedback_records(rows: list[Prediction]) -> list[dict[str, Any]]:
    """Feedback as a client sends it, in order (corrections after the first label)."""
    first = [{"prediction_id": p.prediction_id, "label": p.feedback[0][0], "timestamp": p.feedback[0][1]}
             for p in rows if p.feedback]
    later = [{"prediction_id": p.prediction_id, "label": label, "timestamp": ts}
             for p in rows for label, ts in p.feedback[1:]]
    return first + later


def expected_classification(rows: list[Prediction], version: str | None = None) -> dict[str, Any]:
    """scikit-learn's metrics on the labelled `churn` predictions."""
    from sklearn import metrics as m
    from sklearn.calibration import calibration_curve

    chosen = [p for p in rows if p.model == "churn" and p.actual is not None and version in (None, p.version)]
    y_true = [p.actual for p in chosen]
    y_pred = [p.attributes["ml.prediction.label"] for p in chosen]
    score = np.array([p.attributes["ml.prediction.score"] for p in chosen])
    positive = np.array([y == "yes" for y in y_true])
    prob_true, prob_pred = calibration_curve(positive, score, n_bins=10)
    return {
        "n": len(chosen),
        "total": sum(1 for p in rows if p.model == "churn" and version in (None, p.version)),
        "accuracy": m.accuracy_score(y_true, y_pred),
        "precision": m.precision_score(y_true, y_pred, pos_label="yes", zero_division=0),
        "recall": m.recall_score(y_true, y_pred, pos_label="yes", zero_division=0),
        "f1": m.f1_score(y_true, y_pred, pos_label="yes", zero_division=0),
        "macro_f1": m.f1_score(y_true, y_pred, average="macro", zero_division=0),
        "weighted_f1": m.f1_score(y_true, y_pred, average="weighted", zero_division=0),
        "weighted_precision": m.precision_score(y_true, y_pred, average="weighted", zero_division=0),
        "macro_recall": m.recall_score(y_true, y_pred, average="macro", zero_division=0),
        "confusion": m.confusion_matrix(y_true, y_pred, labels=["no", "yes"]).tolist(),
        "roc_auc": m.roc_auc_score(positive, score),
        "log_loss": m.log_loss(positive, y_proba=score),
        "prob_true": prob_true.tolist(),
        "prob_pred": prob_pred.tolist(),
    }


def expected_multiclass(rows: list[Prediction]) -> dict[str, Any]:
    from sklearn import metrics as m

    chosen = [p for p in rows if p.model == "iris"]
    y_true = [p.actual for p in chosen]
    y_pred = [p.attributes["ml.prediction.label"] for p in chosen]
    proba = [[p.attributes[f"ml.prediction.proba.{c}"] for c in IRIS] for p in chosen]
    return {
        "n": len(chosen),
        "accuracy": m.accuracy_score(y_true, y_pred),
        "macro_f1": m.f1_score(y_true, y_pred, average="macro", zero_division=0),
        "weighted_precision": m.precision_score(y_true, y_pred, average="weighted", zero_division=0),
        "weighted_recall": m.recall_score(y_true, y_pred, average="weighted", zero_division=0),
        "confusion": m.confusion_matrix(y_true, y_pred, labels=list(IRIS)).tolist(),
        "log_loss": m.log_loss(y_true, y_proba=proba, labels=list(IRIS)),
    }


def expected_regression(rows: list[Prediction]) -> dict[str, Any]:
    from sklearn import metrics as m

    chosen = [p for p in rows if p.model == "price" and p.actual is not None]
    y_true = [float(p.actual or 0) for p in chosen]
    y_pred = [p.attributes["ml.prediction.value"] for p in chosen]
    return {
        "n": len(chosen),
        "mae": m.mean_absolute_error(y_true, y_pred),
        "rmse": m.root_mean_squared_error(y_true, y_pred),
        "mape": m.mean_absolute_percentage_error(y_true, y_pred),
        "r2": m.r2_score(y_true, y_pred),
    }


def export_request(rows: list[Prediction]) -> bytes:
    """One OTLP request with a span per prediction (linked ones point at the pipeline run)."""
    body = ExportTraceServiceRequest()
    for i, p in enumerate(rows):
        rs = body.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", f"{p.model}-service"
        s = rs.scope_spans.add().spans.add()
        s.trace_id, s.span_id = (i + 1).to_bytes(16, "big"), (i + 1).to_bytes(8, "big")
        s.name, s.kind = "predict", 2
        s.start_time_unix_nano = p.start_ns
        s.end_time_unix_nano = p.start_ns + round(p.duration_ms * 10**6)
        s.status.code = 2 if p.error else 0
        attributes = {"ml.model.name": p.model, "ml.model.version": p.version, "ml.prediction.id": p.prediction_id,
                      **p.attributes, **({"ml.label": p.span_label} if p.span_label else {})}
        add_attributes(s, attributes)
        if p.linked:
            link = s.links.add()
            link.trace_id, link.span_id = bytes.fromhex(PIPELINE_TRACE), bytes.fromhex(PIPELINE_SPANS[i % 2])
    return body.SerializeToString()

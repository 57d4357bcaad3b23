"""JSON of the model service's results, exactly as the model routes answer (field names
of the API, times as `*_unix_nano`, `step_seconds`), kept apart from the values so the
analysis code and alert rules read typed attributes and only this edge knows the wire."""

from __future__ import annotations

from typing import Any

from spanwise.analyze.models import (
    Bin, LinkedPredictions, MetricsPoint, MetricsSeries, ModelSummary, QualityReport, VersionSummary,
)
from spanwise.analyze.quality import ClassificationMetrics, RegressionMetrics, ScoreMetrics, WindowQuality
from spanwise.store.protocols import FeatureInfo, ModelVersionInfo, Prediction

Json = dict[str, Any]


def model_json(m: ModelSummary) -> Json:
    return {
        "name": m.name, "versions": [version_info_json(v) for v in m.versions],
        "features": [feature_json(f) for f in m.features], "predictions": m.predictions,
        "first_seen": m.first_seen_ns, "last_seen": m.last_seen_ns,
    }


def version_json(v: VersionSummary) -> Json:
    return {"name": v.name, **version_info_json(v.info), "features": [feature_json(f) for f in v.features]}


def version_info_json(v: ModelVersionInfo) -> Json:
    return {
        "version": v.version, "first_seen": v.first_seen_ns, "last_seen": v.last_seen_ns,
        "predictions": v.predictions, "services": list(v.services),
    }


def feature_json(f: FeatureInfo) -> Json:
    return {"name": f.name, "type": f.kind, "min": f.minimum, "max": f.maximum, "distinct": f.distinct}


def metrics_json(s: MetricsSeries) -> Json:
    return {"name": s.name, "version": s.version, "step_seconds": s.step_s, "points": [_point(p) for p in s.points]}


def _point(p: MetricsPoint) -> Json:
    return {
        "start_unix_nano": p.start_ns, "version": p.version, "count": p.count, "errors": p.errors,
        "error_rate": p.error_rate, "latency_ms": {"p50": p.p50_ms, "p95": p.p95_ms, "p99": p.p99_ms},
        "confidence": [_bin(b) for b in p.confidence], "prediction_values": [_bin(b) for b in p.prediction_values],
        "prediction_labels": [{"label": s.label, "count": s.count, "share": s.share} for s in p.prediction_labels],
    }


def _bin(b: Bin) -> Json:
    return {"lower": b.lower, "upper": b.upper, "count": b.count}


def quality_json(q: QualityReport) -> Json:
    return {
        "name": q.name, "version": q.version, "task": q.task, "step_seconds": q.step_s,
        "positive_label": q.positive_label, "windows": [window_quality_json(w) for w in q.windows],
    }


def window_quality_json(w: WindowQuality) -> Json:
    """A window's fields, then its task's metrics flat beside them (classification: the
    binary metrics and the score metrics only with a positive label)."""
    found: Json = {
        "start_unix_nano": w.start_ns, "version": w.version, "predictions": w.predictions,
        "labelled": w.labelled, "label_coverage": w.label_coverage,
    }
    if w.regression is not None:
        found.update(regression_json(w.regression))
    if w.classification is not None:
        found.update(classification_json(w.classification))
        found.update(scored=w.scored, log_loss=w.log_loss)
    if w.scores is not None:
        found.update(score_metrics_json(w.scores))
    return found


def classification_json(c: ClassificationMetrics) -> Json:
    found: Json = {
        "accuracy": c.accuracy, "classes": list(c.classes),
        "confusion_matrix": [list(row) for row in c.confusion_matrix],
        "per_class": {
            name: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support}
            for name, s in c.per_class.items()
        },
        "macro": {"precision": c.macro.precision, "recall": c.macro.recall, "f1": c.macro.f1},
        "weighted": {"precision": c.weighted.precision, "recall": c.weighted.recall, "f1": c.weighted.f1},
    }
    if c.binary is not None:
        b = c.binary
        found.update(positive_label=b.positive_label, precision=b.precision, recall=b.recall, f1=b.f1)
    return found


def regression_json(r: RegressionMetrics) -> Json:
    return {"n": r.n, "mae": r.mae, "rmse": r.rmse, "mape": r.mape, "r2": r.r2}


def score_metrics_json(s: ScoreMetrics) -> Json:
    return {
        "roc_auc": s.roc_auc,
        "calibration": [
            {"bin": b.bin, "count": b.count, "mean_predicted": b.mean_predicted, "fraction_positive": b.fraction_positive}
            for b in s.calibration
        ],
        "expected_calibration_error": s.expected_calibration_error,
    }


def prediction_json(p: Prediction) -> Json:
    return {
        "prediction_id": p.prediction_id, "trace_id": p.trace_id, "span_id": p.span_id,
        "model": p.model, "version": p.version, "service": p.service,
        "timestamp_unix_nano": p.timestamp_ns, "duration_ms": p.duration_ms,
        "status": p.status, "prediction_value": p.prediction_value,
        "prediction_label": p.prediction_label, "confidence": p.confidence,
        "label": p.label, "label_value": p.label_value, "label_timestamp_unix_nano": p.label_timestamp_ns,
        "label_source": p.label_source,
        "lineage": [{"trace_id": x.trace_id, "span_id": x.span_id, "attributes": dict(x.attributes)} for x in p.lineage],
        "features": dict(p.features), "string_features": dict(p.string_features),
        "scores": dict(p.scores), "attributions": dict(p.attributions),
    }


def linked_json(found: LinkedPredictions) -> Json:
    return {
        "trace_id": found.trace_id,
        "predictions": [
            {"prediction_id": p.prediction_id, "model": p.model, "version": p.version, "trace_id": p.trace_id,
             "span_id": p.span_id, "timestamp_ns": p.timestamp_ns, "linked_span_ids": list(p.linked_span_ids)}
            for p in found.predictions
        ],
    }

"""ModelService: model inventory, operational metrics, prediction lookup with lineage,
ground truth and quality, independent of any wire format.

Routes call this; it calls the store's `ModelReader` / `FeedbackWriter` capabilities,
validates parameters and raises `InvalidQuery` / `NotFound` so every API reports them
alike. Results are plain JSON-ready dicts built from small aggregates.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from spanwise.analyze import quality
from spanwise.analyze.feedback import FeedbackOutcome, FeedbackRecord, store_feedback
from spanwise.errors import InvalidQuery, NotFound
from spanwise.store.protocols import (
    FeedbackWriter, ModelReader, ModelVersionInfo, PredictionPoint, QualityCounts, QualityQuery,
)
from spanwise.store.protocols import PendingFeedbackStore

MAX_POINTS = 11_000
MAX_LINKED = 1_000
_MAP_FIELDS = {"Features": "features", "StringFeatures": "string_features", "Scores": "scores", "Attributions": "attributions"}


class ModelStore(ModelReader, FeedbackWriter, PendingFeedbackStore, Protocol):
    """What the service needs of a store."""


class ModelService:
    """Everything the model pages and APIs ask about models and predictions."""

    def __init__(self, store: ModelStore) -> None:
        self._store = store

    # -- inventory --

    def models(self) -> list[dict[str, Any]]:
        """Every model with its versions and features, sorted by name."""
        by_model: dict[str, list[ModelVersionInfo]] = {}
        for info in self._store.model_versions():
            by_model.setdefault(info.model, []).append(info)
        return [self._model(name, versions) for name, versions in sorted(by_model.items())]

    def model(self, name: str) -> dict[str, Any]:
        versions = self._store.model_versions(name)
        if not versions:
            raise NotFound(f"model {name!r} not found")
        return self._model(name, versions)

    def version(self, name: str, version: str) -> dict[str, Any]:
        found = [v for v in self._store.model_versions(name) if v.version == version]
        if not found:
            raise NotFound(f"version {version!r} of model {name!r} not found")
        return {"name": name, **_version(found[0]), "features": self._features(name, version)}

    def _model(self, name: str, versions: list[ModelVersionInfo]) -> dict[str, Any]:
        return {
            "name": name,
            "versions": [_version(v) for v in versions],
            "features": self._features(name, None),
            "predictions": sum(v.predictions for v in versions),
            "first_seen": min(v.first_seen_ns for v in versions),
            "last_seen": max(v.last_seen_ns for v in versions),
        }

    def _features(self, name: str, version: str | None) -> list[dict[str, Any]]:
        return [
            {"name": f.name, "type": f.kind, "min": f.minimum, "max": f.maximum, "distinct": f.distinct}
            for f in self._store.model_features(name, version)
        ]

    # -- operational metrics --

    def metrics(self, name: str, version: str | None, start_ns: int, end_ns: int, step_s: int) -> dict[str, Any]:
        """Per-step prediction count, latency percentiles (ms), error rate, confidence and
        prediction distributions, per version."""
        _check_range(start_ns, end_ns, step_s, allow_whole=False)
        self.model(name)
        points = self._store.prediction_series(name, version, start_ns, end_ns, step_s)
        return {"name": name, "version": version, "step_seconds": step_s, "points": [_point(p) for p in points]}

    # -- predictions and lineage --

    def prediction(self, prediction_id: str) -> dict[str, Any]:
        row = self._store.prediction(prediction_id)
        if row is None:
            raise NotFound(f"prediction {prediction_id!r} not found")
        found = {
            "prediction_id": row["PredictionId"], "trace_id": row["TraceId"], "span_id": row["SpanId"],
            "model": row["ModelName"], "version": row["ModelVersion"], "service": row["ServiceName"],
            "timestamp_unix_nano": row["Timestamp"], "duration_ms": int(row["Duration"]) / 1e6,  # type: ignore[call-overload]
            "status": row["StatusCode"], "prediction_value": row["PredictionValue"],
            "prediction_label": row["PredictionLabel"] or None, "confidence": row["Confidence"],
            "label": row["Label"], "label_value": row["LabelValue"], "label_timestamp_unix_nano": row["LabelTimestamp"],
            "label_source": row["LabelSource"], "lineage": row["Links"],
        }
        for column, key in _MAP_FIELDS.items():
            value = row[column]
            found[key] = dict(value) if isinstance(value, list) else value  # type: ignore[arg-type]
        return found

    def linked_predictions(self, trace_id: str, start_ns: int, end_ns: int, limit: int) -> dict[str, Any]:
        """Predictions whose span links point into `trace_id` (a pipeline run)."""
        _check_range(start_ns, end_ns, 0, allow_whole=True)
        if not 0 < limit <= MAX_LINKED:
            raise InvalidQuery(f"limit must be between 1 and {MAX_LINKED}")
        trace = trace_id.lower()
        if not trace or any(c not in "0123456789abcdef" for c in trace) or len(trace) > 32:
            raise InvalidQuery(f"malformed trace id {trace_id!r}: expected up to 32 hex digits")
        found = self._store.linked_predictions(trace.rjust(32, "0"), start_ns, end_ns, limit)
        return {"trace_id": trace.rjust(32, "0"), "predictions": found}

    # -- ground truth and quality --

    def add_feedback(self, records: list[FeedbackRecord]) -> FeedbackOutcome:
        return store_feedback(self._store, records)

    def quality(self, query: QualityQuery) -> dict[str, Any]:
        """Quality metrics per window and version with label coverage."""
        if query.task not in (quality.CLASSIFICATION, quality.REGRESSION):
            raise InvalidQuery("task must be classification or regression")
        _check_range(query.start_ns, query.end_ns, query.step_s, allow_whole=True)
        if not self._store.model_versions(query.model):  # not `self.model`: it also scans features
            raise NotFound(f"model {query.model!r} not found")
        if query.task == quality.REGRESSION:
            self._check_regression(query)
        windows = self._store.quality_counts(query)
        if query.positive_label is not None and query.task == quality.CLASSIFICATION:
            self._check_positive_label(query, windows)
        if not query.step_s:  # one window: it starts where the range does, not at 0
            windows = [dataclasses.replace(w, start_ns=query.start_ns) for w in windows]
        return {
            "name": query.model, "version": query.version, "task": query.task, "step_seconds": query.step_s,
            "positive_label": query.positive_label,
            "windows": [quality.window_quality(w, query.task, query.positive_label) for w in windows],
        }

    def _outputs(self, query: QualityQuery) -> tuple[list[str], bool]:
        """The labels the model predicted in the range (most frequent first, at most 50 per
        version) and whether any prediction carried a value."""
        step_s = max(1, (query.end_ns - query.start_ns) // 10**9 + 1)  # one step: the whole range
        points = self._store.prediction_series(query.model, query.version, query.start_ns, query.end_ns, step_s)
        labels = list(dict.fromkeys(label for p in points for label, _ in p.labels))
        return labels, any(p.value_buckets for p in points)

    def _check_regression(self, query: QualityQuery) -> None:
        """Regression metrics need predicted values: on a model that predicts only labels
        they would all be null. (The reverse is allowed: classification compares a value
        as text, which is how the SDK records integer classes.)"""
        labels, has_values = self._outputs(query)
        if labels and not has_values:
            raise InvalidQuery(
                f"task=regression: model {query.model!r} predicts labels ({_listed(labels)}), not values; "
                "use task=classification"
            )

    def _check_positive_label(self, query: QualityQuery, windows: list[QualityCounts]) -> None:
        """A positive label that is no class of the model would give precision and recall
        0.0 as if the model were useless."""
        classes = sorted({c for w in windows for actual, predicted, _ in w.confusion for c in (actual, predicted)})
        if not classes:
            classes = sorted(self._outputs(query)[0])
        if classes and query.positive_label not in classes:
            raise InvalidQuery(
                f"positive_label {query.positive_label!r} is not a class of model {query.model!r}; "
                f"its classes: {_listed(classes)}"
            )


def _listed(names: list[str], most: int = 20) -> str:
    shown = ", ".join(repr(n) for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _check_range(start_ns: int, end_ns: int, step_s: int, allow_whole: bool) -> None:
    if end_ns < start_ns:
        raise InvalidQuery("the end of the time range is before its start")
    if step_s < 0 or (step_s == 0 and not allow_whole):
        raise InvalidQuery("step must be positive")
    if step_s and (end_ns - start_ns) // (step_s * 10**9) > MAX_POINTS:
        raise InvalidQuery(f"step must give at most {MAX_POINTS} points")


def _version(v: ModelVersionInfo) -> dict[str, Any]:
    return {
        "version": v.version, "first_seen": v.first_seen_ns, "last_seen": v.last_seen_ns,
        "predictions": v.predictions, "services": list(v.services),
    }


def _point(p: PredictionPoint) -> dict[str, Any]:
    width = ((p.value_max or 0.0) - (p.value_min or 0.0)) / 10 or 1.0
    labelled = sum(n for _, n in p.labels)
    return {
        "start_unix_nano": p.start_ns, "version": p.version, "count": p.count, "errors": p.errors,
        "error_rate": p.errors / p.count if p.count else None,
        "latency_ms": {"p50": p.p50_ms, "p95": p.p95_ms, "p99": p.p99_ms},
        "confidence": [{"lower": b / 10, "upper": (b + 1) / 10, "count": n} for b, n in p.confidence_buckets],
        "prediction_values": [
            {"lower": (p.value_min or 0.0) + b * width, "upper": (p.value_min or 0.0) + (b + 1) * width, "count": n}
            for b, n in p.value_buckets
        ],
        "prediction_labels": [{"label": label, "count": n, "share": n / labelled} for label, n in p.labels],
    }

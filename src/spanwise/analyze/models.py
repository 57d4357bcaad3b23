"""ModelService: model inventory, operational metrics, prediction lookup with lineage,
ground truth and quality, independent of any wire format.

Routes call this; it calls the store's `ModelReader` / `FeedbackWriter` capabilities,
validates parameters and raises `InvalidQuery` / `NotFound` so every API reports them
alike. Results are frozen values built from small aggregates (the store's own values where
they suffice); `serve.models_json` renders them as the API answers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

from spanwise.analyze import quality
from spanwise.analyze.feedback import FeedbackOutcome, FeedbackRecord, store_feedback
from spanwise.analyze.quality import WindowQuality
from spanwise.core.ids import parse_trace_id
from spanwise.core.ml_tasks import CLASSIFICATION, REGRESSION, TASKS
from spanwise.core.time_range import MAX_SERIES_POINTS, check_time_range
from spanwise.errors import InvalidQuery, NotFound
from spanwise.store.protocols import (
    FeatureInfo, FeedbackWriter, LinkedPrediction, ModelReader, ModelVersionInfo, Prediction, PredictionPoint,
    QualityCounts, QualityQuery,
)
from spanwise.store.protocols import PendingFeedbackStore

MAX_LINKED = 1_000


@dataclass(frozen=True)
class ModelSummary:
    """A model with its versions, the features any version received, its prediction count
    and when it was first and last seen."""

    name: str
    versions: tuple[ModelVersionInfo, ...]
    features: tuple[FeatureInfo, ...]
    predictions: int
    first_seen_ns: int
    last_seen_ns: int


@dataclass(frozen=True)
class VersionSummary:
    """One version of a model with the features it received."""

    name: str
    info: ModelVersionInfo
    features: tuple[FeatureInfo, ...]


@dataclass(frozen=True)
class Bin:
    """One histogram bin: [lower, upper) and how many predictions fell in it."""

    lower: float
    upper: float
    count: int


@dataclass(frozen=True)
class LabelShare:
    """A predicted label, how often it was predicted and its share of labelled predictions."""

    label: str
    count: int
    share: float


@dataclass(frozen=True)
class MetricsPoint:
    """Operational metrics of one version in one step (latency in ms; `error_rate` None
    without predictions)."""

    start_ns: int
    version: str
    count: int
    errors: int
    error_rate: float | None
    p50_ms: float
    p95_ms: float
    p99_ms: float
    confidence: tuple[Bin, ...]
    prediction_values: tuple[Bin, ...]
    prediction_labels: tuple[LabelShare, ...]


@dataclass(frozen=True)
class MetricsSeries:
    """A model's per-step operational metrics, every version's steps, oldest first."""

    name: str
    version: str | None
    step_s: int
    points: tuple[MetricsPoint, ...]


@dataclass(frozen=True)
class QualityReport:
    """Quality per (window, version) of a model's labelled predictions."""

    name: str
    version: str | None
    task: str
    step_s: int
    positive_label: str | None
    windows: tuple[WindowQuality, ...]


@dataclass(frozen=True)
class LinkedPredictions:
    trace_id: str
    predictions: tuple[LinkedPrediction, ...]


class ModelStore(ModelReader, FeedbackWriter, PendingFeedbackStore, Protocol):
    """What the service needs of a store."""


class ModelService:
    """Everything the model pages and APIs ask about models and predictions."""

    def __init__(self, store: ModelStore) -> None:
        self._store = store

    # -- inventory --

    def models(self) -> list[ModelSummary]:
        """Every model with its versions and features, sorted by name."""
        by_model: dict[str, list[ModelVersionInfo]] = {}
        for info in self._store.model_versions():
            by_model.setdefault(info.model, []).append(info)
        return [self._model(name, versions) for name, versions in sorted(by_model.items())]

    def model(self, name: str) -> ModelSummary:
        versions = self._store.model_versions(name)
        if not versions:
            raise NotFound(f"model {name!r} not found")
        return self._model(name, versions)

    def version(self, name: str, version: str) -> VersionSummary:
        found = [v for v in self._store.model_versions(name) if v.version == version]
        if not found:
            raise NotFound(f"version {version!r} of model {name!r} not found")
        return VersionSummary(name, found[0], tuple(self._store.model_features(name, version)))

    def _model(self, name: str, versions: list[ModelVersionInfo]) -> ModelSummary:
        return ModelSummary(
            name, tuple(versions), tuple(self._store.model_features(name, None)),
            predictions=sum(v.predictions for v in versions),
            first_seen_ns=min(v.first_seen_ns for v in versions),
            last_seen_ns=max(v.last_seen_ns for v in versions),
        )

    # -- operational metrics --

    def metrics(self, name: str, version: str | None, start_ns: int, end_ns: int, step_s: int) -> MetricsSeries:
        """Per-step prediction count, latency percentiles (ms), error rate, confidence and
        prediction distributions, per version."""
        _check_range(start_ns, end_ns, step_s, allow_whole=False)
        self.model(name)
        points = self._store.prediction_series(name, version, start_ns, end_ns, step_s)
        return MetricsSeries(name, version, step_s, tuple(_point(p) for p in points))

    # -- predictions and lineage --

    def prediction(self, prediction_id: str) -> Prediction:
        found = self._store.prediction(prediction_id)
        if found is None:
            raise NotFound(f"prediction {prediction_id!r} not found")
        return found

    def linked_predictions(self, trace_id: str, start_ns: int, end_ns: int, limit: int) -> LinkedPredictions:
        """Predictions whose span links point into `trace_id` (a pipeline run)."""
        _check_range(start_ns, end_ns, 0, allow_whole=True)
        if not 0 < limit <= MAX_LINKED:
            raise InvalidQuery(f"limit must be between 1 and {MAX_LINKED}")
        trace = parse_trace_id(trace_id)
        found = self._store.linked_predictions(trace, start_ns, end_ns, limit)
        return LinkedPredictions(trace, tuple(found))

    # -- ground truth and quality --

    def add_feedback(self, records: list[FeedbackRecord]) -> FeedbackOutcome:
        return store_feedback(self._store, records)

    def quality(self, query: QualityQuery) -> QualityReport:
        """Quality metrics per window and version with label coverage."""
        if query.task not in TASKS:
            raise InvalidQuery("task must be classification or regression")
        _check_range(query.start_ns, query.end_ns, query.step_s, allow_whole=True)
        if not self._store.model_versions(query.model):  # not `self.model`: it also scans features
            raise NotFound(f"model {query.model!r} not found")
        if query.task == REGRESSION:
            self._check_regression(query)
        windows = self._store.quality_counts(query)
        if query.positive_label is not None and query.task == CLASSIFICATION:
            self._check_positive_label(query, windows)
        if not query.step_s:  # one window: it starts where the range does, not at 0
            windows = [dataclasses.replace(w, start_ns=query.start_ns) for w in windows]
        return QualityReport(
            query.model, query.version, query.task, query.step_s, query.positive_label,
            tuple(quality.window_quality(w, query.task, query.positive_label) for w in windows),
        )

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
    check_time_range(start_ns, end_ns)
    if step_s < 0 or (step_s == 0 and not allow_whole):
        raise InvalidQuery("step must be positive")
    if step_s and (end_ns - start_ns) // (step_s * 10**9) > MAX_SERIES_POINTS:
        raise InvalidQuery(f"step must give at most {MAX_SERIES_POINTS} points")


def _point(p: PredictionPoint) -> MetricsPoint:
    """The step's metrics with its distributions as bins: confidence in tenths of [0, 1],
    values in tenths of the queried range's [min, max] (width 1 when all are equal)."""
    low = p.value_min or 0.0
    width = ((p.value_max or 0.0) - low) / 10 or 1.0
    labelled = sum(n for _, n in p.labels)
    return MetricsPoint(
        p.start_ns, p.version, p.count, p.errors, p.errors / p.count if p.count else None,
        p.p50_ms, p.p95_ms, p.p99_ms,
        confidence=tuple(Bin(b / 10, (b + 1) / 10, n) for b, n in p.confidence_buckets),
        prediction_values=tuple(Bin(low + b * width, low + (b + 1) * width, n) for b, n in p.value_buckets),
        prediction_labels=tuple(LabelShare(label, n, n / labelled) for label, n in p.labels),
    )

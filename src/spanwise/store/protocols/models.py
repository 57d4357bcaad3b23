"""The storage seam for ML models: inventory, quality, labels, drift baselines, model signals,
labels waiting for their prediction and the score mass performance estimation reads (the
analytics inputs are in `model_analytics`).
Frozen values and Protocols whose docstrings state the contract; implemented in ClickHouse
SQL by `store.clickhouse` for every transport.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, runtime_checkable

import pyarrow as pa

from spanwise.store.profiles import Baseline, Profile
from spanwise.store.protocols.telemetry import ModelUse, TraceSummary


@dataclass(frozen=True)
class ModelVersionInfo:
    """One version of a model as seen in `predictions` (times in ns; `predictions`
    counts rows received, so a redelivered span counts twice)."""

    model: str
    version: str
    first_seen_ns: int
    last_seen_ns: int
    predictions: int
    services: tuple[str, ...]


@dataclass(frozen=True)
class FeatureInfo:
    """A feature a model received: `kind` is "numeric" (with its range) or "categorical"
    (with its number of distinct values)."""

    model: str
    name: str
    kind: str
    minimum: float | None = None
    maximum: float | None = None
    distinct: int | None = None


@dataclass(frozen=True)
class PredictionPoint:
    """Operational metrics of one model version in one time step. Buckets pair a bucket
    index with its count: confidence buckets are tenths of [0, 1] (index 9 includes 1);
    value buckets are tenths of [`value_min`, `value_max`] of the whole queried range, so
    steps are comparable. `labels` are (predicted label, count), most frequent first."""

    start_ns: int
    version: str
    count: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    confidence_buckets: tuple[tuple[int, int], ...] = ()
    value_buckets: tuple[tuple[int, int], ...] = ()
    value_min: float | None = None
    value_max: float | None = None
    labels: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class SpanLink:
    """A span link of a prediction's span: where its inputs came from."""

    trace_id: str
    span_id: str
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class Prediction:
    """One prediction: its span, output, inputs, ground-truth label and lineage. The label
    is the latest feedback, else the `ml.label` its span carried; `label_source` says
    which ("feedback" or "span"; None without a label). `lineage` is empty when sampling
    did not keep the span."""

    prediction_id: str
    trace_id: str
    span_id: str
    model: str
    version: str
    service: str
    timestamp_ns: int
    duration_ms: float
    status: str
    prediction_value: float | None
    prediction_label: str | None
    confidence: float | None
    label: str | None
    label_value: float | None
    label_timestamp_ns: int | None
    label_source: str | None
    lineage: tuple[SpanLink, ...]
    features: Mapping[str, float]
    string_features: Mapping[str, str]
    scores: Mapping[str, float]
    attributions: Mapping[str, float]


@dataclass(frozen=True)
class LinkedPrediction:
    """A prediction whose span links into a trace, with the linked spans of that trace."""

    prediction_id: str
    model: str
    version: str
    trace_id: str
    span_id: str
    timestamp_ns: int
    linked_span_ids: tuple[str, ...]


@dataclass(frozen=True)
class QualityQuery:
    """Which labelled predictions to score: `step_s` = 0 makes the whole range one window;
    `positive_label` enables the score-based binary metrics (ROC AUC, log loss, calibration)."""

    model: str
    version: str | None
    start_ns: int
    end_ns: int
    step_s: int
    task: str
    positive_label: str | None = None


@dataclass(frozen=True)
class QualityCounts:
    """Aggregates of one (window, version), counted in the store; `analyze.quality` turns
    them into metrics. `confusion` holds (actual, predicted, count); `calibration` holds
    (bin, count, sum of scores, positives) for the 10 uniform bins of scikit-learn's
    `calibration_curve`; `regression` holds n, sum |e|, sum e^2, sum |e|/max(|y|, eps) and
    the total sum of squares of the labels. `scored` labelled predictions carry a score
    (binary: of the positive class) or the true class's probability (multiclass); for
    them `log_loss_sum` sums the log loss and (binary) `roc_auc` is exact."""

    start_ns: int
    version: str
    total: int
    labelled: int
    confusion: tuple[tuple[str, str, int], ...] = ()
    scored: int = 0
    roc_auc: float | None = None
    log_loss_sum: float | None = None
    calibration: tuple[tuple[int, int, float, int], ...] = ()
    regression: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class ModelReader(Protocol):
    """Optional capability: model analytics over `predictions` (100% of prediction spans,
    whatever sampling kept) joined at query time with `feedback`. Every method returns a
    small aggregate (DESIGN.md: no query hands more than 100k rows to Python). The
    effective label of a prediction is its latest feedback label, else the `ml.label`
    (GroundTruth) it carried. Thread-safe."""

    def model_versions(self, model: str | None = None) -> list[ModelVersionInfo]:
        """Every (model, version) seen, sorted, optionally of one model."""
        ...

    def model_features(self, model: str, version: str | None = None) -> list[FeatureInfo]:
        """Features a model (version) received, numeric then categorical, sorted by name."""
        ...

    def prediction_series(
        self, model: str, version: str | None, start_ns: int, end_ns: int, step_s: int
    ) -> list[PredictionPoint]:
        """Per-step operational metrics per version, oldest step first; empty steps absent."""
        ...

    def prediction(self, prediction_id: str) -> Prediction | None:
        """One prediction by id (any one stored row of a redelivered one), with its label
        and lineage; None when no prediction has the id."""
        ...

    def linked_predictions(self, trace_id: str, start_ns: int, end_ns: int, limit: int) -> list[LinkedPrediction]:
        """Predictions (stored spans in the range) with a span link into `trace_id`, oldest
        first, each span once, at most `limit`."""
        ...

    def quality_counts(self, query: QualityQuery) -> list[QualityCounts]:
        """Labelled-prediction aggregates per window and version, oldest window first."""
        ...


@runtime_checkable
class FeedbackWriter(Protocol):
    """Optional capability: ground truth arriving after the prediction, stored in its own
    table keyed by prediction id (latest `Timestamp` wins), joined at query time."""

    def known_predictions(self, prediction_ids: list[str]) -> set[str]:
        """The ids among `prediction_ids` that exist in `predictions`."""
        ...

    def prediction_ids_of_spans(self, spans: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """(trace id, span id) -> prediction id, for the spans that are predictions."""
        ...

    def labelled(self, prediction_ids: list[str]) -> set[str]:
        """The ids among `prediction_ids` that already have feedback."""
        ...

    def write_feedback(self, rows: pa.Table) -> None:
        """Insert rows (PredictionId, Label, LabelValue, Timestamp ns, ReceivedAt ns); return once committed."""
        ...


@runtime_checkable
class DriftReader(Protocol):
    """Optional capability: distribution profiles of a model's features, outputs and labels
    over a time window (`store.profiles`), from `predictions` and `feedback`. Returns bin
    counts, category counts and samples of at most 10k values per feature, never rows."""

    def window_profile(
        self, model: str, version: str | None, start_ns: int, end_ns: int,
        edges: dict[str, tuple[float, ...]] | None = None, bins: int = 10,
    ) -> Profile:
        """Profile of [start, end). With `edges` (a reference's inner bin edges per numeric
        feature), numeric values are binned with them; without, the window's own quantile
        edges (`bins` bins) are computed first."""
        ...


@runtime_checkable
class BaselineStore(Protocol):
    """Optional capability: reference baselines per model version, kept in `model_baselines`.
    Saving a (model, version, name) again replaces it."""

    def save_baseline(self, baseline: Baseline) -> None:
        """Store a baseline; return once committed."""
        ...

    def baselines(self, model: str, with_profiles: bool = False) -> list[Baseline]:
        """The model's baselines (latest per version and name), sorted; profiles only when asked."""
        ...


@runtime_checkable
class ModelSignalStore(Protocol):
    """Optional capability: model signals stored as time series (spanwise.analyze.model_signals)."""

    def write_signals(self, rows: pa.Table) -> None:
        """Append signal rows (schema `store.clickhouse.signals.SIGNAL_SCHEMA`)."""
        ...

    def read_signals(
        self, model: str, start_ns: int, end_ns: int, signal: str | None = None, feature: str | None = None,
        limit: int = 10_000,
    ) -> pa.Table:
        """Signal rows of a model whose window ended in [start, end], oldest first."""
        ...

    def latest_signals(self, since_ns: int | None, limit: int) -> pa.Table:
        """The latest value and flag per (model, version, signal, feature) of windows ending
        at or after `since_ns` (None: all), most recent first, at most `limit` series, with
        a `series` column counting every matching one (what `/metrics` exposes)."""
        ...


@dataclass(frozen=True)
class ScoreQuery:
    """Whose scores to summarize: windows of `step_s` (0: the whole range as one window)."""

    model: str
    version: str | None
    start_ns: int
    end_ns: int
    step_s: int
    positive_label: str
    #: Two classes: a prediction of the other class with confidence c gives the positive
    #: class 1 - c. Otherwise only the positive class's own score counts.
    binary: bool = True


@dataclass(frozen=True)
class ScoreBucket:
    """Predictions of one (window, version, predicted class, score bucket): how many, and
    the sum of their positive-class probabilities (`mass`). `bucket` is the score rounded
    to 0.01; `predicted_positive` says whether they predicted the positive class."""

    start_ns: int
    version: str
    predicted_positive: bool
    bucket: float
    count: int
    mass: float


@runtime_checkable
class ScoreReader(Protocol):
    """Optional capability: the positive-class probability mass of every prediction,
    labelled or not, for confidence-based performance estimation. Failed calls (status
    Error) are left out; a prediction without a usable score or confidence too."""

    def score_buckets(self, query: ScoreQuery) -> list[ScoreBucket]:
        """Buckets ordered by window, version and bucket."""
        ...

    def predicted_labels(self, model: str, start_ns: int, end_ns: int, limit: int) -> list[str]:
        """Distinct predicted labels of `model` in the range, sorted (at most `limit`)."""
        ...


@dataclass(frozen=True)
class PendingFeedbackStats:
    """Labels waiting for their prediction: how many, and when the oldest arrived."""

    count: int
    oldest_received_ns: int | None


@runtime_checkable
class PendingFeedbackStore(Protocol):
    """Optional capability: labels whose prediction is not stored yet wait here (rows as
    `FeedbackWriter.write_feedback` takes, plus TraceId and SpanId for labels that name
    their prediction by span) until the resolver moves them to feedback or they expire."""

    def latest_labels(self, prediction_ids: list[str]) -> dict[str, tuple[str, int]]:
        """Prediction id -> its winning (label, timestamp ns) for the ids that have feedback."""
        ...

    def write_pending_feedback(self, rows: pa.Table) -> None: ...

    def pending_feedback_projects(self) -> list[str]:
        """Projects with labels waiting (in the current context: every project for the platform)."""
        ...

    def pending_feedback(self, limit: int) -> pa.Table:
        """The oldest waiting labels, at most `limit`: PredictionId, TraceId, SpanId, Label,
        Timestamp and ReceivedAt (both Unix ns, int64)."""
        ...

    def forget_pending_feedback(self, rows: pa.Table) -> None:
        """Remove these waiting labels (rows as `pending_feedback` returned them)."""
        ...

    def expire_pending_feedback(self, received_before_ns: int) -> int:
        """Remove labels that arrived before the time; returns how many."""
        ...

    def pending_feedback_stats(self) -> PendingFeedbackStats: ...

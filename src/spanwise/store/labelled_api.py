"""Optional store capabilities over labelled predictions: concept-drift counts, export,
labels waiting for their prediction, and the score mass performance estimation reads.

Kept beside `store.api` (same conventions: frozen values, Protocols whose docstrings state
the contract); implemented in ClickHouse SQL by `store.sql_labelled`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import pyarrow as pa


@dataclass(frozen=True)
class ConceptWindows:
    """The current window [start_ns, end_ns] and the reference [reference_start_ns,
    reference_end_ns) of one model (version); a prediction in both counts as current.
    `task` is "classification" (an error is label != predicted label) or "regression"
    (the error is |label - predicted value|). Segments are (StringFeatures key, value)
    pairs with at least `min_count` labelled predictions in each window."""

    model: str
    version: str | None
    start_ns: int
    end_ns: int
    reference_start_ns: int
    reference_end_ns: int
    task: str
    min_count: int = 30


@dataclass(frozen=True)
class ErrorShiftCounts:
    """Error counts of one segment (`feature` = "" and `value` = "": all labelled
    predictions) in the reference and current windows. Classification: `errors_*` count
    wrong predictions. Regression: `errors_*` are unused; `error_sum_*` sum |e|, and
    `u_current` is the Mann-Whitney U of the current errors against the reference ones
    (ties count one half), `tie_term` the sum of t^3 - t over groups of tied errors."""

    feature: str
    value: str
    n_reference: int
    n_current: int
    errors_reference: int = 0
    errors_current: int = 0
    error_sum_reference: float = 0.0
    error_sum_current: float = 0.0
    u_current: float = 0.0
    tie_term: float = 0.0


@runtime_checkable
class ConceptDriftReader(Protocol):
    """Optional capability: error counts of labelled predictions per window and segment,
    counted in the store (one row per segment reaches Python). The label is the latest
    feedback, else the span's `ml.label`; predictions are deduplicated by id. Thread-safe."""

    def error_shift_counts(self, windows: ConceptWindows) -> list[ErrorShiftCounts]:
        """The overall row first (always present, possibly with zero counts), then the
        segments meeting `min_count` in both windows, sorted by feature and value; at most
        10,000 segments."""
        ...


@runtime_checkable
class PredictionExporter(Protocol):
    """Optional capability: prediction rows with their labels, for export. Thread-safe."""

    def export_predictions(
        self, model: str, version: str | None, start_ns: int, end_ns: int, limit: int
    ) -> pa.Table:
        """At most `limit` predictions in [start_ns, end_ns], oldest first, deduplicated by
        id. Columns: TimestampNs, PredictionId, TraceId, SpanId, ServiceName, ModelName,
        ModelVersion, Features, StringFeatures, PredictionValue, PredictionLabel,
        Confidence, Scores, Attributions, Label (latest feedback, else `ml.label`; null when none),
        LabelTimestampNs (feedback only), LabelSource ("feedback", "span" or null)."""
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
    their prediction by span) until the resolver moves them to feedback or they expire.
    Reads, forgetting and expiry are the current project's (every project's for the
    platform's own work)."""

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

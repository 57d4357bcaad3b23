"""Optional store capabilities over labelled predictions: concept-drift counts and export.

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

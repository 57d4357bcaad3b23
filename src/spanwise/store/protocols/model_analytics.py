"""The storage seam for model analytics: data-quality counts, attribution statistics and
version-comparison inputs over windows (`WindowQuery`), concept-drift error counts and the
prediction export. Frozen values and Protocols whose docstrings state the contract;
implemented in ClickHouse SQL by `store.clickhouse`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, runtime_checkable

import pyarrow as pa


@dataclass(frozen=True)
class WindowQuery:
    """Windows of `step_s` seconds from `start_ns` (0: the whole range is one window),
    each compared with a reference: the fixed range `reference_start_ns`..`reference_end_ns`
    when both are set, else the preceding window of equal length."""

    model: str
    version: str | None
    start_ns: int
    end_ns: int
    step_s: int = 0
    reference_start_ns: int | None = None
    reference_end_ns: int | None = None

    def width_ns(self) -> int:
        return self.step_s * 10**9 if self.step_s > 0 else max(self.end_ns - self.start_ns, 1)

    def windows(self) -> int:
        return max(1, -(-(self.end_ns - self.start_ns) // self.width_ns()))

    def window_range(self, window: int) -> tuple[int, int]:
        """The first and last ns of window `window` (>= 0; the last window ends at `end_ns`)."""
        start = self.start_ns + window * self.width_ns()
        return start, min(start + self.width_ns() - 1, self.end_ns)


@dataclass(frozen=True)
class FeaturePresence:
    """How many predictions of window `window` carried feature `name`: at all, as a number,
    as a string (a prediction may carry both)."""

    window: int
    name: str
    present: int
    numeric: int
    strings: int


@dataclass(frozen=True)
class FeatureRange:
    """The numeric values of feature `name` in window `window` (>= 0): their min and max,
    the reference's (None when the reference has no numeric value of it), and how many
    fall outside the reference's [min, max]."""

    window: int
    name: str
    minimum: float
    maximum: float
    reference_minimum: float | None
    reference_maximum: float | None
    outside: int


@dataclass(frozen=True)
class FeatureCategories:
    """The string values of feature `name` in window `window` (>= 0): how many distinct
    ones, how many of those (and of the predictions) the reference never saw, and up to 20
    of the unseen values, sorted."""

    window: int
    name: str
    categories: int
    new_category_count: int
    new_category_rows: int
    new_categories: tuple[str, ...]


@dataclass(frozen=True)
class FeatureQualityCounts:
    """What data quality counts per window of a `WindowQuery` (window -1: the reference):
    predictions per window (windows without any absent), and per (window, feature) its
    presence, numeric range and categories, ordered by window and name."""

    predictions: Mapping[int, int]
    presence: tuple[FeaturePresence, ...]
    ranges: tuple[FeatureRange, ...]
    categories: tuple[FeatureCategories, ...]


@dataclass(frozen=True)
class AttributionStats:
    """The attribution values of feature `name` in window `window`: how many, mean |value|, mean."""

    window: int
    name: str
    count: int
    mean_abs: float
    mean: float


@dataclass(frozen=True)
class VersionTotals:
    """One version's predictions in a range, its failed calls (status Error) and its
    approximate latency quantiles in ns (None without predictions)."""

    version: str
    predictions: int
    errors: int
    p50_ns: float | None
    p95_ns: float | None
    p99_ns: float | None


@dataclass(frozen=True)
class PredictedLabelCount:
    """How often one version predicted `label`."""

    version: str
    label: str
    count: int


#: The columns of `VersionComparisonInputs.samples`: Duration in ns, the outputs null where unset.
VERSION_SAMPLES_SCHEMA = pa.schema([
    pa.field("version", pa.string(), nullable=False), pa.field("Duration", pa.uint64(), nullable=False),
    pa.field("PredictionValue", pa.float64()), pa.field("Confidence", pa.float64()),
])


@dataclass(frozen=True)
class VersionComparisonInputs:
    """What comparing two versions reads: their totals (versions without predictions
    absent), their predicted labels (most frequent first, at most 1,000 per version) and
    `samples` (`VERSION_SAMPLES_SCHEMA`, at most 10,000 predictions per version)."""

    totals: tuple[VersionTotals, ...]
    labels: tuple[PredictedLabelCount, ...]
    samples: pa.Table


@runtime_checkable
class ModelAnalyticsReader(Protocol):
    """Optional capability: data quality, attribution and version-comparison aggregates
    over `predictions` (raw rows, like the operational metrics), per window of a
    `WindowQuery` (window -1 is the reference). Small results only; samples are bounded and
    drawn in the store by a hash of the prediction id. Thread-safe."""

    def feature_quality(self, query: WindowQuery) -> FeatureQualityCounts:
        """Presence, ranges and categories of every feature per window; ranges and
        categories compare each window with its reference in the store."""
        ...

    def attribution_stats(self, query: WindowQuery) -> list[AttributionStats]:
        """Attribution aggregates per window and feature, ordered by window and name."""
        ...

    def attribution_samples(self, query: WindowQuery, groups: int) -> dict[tuple[int, str], Any]:
        """(w, name) -> numpy array of attribution values: at most 10,000 per group and
        100,000 in all (`groups` is how many (w, name) groups there are)."""
        ...

    def version_summary(self, model: str, versions: list[str], start_ns: int, end_ns: int) -> VersionComparisonInputs:
        """The comparison inputs of two versions in [start_ns, end_ns]."""
        ...


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

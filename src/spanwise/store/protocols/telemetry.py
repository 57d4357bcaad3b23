"""The storage seam for telemetry: what every store backend promises about spans, span
metrics, logs and OTLP metrics.

Spans travel as `pyarrow.Table`s shaped like `spanwise.core.spans.SPAN_SCHEMA`. A backend
is chosen by URL (`spanwise.store.open_store`); `tests/contract/` runs one suite against
every backend, written against these Protocols only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pyarrow as pa

from spanwise.store.profiles import Baseline, Profile


@dataclass(frozen=True)
class TraceQuery:
    """Find traces that have at least one span matching every given condition.

    `attributes` match a span attribute or a resource attribute with that exact value;
    the canonical AI keys (`ml.model.name`, `ml.model.version`, `ml.prediction.id`,
    `ml.prediction.label`) also match the typed AI columns, whatever name the sender
    used; `error=true` matches spans whose status is Error.
    """

    start_ns: int
    end_ns: int
    service: str | None = None
    operation: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    status: str | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    limit: int = 20


@dataclass(frozen=True)
class Operation:
    """A span name seen for a service, with its kind."""

    name: str
    span_kind: str


@dataclass(frozen=True)
class DependencyLink:
    """Calls from a span of `parent` service to a child span of `child` service."""

    parent: str
    child: str
    call_count: int
    error_count: int = 0
    p95_ns: float = 0.0


@dataclass(frozen=True)
class LatencyPoint:
    """Span count and duration percentiles (nanoseconds) of one time step."""

    start_ns: int
    count: int
    p50_ns: float
    p95_ns: float
    p99_ns: float
    error_count: int = 0


@dataclass(frozen=True)
class RedSummary:
    """Rate, errors and duration of one service, or of one operation of a service, over a
    window: the numbers of a service map node or a RED table row."""

    name: str
    count: int
    error_count: int
    p50_ns: float
    p95_ns: float
    p99_ns: float


@dataclass(frozen=True)
class LogQuery:
    """A log search: records timed in [start_ns, end_ns] (inclusive), optionally of one trace
    and one service (exact), at or above `min_severity`, whose body contains `text` (taken
    literally, ignoring case)."""

    start_ns: int
    end_ns: int
    trace_id: str = ""
    service: str = ""
    min_severity: int = 0
    text: str = ""
    limit: int = 500


@dataclass(frozen=True)
class ModelUse:
    """One model version a trace's prediction spans ran, and how many predictions."""

    name: str
    version: str
    predictions: int


@dataclass(frozen=True)
class TraceSummary:
    """One line of a trace search result, aggregated by the store (spans deduplicated).
    The root is the earliest span without a parent, else the earliest span."""

    trace_id: str
    root_service: str
    root_name: str
    start_ns: int
    duration_ns: int
    span_count: int
    error_count: int
    services: tuple[str, ...]
    models: tuple[ModelUse, ...]


@dataclass(frozen=True)
class StoreStats:
    """What is stored, for status pages and benchmarks."""

    spans: int
    predictions: int
    bytes_on_disk: int
    tables: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Histogram:
    """Observations of one series. `buckets` pairs a bucket's inclusive upper bound
    (ascending, `inf` last) with how many observations fell in it, above the next lower
    bound (not cumulative); bounds without observations are absent. `count` and `total`
    are the number and the sum of all observations."""

    buckets: tuple[tuple[float, int], ...] = ()
    count: int = 0
    total: float = 0.0


@dataclass(frozen=True)
class SpanMetrics:
    """Calls and duration (milliseconds) of one span series; `dimensions` are the
    configured extra attributes (key, value; empty when the span had none).
    `start_ns` is the step's start, None for totals."""

    service: str
    span_name: str
    span_kind: str
    status_code: str
    dimensions: tuple[tuple[str, str], ...]
    duration_ms: Histogram
    start_ns: int | None = None
    overflow: bool = False


@dataclass(frozen=True)
class ModelMetrics:
    """Predictions of one model version: latency (milliseconds) of every prediction,
    confidence of those that carry one. `latency_ms.count` is the prediction count."""

    model_name: str
    model_version: str
    latency_ms: Histogram
    confidence: Histogram
    start_ns: int | None = None
    overflow: bool = False


@dataclass(frozen=True)
class CustomMetricSeries:
    """One series of a configured custom metric (`spanwise.core.metrics.CustomMetric`):
    `labels` are (attribute key, value); a counter's value is `values.total`."""

    name: str
    labels: tuple[tuple[str, str], ...]
    values: Histogram
    start_ns: int | None = None
    overflow: bool = False


@dataclass(frozen=True)
class MetricTotals:
    """Every metric series, cumulative since the store began. A record with `overflow`
    set sums the series past the series limit (its identifying fields are empty)."""

    spans: list[SpanMetrics]
    models: list[ModelMetrics]
    custom: list[CustomMetricSeries]


class TraceWriter(Protocol):
    """Commits span batches.

    `write_spans` returns only once every span of the batch is committed to the store
    (acknowledged data is durable), or raises `StoreUnavailable` (retry later) or
    `StoreRejected` (the batch can never be stored) having committed some, all or none of
    it. A retry with the same non-empty `token` does not add again what the first attempt
    committed (the store's insert deduplication). Delivery is at least once otherwise:
    readers deduplicate by (TraceId, SpanId). Not thread-safe: one writer thread.
    """

    def write_spans(self, spans: pa.Table, token: str = "") -> None: ...


class TraceReader(Protocol):
    """Reads spans back. Thread-safe; every result is deduplicated by span id."""

    def get_traces(
        self, trace_ids: list[str], ai_fields: bool = True, offset: int = 0, limit: int | None = None
    ) -> pa.Table:
        """Spans of these traces (lower-case hex ids), without a time range, ordered by
        trace id, start time and span id. Per trace, the first `offset` spans are skipped
        and at most `limit` (None: all) are returned; the store does the cut, so a
        200,000-span trace costs a page, not the whole trace, in Python. Unknown ids are
        simply absent. With `ai_fields=False` only the OTLP columns (`DECODED_SCHEMA`)
        are read, which is cheaper."""
        ...

    def span_counts(self, trace_ids: list[str]) -> dict[str, int]:
        """Distinct spans per trace id; unknown ids are absent."""
        ...

    def trace_summaries(self, trace_ids: list[str]) -> list[TraceSummary]:
        """One summary per known trace id, in the order of `trace_ids`, computed by the
        store without handing spans to Python."""
        ...

    def find_trace_ids(self, query: TraceQuery) -> list[str]:
        """Ids of matching traces, newest (latest matching span) first, at most `limit`."""
        ...

    def services(self) -> list[str]:
        """Every service name seen, sorted."""
        ...

    def operations(self, service: str, span_kind: str | None = None) -> list[Operation]:
        """Span names seen for `service` (optionally of one kind), sorted by name."""
        ...

    def dependencies(self, start_ns: int, end_ns: int) -> list[DependencyLink]:
        """Parent -> child service edges from spans whose parent is in another service."""
        ...

    def red_summary(self, start_ns: int, end_ns: int, service: str | None = None) -> list[RedSummary]:
        """Span count, errors and p50/p95/p99 duration per service, or per operation of
        `service` when given, sorted by name. Not deduplicated (see `latency_series`)."""
        ...

    def latency_series(
        self, service: str, start_ns: int, end_ns: int, step_s: int, operation: str | None = None
    ) -> list[LatencyPoint]:
        """Per-step span count, error count and p50/p95/p99 duration of a service's spans (optionally one
        operation), oldest step first; steps without spans are absent. Aggregates are not
        deduplicated: a redelivered span (client retry, crash replay) counts twice."""
        ...

    def stats(self) -> StoreStats:
        """Row counts and bytes on disk."""
        ...


@runtime_checkable
class MetricsReader(Protocol):
    """Optional capability: span metrics computed from every span written, before any
    sampling decides what is stored, so they stay exact whatever share is kept.

    Like the other aggregates, they are not deduplicated: a span written twice
    (at-least-once delivery) counts twice. Series methods return one record per series
    and step (`step_s` a positive multiple of 60; steps start at multiples of it), oldest
    step first; steps without data are absent. Thread-safe.
    """

    def metric_totals(self, max_series: int | None = None, seen_since_ns: int | None = None) -> MetricTotals:
        """Every series, cumulative since the store began (what `/metrics` exposes).
        With `seen_since_ns`, only series with spans in a minute at or after it; with
        `max_series`, at most that many series per metric (most observations first, per
        custom metric, per model version for models) plus one `overflow` record per
        metric summing the rest, so totals still add up."""
        ...

    def span_metrics(self, start_ns: int, end_ns: int, step_s: int, service: str | None = None) -> list[SpanMetrics]:
        """Per-step span series of minutes in [start_ns, end_ns], optionally of one service."""
        ...

    def model_metrics(self, start_ns: int, end_ns: int, step_s: int, model: str | None = None) -> list[ModelMetrics]:
        """Per-step model series of minutes in [start_ns, end_ns], optionally of one model."""
        ...

    def custom_metrics(self, start_ns: int, end_ns: int, step_s: int, name: str | None = None) -> list[CustomMetricSeries]:
        """Per-step custom-metric series of minutes in [start_ns, end_ns], optionally of one metric."""
        ...


class TraceStore(TraceWriter, TraceReader, Protocol):
    """A backend: writer and reader over one store, with a lifecycle.

    `start()` creates the schema if needed; `shutdown()` releases the store. Both are
    safe to call twice.
    """

    def start(self) -> None: ...

    def shutdown(self) -> None: ...


@runtime_checkable
class TailSamplingStore(Protocol):
    """Optional capability: holding spans that wait for a tail-sampling decision
    (spanwise.process.tail_sampling). Reads include pending spans once `tail_sampling`
    is set. Decisions are made per project."""

    tail_sampling: bool

    def pending_trace_summaries(
        self, quiet_before_ns: int, max_pending: int, attribute_patterns: dict[str, str],
        feature_ranges: dict[tuple[str, str], tuple[float, float]] | None = None,
    ) -> pa.Table:
        """One row per pending trace that is ready for a decision: first seen (ingest time)
        before `quiet_before_ns`, or among the oldest beyond `max_pending` traces.
        Columns: TraceId, FirstSeen (ns), RootService, HasError (bool), MaxDurationNs,
        MinConfidence (nullable), `Match_<key>` (bool) per attribute pattern and, with
        `feature_ranges` ((model, feature) -> (min, max)), HasOutlier: a prediction of the
        trace has a numeric feature outside its range."""
        ...

    def pending_trace_projects(self) -> list[str]:
        """Every project with spans waiting for a decision (read across projects)."""
        ...

    def settle_traces(self, trace_ids: list[str], weights: list[float], remember_s: float) -> int:
        """Move the pending spans of `trace_ids` into `otel_traces` with their head weight
        times `weights[i]`, drop those with weight 0, remember the decisions for
        `remember_s` and apply remembered decisions to late spans. Returns spans moved.
        Summaries, decisions and settling are the current project's (a trace id names a
        trace only within its project); settling for every project at once is refused."""
        ...


@runtime_checkable
class LogStore(Protocol):
    """Where OTLP log records live (`otel_logs`), next to the spans they correlate with."""

    def write_logs(self, logs: pa.Table) -> None:
        """Insert decoded records (`LOG_SCHEMA`); return once they are durable."""
        ...

    def search_logs(self, query: LogQuery) -> pa.Table:
        """Matching records: a trace's in time order, otherwise newest first; at most `limit`."""
        ...


@runtime_checkable
class OtlpMetricStore(Protocol):
    """Where OTLP metric points live (`otel_metrics_gauge`, `_sum`, `_histogram`,
    `_exponential_histogram`, `_summary`)."""

    def write_metric_points(self, points: dict[str, pa.Table]) -> None:
        """Insert decoded points per kind (`POINT_SCHEMAS`); return once durable."""
        ...

    def list_metrics(self, start_ns: int, end_ns: int) -> pa.Table:
        """One row per metric name and kind seen in the window: unit, description, services, points."""
        ...

    def metric_series(
        self, kind: str, name: str, service: str, start_ns: int, end_ns: int, step_s: int,
        group_by: tuple[str, ...] = (), where: tuple[tuple[str, str], ...] = (),
    ) -> pa.Table:
        """Per-step values of one metric, oldest first: gauges avg/min/max/last, sums their
        increase, histograms their count and sum increase, exponential histograms the
        increase of count, sum, `zero_count` and of each side's buckets (`positive_indexes`
        with `positive_counts`, `negative_...`) at the lowest `scale` of the points read,
        summaries the increase of count and sum, and the reported `quantiles` with their
        `quantile_values` (each series' latest in the step, the highest). With `group_by`
        (point attribute keys) one row per step and group, the group's values in columns g0, g1...; `where`
        keeps points whose attributes equal the given values. Column `t` is the step's start
        (Unix seconds); `service` "" means every service. At most `MAX_SERIES_ROWS` + 1 rows."""
        ...

    def metric_window(
        self, kind: str, name: str, service: str, start_ns: int, end_ns: int, anchor_ns: int,
        group_by: tuple[str, ...] = (), where: tuple[tuple[str, str], ...] = (),
    ) -> pa.Table:
        """One row per group of one metric's points in [start, end] (alert rules read
        this): group values in g0, g1... (`group_by` and `where` keys are point
        attributes, else resource attributes), `points`, and by kind: gauges `total`,
        `lowest`, `highest`, `last` (the mean of each series' latest value); sums
        `increase` (cumulative points since the series' last point at or after
        `anchor_ns`, a reset counting from zero), `value` (the series' latest values, or
        a delta sum's changes, added) and `monotonic`; histograms one row per bucket
        layout `bounds` with the increase of `count`, `sum` and `buckets`; exponential
        histograms and summaries the columns of their `metric_series` rows over the
        window (summaries: each series' latest point in it). At most
        `MAX_WINDOW_GROUPS` + 1 rows."""
        ...

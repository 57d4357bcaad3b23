"""The storage seam: what every trace store backend promises.

Spans travel as `pyarrow.Table`s shaped like `spanwise.model.spans.SPAN_SCHEMA`. A backend
is chosen by URL (`spanwise.store.open_store`); `tests/contract/` runs one suite against
every backend, written against these Protocols only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pyarrow as pa


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


@dataclass(frozen=True)
class LatencyPoint:
    """Span count and duration percentiles (nanoseconds) of one time step."""

    start_ns: int
    count: int
    p50_ns: float
    p95_ns: float
    p99_ns: float


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


@dataclass(frozen=True)
class ModelMetrics:
    """Predictions of one model version: latency (milliseconds) of every prediction,
    confidence of those that carry one. `latency_ms.count` is the prediction count."""

    model_name: str
    model_version: str
    latency_ms: Histogram
    confidence: Histogram
    start_ns: int | None = None


@dataclass(frozen=True)
class CustomMetricSeries:
    """One series of a configured custom metric (`spanwise.model.metrics.CustomMetric`):
    `labels` are (attribute key, value); a counter's value is `values.total`."""

    name: str
    labels: tuple[tuple[str, str], ...]
    values: Histogram
    start_ns: int | None = None


@dataclass(frozen=True)
class MetricTotals:
    """Every metric series, cumulative since the store began."""

    spans: list[SpanMetrics]
    models: list[ModelMetrics]
    custom: list[CustomMetricSeries]


class TraceWriter(Protocol):
    """Commits span batches.

    `write_spans` returns only once every span of the batch is committed to the store
    (acknowledged data is durable), or raises `StoreUnavailable` having committed some,
    all or none of them. Delivery is at least once: the same span may be written twice,
    and readers deduplicate by (TraceId, SpanId). Not thread-safe: one writer thread.
    """

    def write_spans(self, spans: pa.Table) -> None: ...


class TraceReader(Protocol):
    """Reads spans back. Thread-safe; every result is deduplicated by span id."""

    def get_traces(self, trace_ids: list[str], ai_fields: bool = True) -> pa.Table:
        """All spans of these traces (lower-case hex ids), without a time range.
        Unknown ids are simply absent from the result. With `ai_fields=False` only the
        OTLP columns (`DECODED_SCHEMA`) are read, which is cheaper."""
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

    def latency_series(
        self, service: str, start_ns: int, end_ns: int, step_s: int, operation: str | None = None
    ) -> list[LatencyPoint]:
        """Per-step span count and p50/p95/p99 duration of a service's spans (optionally one
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

    def metric_totals(self) -> MetricTotals:
        """Every series, cumulative since the store began (what `/metrics` exposes)."""
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
    is set."""

    tail_sampling: bool

    def pending_trace_summaries(
        self, quiet_before_ns: int, max_pending: int, attribute_patterns: dict[str, str]
    ) -> pa.Table:
        """One row per pending trace that is ready for a decision: first seen (ingest time)
        before `quiet_before_ns`, or among the oldest beyond `max_pending` traces.
        Columns: TraceId, FirstSeen (ns), RootService, HasError (bool), MaxDurationNs,
        MinConfidence (nullable), and `Match_<key>` (bool) per attribute pattern."""
        ...

    def settle_traces(self, trace_ids: list[str], weights: list[float], remember_s: float) -> int:
        """Move the pending spans of `trace_ids` into `otel_traces` with their head weight
        times `weights[i]`, drop those with weight 0, remember the decisions for
        `remember_s` and apply remembered decisions to late spans. Returns spans moved."""
        ...

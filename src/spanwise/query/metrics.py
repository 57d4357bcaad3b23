"""Span metrics as Prometheus metric families, whatever the wire format.

Span metrics are named and labelled like the OpenTelemetry Collector's spanmetrics
connector seen through Prometheus (`traces_span_metrics_calls_total`,
`traces_span_metrics_duration_milliseconds`; `service_name`, `span_name`,
`span_kind="SPAN_KIND_SERVER"`, `status_code="STATUS_CODE_ERROR"`), so dashboards and
alerts written for the connector work unchanged. Model families and configured custom
metrics follow. Values are cumulative since the store began.

Cardinality is bounded as the connector bounds it: past `max_series` series a metric's
remaining series are summed into one series labelled only `otel_metric_overflow="true"`
(the store keeps the busiest, so which series overflow can change between scrapes), and
series without spans in the last `stale_after_s` are left out, as the Collector's
Prometheus exporter expires them.

Stored model signals (drift per feature, data quality, realized and estimated quality,
label coverage; spanwise.analyze.model_signals) are gauges holding each series' latest value,
so Prometheus and Grafana users can alert on them with their own stack. They are bounded
differently, since gauges cannot be summed into an overflow series: only windows that ended
in the last `stale_after_s`, and the `max_series` most recently computed series; how many
were left out is itself a gauge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

from spanwise.core.metrics import (
    CONFIDENCE_BUCKETS,
    COUNTER,
    DURATION_BUCKETS_MS,
    CustomMetric,
    MetricsSpec,
    label_name,
)
from spanwise.store.protocols import CustomMetricSeries, Histogram, MetricsReader, ModelMetrics, ModelSignalStore, SpanMetrics

Labels = tuple[tuple[str, str], ...]

SPAN_CALLS = "traces_span_metrics_calls_total"
SPAN_DURATION = "traces_span_metrics_duration_milliseconds"
MODEL_PREDICTIONS = "spanwise_model_predictions_total"
MODEL_LATENCY = "spanwise_model_latency_milliseconds"
MODEL_CONFIDENCE = "spanwise_model_confidence"
MODEL_SIGNAL = "spanwise_model_signal"
MODEL_SIGNAL_FLAGGED = "spanwise_model_signal_flagged"
MODEL_SIGNAL_DROPPED = "spanwise_model_signal_series_dropped"
_FROM_ALL = "counted from every span received, before sampling"
#: The labels of a metric's overflow series, as the spanmetrics connector names it.
OVERFLOW: Labels = (("otel_metric_overflow", "true"),)


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Labels
    value: float


@dataclass(frozen=True)
class MetricFamily:
    """One metric: `kind` is "counter", "histogram" or "gauge"; samples in exposition order."""

    name: str
    kind: str
    help: str
    samples: tuple[Sample, ...]


class SpanMetricsService:
    """What `/metrics` exposes, read from a `MetricsReader` with the configured spec."""

    def __init__(self, reader: MetricsReader, spec: MetricsSpec, signals: ModelSignalStore | None = None) -> None:
        self._reader = reader
        self._spec = spec
        self._signals = signals

    def families(self) -> list[MetricFamily]:
        stale_after_ns = int(self._spec.stale_after_s * 1e9)
        since = time.time_ns() - stale_after_ns if stale_after_ns else None
        totals = self._reader.metric_totals(self._spec.max_series, since)
        spans = _merged((_span_labels(s), s.duration_ms) for s in totals.spans)
        latency = _merged((_model_labels(m), m.latency_ms) for m in totals.models)
        confidence = _merged((_model_labels(m), m.confidence) for m in totals.models if m.confidence.count)
        families = [
            _counter(SPAN_CALLS, f"Spans, {_FROM_ALL}.", {k: h.count for k, h in spans.items()}),
            _histogram(SPAN_DURATION, f"Span duration in milliseconds, {_FROM_ALL}.", DURATION_BUCKETS_MS, spans),
            _counter(MODEL_PREDICTIONS, f"Predictions per model version, {_FROM_ALL}.",
                     {k: h.count for k, h in latency.items()}),
            _histogram(MODEL_LATENCY, f"Duration of prediction spans in milliseconds, {_FROM_ALL}.",
                       DURATION_BUCKETS_MS, latency),
            _histogram(MODEL_CONFIDENCE, f"Confidence of predictions that report one, {_FROM_ALL}.",
                       CONFIDENCE_BUCKETS, confidence),
        ]
        families += [_custom_family(metric, totals.custom) for metric in self._spec.custom]
        return families + self._signal_families(since)

    def _signal_families(self, since_ns: int | None) -> list[MetricFamily]:
        """The latest stored value of each recent model signal series, and its flag."""
        if self._signals is None:
            return []
        rows = self._signals.latest_signals(since_ns, self._spec.max_series).to_pylist()
        values: dict[Labels, float] = {}
        flags: dict[Labels, float] = {}
        for row in rows:
            labels = _signal_labels(row)
            flags[labels] = 1.0 if row["flagged"] else 0.0
            if row["value"] is not None:
                values[labels] = float(row["value"])
        dropped = max(0, int(rows[0]["series"]) - len(rows)) if rows else 0
        return [
            _gauge(MODEL_SIGNAL, "Latest stored model signal (drift effect size per feature, missing rate, "
                   "accuracy, mae, label coverage, estimated quality), per model version.", values),
            _gauge(MODEL_SIGNAL_FLAGGED, "1 when the latest stored model signal is flagged (drift or a "
                   "data-quality issue), else 0.", flags),
            _gauge(MODEL_SIGNAL_DROPPED, "Recent model signal series left out past metrics.max_series.",
                   {(): float(dropped)}),
        ]


def metrics_service(store: object, spec: MetricsSpec) -> SpanMetricsService | None:
    """The service when metrics are on and the store can read them, else None."""
    if not spec.enabled or not isinstance(store, MetricsReader):
        return None
    return SpanMetricsService(store, spec, store if isinstance(store, ModelSignalStore) else None)


def _span_labels(series: SpanMetrics) -> Labels:
    if series.overflow:
        return OVERFLOW
    fixed = (
        ("service_name", series.service),
        ("span_name", series.span_name),
        ("span_kind", "SPAN_KIND_" + series.span_kind.upper()),
        ("status_code", "STATUS_CODE_" + series.status_code.upper()),
    )
    return fixed + _attribute_labels(series.dimensions)


def _model_labels(series: ModelMetrics) -> Labels:
    if series.overflow:
        return OVERFLOW
    return (("model_name", series.model_name), ("model_version", series.model_version))


def _signal_labels(row: dict[str, object]) -> Labels:
    """Model labels as the model families name them; `feature` only for per-feature signals."""
    labels: Labels = (("model_name", str(row["model"])), ("model_version", str(row["version"])),
                      ("signal", str(row["signal"])))
    return labels + ((("feature", str(row["feature"])),) if row["feature"] else ())


def _attribute_labels(pairs: Labels) -> Labels:
    """Attribute keys as label names; an empty value is no label (Prometheus' rule)."""
    return tuple(sorted((label_name(key), value) for key, value in pairs if value))


def _merged(series: Iterable[tuple[Labels, Histogram]]) -> dict[Labels, Histogram]:
    """Series with the same labels added up (e.g. before and after a dimension was
    added, a span without the attribute has the same labels as one from before)."""
    merged: dict[Labels, Histogram] = {}
    for labels, histogram in series:
        if labels in merged:
            earlier = merged[labels]
            counts: dict[float, int] = dict(earlier.buckets)
            for bound, count in histogram.buckets:
                counts[bound] = counts.get(bound, 0) + count
            histogram = Histogram(tuple(sorted(counts.items())), earlier.count + histogram.count,
                                  earlier.total + histogram.total)
        merged[labels] = histogram
    return merged


def _counter(name: str, help_text: str, values: dict[Labels, float]) -> MetricFamily:
    return MetricFamily(name, "counter", help_text, tuple(Sample(name, k, v) for k, v in values.items()))


def _gauge(name: str, help_text: str, values: dict[Labels, float]) -> MetricFamily:
    return MetricFamily(name, "gauge", help_text, tuple(Sample(name, k, v) for k, v in values.items()))


def _histogram(name: str, help_text: str, bounds: tuple[float, ...], series: dict[Labels, Histogram]) -> MetricFamily:
    """Cumulative buckets at `bounds` and +Inf. A stored bound that is not among
    `bounds` (custom buckets changed since) counts at the next bound above it."""
    samples: list[Sample] = []
    for labels, histogram in series.items():
        for bound in (*bounds, float("inf")):
            cumulative = sum(count for le, count in histogram.buckets if le <= bound)
            if bound == float("inf"):
                cumulative = histogram.count
            samples.append(Sample(f"{name}_bucket", labels + (("le", _bound(bound)),), cumulative))
        samples.append(Sample(f"{name}_sum", labels, histogram.total))
        samples.append(Sample(f"{name}_count", labels, histogram.count))
    return MetricFamily(name, "histogram", help_text, tuple(samples))


def _custom_family(metric: CustomMetric, series: list[CustomMetricSeries]) -> MetricFamily:
    mine = _merged((OVERFLOW if s.overflow else _attribute_labels(s.labels), s.values)
                   for s in series if s.name == metric.name)
    help_text = metric.description or f"{metric.kind.capitalize()} over span attribute {metric.attribute}, {_FROM_ALL}."
    if metric.kind == COUNTER:
        return _counter(metric.exposed_name, help_text, {k: h.total for k, h in mine.items()})
    return _histogram(metric.exposed_name, help_text, metric.bounds, mine)


def _bound(value: float) -> str:
    """A bucket bound as Go's Prometheus client writes it (`2`, `0.1`, `+Inf`), so `le`
    values match those of the Collector's exporter."""
    value = float(value)
    if value == float("inf"):
        return "+Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)

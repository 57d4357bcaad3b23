"""DDL of the span metrics: per-minute series built from 100% of spans at insert.

Materialized views on the ingest table see every span before sampling decides what
`otel_traces` keeps, so counts stay exact however little is stored. Each histogram is
kept as one row per (series, minute, bucket): `Le` is the bucket's inclusive upper
bound (`inf` for +Inf), found with one vectorized `roundDown` per span (no per-row
arrays), and `SummingMergeTree` folds rows of later inserts together.

Every family has a per-minute table (dashboards) and a totals table without the minute
(`/metrics`, cumulative since the store began), fed by a view on the per-minute table,
so a scrape reads a few rows per series however long the store has run. Metric tables
have no TTL: counters must never go backwards (`/metrics` leaves out series not seen
recently instead, see `store.clickhouse.metrics`).

The views depend on configuration (dimensions, custom metrics), so they are all
recreated when the store starts: every view named `METRIC_VIEW_PREFIX...` is dropped and
the current ones created, before any span is inserted.
"""

from __future__ import annotations

from spanwise.core.metrics import (
    CONFIDENCE_BUCKETS,
    COUNTER,
    DURATION_BUCKETS_MS,
    CustomMetric,
    MetricsSpec,
)

METRIC_VIEW_PREFIX = "spanwise_metrics_mv_"
SPAN_METRICS, SPAN_TOTALS = "spanwise_span_metrics", "spanwise_span_metrics_totals"
MODEL_METRICS, MODEL_TOTALS = "spanwise_model_metrics", "spanwise_model_metrics_totals"
CUSTOM_METRICS, CUSTOM_TOTALS = "spanwise_custom_metrics", "spanwise_custom_metrics_totals"
#: Values of `spanwise_model_metrics.Histogram`.
MODEL_LATENCY, MODEL_CONFIDENCE = "latency_ms", "confidence"
_LABELS_MAP = "Map(LowCardinality(String), String)"

#: table -> (series key columns, count column, sum column)
SERIES_KEYS: dict[str, tuple[tuple[str, ...], str, str]] = {
    SPAN_METRICS: (("ServiceName", "SpanName", "SpanKind", "StatusCode", "Dimensions"), "Calls", "DurationMs"),
    MODEL_METRICS: (("ModelName", "ModelVersion", "Histogram"), "Count", "Sum"),
    CUSTOM_METRICS: (("Metric", "Labels"), "Count", "Sum"),
}
KEY_TYPES = {
    "ServiceName": "LowCardinality(String)", "SpanName": "LowCardinality(String)",
    "SpanKind": "LowCardinality(String)", "StatusCode": "LowCardinality(String)", "Dimensions": _LABELS_MAP,
    "ModelName": "LowCardinality(String)", "ModelVersion": "LowCardinality(String)",
    "Histogram": "LowCardinality(String)", "Metric": "LowCardinality(String)", "Labels": _LABELS_MAP,
}
TOTALS = {SPAN_METRICS: SPAN_TOTALS, MODEL_METRICS: MODEL_TOTALS, CUSTOM_METRICS: CUSTOM_TOTALS}


def literal(text: str) -> str:
    """A ClickHouse string literal (config values end up in view definitions)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _bucket(value: str, bounds: tuple[float, ...]) -> str:
    """The smallest bound >= value, or inf: `roundDown` on negated values finds it."""
    negated = ", ".join(f"{-float(b)!r}" for b in sorted(bounds, reverse=True))
    return f"-roundDown(-({value}), [-inf, {negated}])"


def _attribute(key: str) -> str:
    """An attribute's value: the span's, else the resource's (as the connector looks up dimensions)."""
    k = literal(key)
    return f"if(mapContains(SpanAttributes, {k}), SpanAttributes[{k}], ResourceAttributes[{k}])"


def _has_attribute(key: str) -> str:
    k = literal(key)
    return f"(mapContains(SpanAttributes, {k}) OR mapContains(ResourceAttributes, {k}))"


def _labels(keys: tuple[str, ...]) -> str:
    pairs = ", ".join(f"{literal(k)}, {_attribute(k)}" for k in keys)
    return f"CAST(map({pairs}), '{_LABELS_MAP}')"


def table_statements() -> list[str]:
    """The per-minute and totals tables of every family; idempotent."""
    created = []
    for table, (keys, count, total) in SERIES_KEYS.items():
        columns = ", ".join(f"{k} {KEY_TYPES[k]}" for k in keys)
        values = f"Le Float64, {count} UInt64, {total} Float64"
        created.append(
            f"""CREATE TABLE IF NOT EXISTS {table} (Minute DateTime CODEC(Delta, ZSTD(1)), {columns}, {values})
            ENGINE = SummingMergeTree(({count}, {total})) ORDER BY ({keys[0]}, Minute, {", ".join(keys[1:])}, Le)"""
        )
        created.append(
            f"""CREATE TABLE IF NOT EXISTS {TOTALS[table]} ({columns}, {values})
            ENGINE = SummingMergeTree(({count}, {total})) ORDER BY ({", ".join(keys)}, Le)"""
        )
    return created


def view_statements(spec: MetricsSpec, existing: list[str]) -> list[str]:
    """Drop the metric views of the previous start, then create the current ones
    (none when metrics are off)."""
    dropped = [f"DROP VIEW IF EXISTS `{name}`" for name in existing if name.startswith(METRIC_VIEW_PREFIX)]
    if not spec.enabled:
        return dropped
    views = {"spans": _span_view(spec.dimensions), **_model_views()}
    views.update({f"custom_{i}": _custom_view(metric) for i, metric in enumerate(spec.custom)})
    for table, (keys, count, total) in SERIES_KEYS.items():
        views[f"{table.removeprefix('spanwise_')}_totals"] = (
            TOTALS[table],
            f"SELECT Project, {', '.join(keys)}, Le, sum({count}) AS {count}, sum({total}) AS {total} "
            f"FROM {table} GROUP BY Project, {', '.join(keys)}, Le",
        )
    return dropped + [
        f"CREATE MATERIALIZED VIEW `{METRIC_VIEW_PREFIX}{name}` TO {target} AS {select}"
        for name, (target, select) in views.items()
    ]


def _span_view(dimensions: tuple[str, ...]) -> tuple[str, str]:
    duration_ms = "Duration / 1e6"
    return SPAN_METRICS, (
        f"SELECT Project, toStartOfMinute(Timestamp) AS Minute, ServiceName, SpanName, SpanKind, StatusCode, "
        f"{_labels(dimensions)} AS Dimensions, {_bucket(duration_ms, DURATION_BUCKETS_MS)} AS Le, "
        f"count() AS Calls, sum({duration_ms}) AS DurationMs FROM spanwise_ingest "
        "GROUP BY Project, Minute, ServiceName, SpanName, SpanKind, StatusCode, Dimensions, Le"
    )


def _model_views() -> dict[str, tuple[str, str]]:
    """Latency of every prediction; confidence of those that carry one."""
    observed = {
        MODEL_LATENCY: ("Duration / 1e6", DURATION_BUCKETS_MS, "IsPrediction"),
        MODEL_CONFIDENCE: ("assumeNotNull(Confidence)", CONFIDENCE_BUCKETS, "IsPrediction AND Confidence IS NOT NULL"),
    }
    return {
        f"model_{histogram}": (
            MODEL_METRICS,
            f"SELECT Project, toStartOfMinute(Timestamp) AS Minute, ModelName, ModelVersion, {literal(histogram)} AS Histogram, "
            f"{_bucket(value, bounds)} AS Le, count() AS Count, sum({value}) AS Sum FROM spanwise_ingest "
            f"WHERE {where} GROUP BY Project, Minute, ModelName, ModelVersion, Le",
        )
        for histogram, (value, bounds, where) in observed.items()
    }


def _custom_view(metric: CustomMetric) -> tuple[str, str]:
    """Counters put every span at `Le = inf` (their value is `Sum`); histograms bucket
    the attribute's numeric value."""
    number = f"toFloat64OrNull({_attribute(metric.attribute)})"
    counts_spans = metric.kind == COUNTER and not metric.sum_values
    value = "1" if counts_spans else f"assumeNotNull({number})"
    where = _has_attribute(metric.attribute) if counts_spans else f"{number} IS NOT NULL"
    le = "inf" if metric.kind == COUNTER else _bucket(value, metric.bounds)
    return CUSTOM_METRICS, (
        f"SELECT Project, toStartOfMinute(Timestamp) AS Minute, {literal(metric.name)} AS Metric, "
        f"{_labels(metric.labels)} AS Labels, {le} AS Le, count() AS Count, sum({value}) AS Sum "
        f"FROM spanwise_ingest WHERE {where} GROUP BY Project, Minute, Labels, Le"
    )

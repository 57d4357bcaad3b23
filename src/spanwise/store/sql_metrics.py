"""`MetricsReader` in ClickHouse SQL over the metric tables of `store.metrics_schema`.

Rows are (series, bucket) pairs; each query folds them into one row per series (and
step) with the buckets as two arrays, so Python sees a few rows per series. Sums group
explicitly rather than relying on `SummingMergeTree` merges having happened.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import pyarrow as pa

from spanwise.store import metrics_schema as ms
from spanwise.store.api import CustomMetricSeries, Histogram, MetricTotals, ModelMetrics, SpanMetrics

_STEP_START = "toInt64(toUnixTimestamp(toStartOfInterval(Minute, toIntervalSecond({step:UInt32}))))"
_IN_RANGE = (
    "Minute >= fromUnixTimestamp64Nano({lo:Int64}) AND Minute <= fromUnixTimestamp64Nano({hi:Int64}) "
    "AND ({only:String} = '' OR {column} = {only:String})"
)


class SqlMetricsReader(ABC):
    """The MetricsReader half of `SqlTraceStore`; subclasses provide `_query`."""

    @abstractmethod
    def _query(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        """Run a query with `{name:Type}` parameters and return its result."""

    def metric_totals(self) -> MetricTotals:
        return MetricTotals(
            spans=_span_records(self._series(ms.SPAN_METRICS)),
            models=_model_records(self._series(ms.MODEL_METRICS)),
            custom=_custom_records(self._series(ms.CUSTOM_METRICS)),
        )

    def span_metrics(self, start_ns: int, end_ns: int, step_s: int, service: str | None = None) -> list[SpanMetrics]:
        return _span_records(self._series(ms.SPAN_METRICS, (start_ns, end_ns, step_s, service), "ServiceName"))

    def model_metrics(self, start_ns: int, end_ns: int, step_s: int, model: str | None = None) -> list[ModelMetrics]:
        return _model_records(self._series(ms.MODEL_METRICS, (start_ns, end_ns, step_s, model), "ModelName"))

    def custom_metrics(
        self, start_ns: int, end_ns: int, step_s: int, name: str | None = None
    ) -> list[CustomMetricSeries]:
        return _custom_records(self._series(ms.CUSTOM_METRICS, (start_ns, end_ns, step_s, name), "Metric"))

    def _series(
        self, table: str, window: tuple[int, int, int, str | None] | None = None, filter_column: str = ""
    ) -> list[dict[str, Any]]:
        """One dict per series (and step when `window` = (start, end, step, only) is
        given): its key columns, `step_start` (s), `les`, `ns`, `observations`, `total`.
        Without a window: totals since the store began, from the totals table."""
        keys, count, total = ms.SERIES_KEYS[table]
        key_list = ", ".join(keys)
        if window is None:
            source, where, params = ms.TOTALS[table], "", {}
            step = "CAST(NULL, 'Nullable(Int64)')"
        else:
            start_ns, end_ns, step_s, only = window
            source, step = table, _STEP_START
            where = "WHERE " + _IN_RANGE.replace("{column}", filter_column)
            params = {"lo": start_ns, "hi": end_ns, "step": step_s, "only": only or ""}
        sql = f"""SELECT {key_list}, step_start, groupArray(Le) AS les, groupArray(n) AS ns,
                sum(n) AS observations, sum(s) AS total
            FROM (SELECT {key_list}, {step} AS step_start, Le, sum({count}) AS n, sum({total}) AS s
                  FROM {source} {where} GROUP BY {key_list}, step_start, Le)
            GROUP BY {key_list}, step_start ORDER BY step_start, {key_list}"""
        return self._query(sql, params).to_pylist()


def _histogram(row: dict[str, Any]) -> Histogram:
    return Histogram(tuple(sorted(zip(row["les"], row["ns"]))), int(row["observations"]), float(row["total"]))


def _start(row: dict[str, Any]) -> int | None:
    return None if row["step_start"] is None else int(row["step_start"]) * 10**9


def _pairs(entries: Any) -> tuple[tuple[str, str], ...]:
    """A ClickHouse Map as read through Arrow (a list of pairs), sorted by key."""
    items = entries.items() if isinstance(entries, dict) else entries
    return tuple(sorted((str(k), str(v)) for k, v in items))


def _span_records(rows: list[dict[str, Any]]) -> list[SpanMetrics]:
    return [
        SpanMetrics(r["ServiceName"], r["SpanName"], r["SpanKind"], r["StatusCode"], _pairs(r["Dimensions"]),
                    _histogram(r), _start(r))
        for r in rows
    ]


def _model_records(rows: list[dict[str, Any]]) -> list[ModelMetrics]:
    """Latency and confidence rows of one model version (and step) become one record."""
    found: dict[tuple[int | None, str, str], dict[str, Histogram]] = {}
    for r in rows:
        found.setdefault((_start(r), r["ModelName"], r["ModelVersion"]), {})[r["Histogram"]] = _histogram(r)
    return [
        ModelMetrics(name, version, parts.get(ms.MODEL_LATENCY, Histogram()), parts.get(ms.MODEL_CONFIDENCE, Histogram()), start)
        for (start, name, version), parts in found.items()
    ]


def _custom_records(rows: list[dict[str, Any]]) -> list[CustomMetricSeries]:
    return [CustomMetricSeries(r["Metric"], _pairs(r["Labels"]), _histogram(r), _start(r)) for r in rows]

"""`MetricsReader` in ClickHouse SQL over the metric tables of `store.clickhouse.metrics_schema`.

Rows are (series, bucket) pairs; each query folds them into one row per series (and
step) with the buckets as two arrays, so Python sees a few rows per series. Sums group
explicitly rather than relying on `SummingMergeTree` merges having happened.

Series limits and staleness are applied here, when `/metrics` reads the totals, not at
ingest: the views stay plain GROUP BYs (ingest stays fast and exact), and one query
keeps the series with the most observations (`LIMIT n BY`) and folds every other into
one overflow series per metric. A series is recent when the per-minute table has a row
of it at or after the cut-off (the minute of a span's start), so the scrape reads the
totals plus only the recent minutes. The cost of a scrape still grows with the series
ever stored (about 1 s per 100,000), not with the answer, which stays bounded.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from spanwise.store.clickhouse import metrics_schema as ms
from spanwise.store.protocols import CustomMetricSeries, Histogram, MetricTotals, ModelMetrics, SpanMetrics
from spanwise.store.clickhouse.session import SqlArea

_STEP_START = "toInt64(toUnixTimestamp(toStartOfInterval(Minute, toIntervalSecond({step:UInt32}))))"
_IN_RANGE = (
    "Minute >= fromUnixTimestamp64Nano({lo:Int64}) AND Minute <= fromUnixTimestamp64Nano({hi:Int64}) "
    "AND ({only:String} = '' OR {column} = {only:String})"
)


class SqlMetricsReader(SqlArea):
    """The MetricsReader half of `SqlTraceStore`; subclasses provide `_query`."""


    def metric_totals(self, max_series: int | None = None, seen_since_ns: int | None = None) -> MetricTotals:
        limits = (max_series, seen_since_ns)
        return MetricTotals(
            spans=_span_records(self._query(_totals_sql(ms.SPAN_METRICS, *limits), _params(*limits)).to_pylist()),
            models=_model_records(self._query(_totals_sql(ms.MODEL_METRICS, *limits), _params(*limits)).to_pylist()),
            custom=_custom_records(self._query(_totals_sql(ms.CUSTOM_METRICS, *limits), _params(*limits)).to_pylist()),
        )

    def span_metrics(self, start_ns: int, end_ns: int, step_s: int, service: str | None = None) -> list[SpanMetrics]:
        return _span_records(self._series(ms.SPAN_METRICS, (start_ns, end_ns, step_s, service), "ServiceName"))

    def model_metrics(self, start_ns: int, end_ns: int, step_s: int, model: str | None = None) -> list[ModelMetrics]:
        return _model_records(self._series(ms.MODEL_METRICS, (start_ns, end_ns, step_s, model), "ModelName"))

    def custom_metrics(
        self, start_ns: int, end_ns: int, step_s: int, name: str | None = None
    ) -> list[CustomMetricSeries]:
        return _custom_records(self._series(ms.CUSTOM_METRICS, (start_ns, end_ns, step_s, name), "Metric"))

    def _series(self, table: str, window: tuple[int, int, int, str | None], filter_column: str) -> list[dict[str, Any]]:
        """One dict per series and step of `window` = (start, end, step, only): its key
        columns, `step_start` (s), `les`, `ns`, `observations`, `total`."""
        keys, count, total = ms.SERIES_KEYS[table]
        key_list = ", ".join(keys)
        start_ns, end_ns, step_s, only = window
        params = {"lo": start_ns, "hi": end_ns, "step": step_s, "only": only or ""}
        sql = f"""SELECT {key_list}, step_start, groupArray(Le) AS les, groupArray(n) AS ns,
                sum(n) AS observations, sum(s) AS total, 0 AS overflow
            FROM (SELECT {key_list}, {_STEP_START} AS step_start, Le, sum({count}) AS n, sum({total}) AS s
                  FROM {table} WHERE {_IN_RANGE.replace("{column}", filter_column)} GROUP BY {key_list}, step_start, Le)
            GROUP BY {key_list}, step_start ORDER BY step_start, {key_list}"""
        return self._query(sql, params).to_pylist()


#: table -> (columns a series limit applies per value of, columns that name a series
#: and are emptied in the overflow series). A model version's latency and confidence
#: histograms are ranked together, a custom metric's series per metric.
_LIMITED_BY: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    ms.SPAN_METRICS: ((), ms.SERIES_KEYS[ms.SPAN_METRICS][0]),
    ms.MODEL_METRICS: ((), ("ModelName", "ModelVersion")),
    ms.CUSTOM_METRICS: (("Metric",), ("Labels",)),
}


def _params(max_series: int | None, seen_since_ns: int | None) -> dict[str, Any]:
    return {"max": max_series if max_series is not None else 2**63, "since": seen_since_ns or 0}


def _totals_sql(table: str, max_series: int | None, seen_since_ns: int | None) -> str:
    """Totals per series since the store began, of recent series only when
    `seen_since_ns` is given, the series past `{max}` per metric (fewest observations,
    ties by a hash of the names, stable between scrapes) summed into one row with
    `overflow` = 1 and empty names. Series are picked by that hash (`sid`) with
    `LIMIT n BY`, not with window functions over strings and maps, which took 1.7 s
    for 100,000 series."""
    keys, count, total = ms.SERIES_KEYS[table]
    per, named = _LIMITED_BY[table]
    key_list, sid = ", ".join(keys), f"cityHash64({', '.join(per + named)})"
    fresh = ""
    if seen_since_ns is not None:
        fresh = (f"WHERE sid IN (SELECT DISTINCT {sid} FROM {table} "
                 "WHERE Minute >= toStartOfMinute(fromUnixTimestamp64Nano({since:Int64})))")
    limit_by = f"BY {', '.join(per)}" if per else ""
    kept = [f"if(overflow, {_empty(k)}, {k}) AS {k}" if k in named else k for k in keys]
    return f"""WITH rows AS (SELECT {key_list}, Le, sum({count}) AS n, sum({total}) AS s, {sid} AS sid
                FROM {ms.TOTALS[table]} GROUP BY {key_list}, Le),
            recent AS (SELECT {", ".join(per + ("sid",))}, sum(n) AS weight FROM rows {fresh}
                GROUP BY {", ".join(per + ("sid",))}),
            top AS (SELECT sid FROM recent ORDER BY weight DESC, sid LIMIT {{max:UInt64}} {limit_by})
        SELECT {key_list}, overflow, CAST(NULL, 'Nullable(Int64)') AS step_start, groupArray(Le) AS les,
            groupArray(n) AS ns, sum(n) AS observations, sum(s) AS total
        FROM (SELECT {', '.join(kept)}, overflow, Le, sum(n) AS n, sum(s) AS s
              FROM (SELECT *, sid NOT IN (SELECT sid FROM top) AS overflow FROM rows WHERE sid IN (SELECT sid FROM recent))
              GROUP BY {key_list}, overflow, Le)
        GROUP BY {key_list}, overflow ORDER BY overflow, {key_list}"""


def _empty(column: str) -> str:
    """The value of a naming column in the overflow series."""
    kind = ms.KEY_TYPES[column]
    return f"CAST(map(), '{kind}')" if kind.startswith("Map") else "''"


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
                    _histogram(r), _start(r), bool(r["overflow"]))
        for r in rows
    ]


def _model_records(rows: list[dict[str, Any]]) -> list[ModelMetrics]:
    """Latency and confidence rows of one model version (and step) become one record."""
    found: dict[tuple[int | None, str, str, bool], dict[str, Histogram]] = {}
    for r in rows:
        key = (_start(r), r["ModelName"], r["ModelVersion"], bool(r["overflow"]))
        found.setdefault(key, {})[r["Histogram"]] = _histogram(r)
    return [
        ModelMetrics(name, version, parts.get(ms.MODEL_LATENCY, Histogram()), parts.get(ms.MODEL_CONFIDENCE, Histogram()),
                     start, overflow)
        for (start, name, version, overflow), parts in found.items()
    ]


def _custom_records(rows: list[dict[str, Any]]) -> list[CustomMetricSeries]:
    return [CustomMetricSeries(r["Metric"], _pairs(r["Labels"]), _histogram(r), _start(r), bool(r["overflow"]))
            for r in rows]

"""SQL for OTLP metric points (`OtlpMetricStore` in store/protocols): write, list the metrics
seen, and per-step series computed in the store.

Cumulative sums and histograms are turned into per-step increases from consecutive
points of the same series (a counter reset counts from zero), so a dashboard sees the
same numbers whatever temporality the SDK was set to. A series can be split by point
attributes (`group_by`, e.g. `ml.model.name`) and filtered on them (`where`); a missing
attribute groups as "".
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from spanwise.core.otlp_metrics import GAUGE, HISTOGRAM, POINT_SCHEMAS, SUM
from spanwise.store.clickhouse.otlp_metrics_schema import TABLES
from spanwise.store.clickhouse.session import SqlArea

_CUMULATIVE = 2  # AggregationTemporality.CUMULATIVE
_WINDOW = "TimeUnix >= fromUnixTimestamp64Nano({lo:Int64}) AND TimeUnix <= fromUnixTimestamp64Nano({hi:Int64})"
_FILTER = "MetricName = {name:String} AND ({service:String} = '' OR ServiceName = {service:String})"
_STEP = "toInt64(toUnixTimestamp(toStartOfInterval(TimeUnix, toIntervalSecond({step:UInt32}))))"
#: The most rows one series query returns (steps x groups); one more says "too many".
MAX_SERIES_ROWS = 100_000


def _increase(column: str) -> str:
    """Per point: the increase since the previous point of its series (cumulative), or the
    point itself (delta). A series' first point in the window counts in full when the
    series started inside the window (its StartTimeUnix), else it only anchors the next."""
    previous = (f"lagInFrame(toNullable({column}), 1, NULL) OVER (PARTITION BY ServiceName, Attributes, "
                "StartTimeUnix ORDER BY TimeUnix ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)")
    first = f"if(StartTimeUnix >= fromUnixTimestamp64Nano({{lo:Int64}}), {column}, 0)"
    cumulative = f"if(isNull({previous}), {first}, if({column} >= {previous}, {column} - {previous}, {column}))"
    return f"if(AggregationTemporality = {_CUMULATIVE}, {cumulative}, {column})"


class SqlOtlpMetrics(SqlArea):
    """Writes and reads the `otel_metrics_*` tables; the backend supplies `_query`/`_insert`."""



    def write_metric_points(self, points: dict[str, pa.Table]) -> None:
        for kind, table in points.items():
            if table.num_rows:
                self._insert(TABLES[kind], table.select(POINT_SCHEMAS[kind].names))

    def list_metrics(self, start_ns: int, end_ns: int) -> pa.Table:
        selects = [
            f"""SELECT MetricName AS name, '{kind}' AS kind, any(MetricUnit) AS unit,
                   any(MetricDescription) AS description, groupUniqArray(ServiceName) AS services,
                   count() AS points
            FROM {table} WHERE {_WINDOW} GROUP BY MetricName"""
            for kind, table in TABLES.items()
        ]
        return self._query(" UNION ALL ".join(selects) + " ORDER BY name, kind", {"lo": start_ns, "hi": end_ns})

    def metric_series(
        self, kind: str, name: str, service: str, start_ns: int, end_ns: int, step_s: int,
        group_by: tuple[str, ...] = (), where: tuple[tuple[str, str], ...] = (),
    ) -> pa.Table:
        params: dict[str, Any] = {"name": name, "service": service, "lo": start_ns, "hi": end_ns, "step": step_s}
        params.update({f"g{i}": key for i, key in enumerate(group_by)})
        params.update({f"wk{i}": k for i, (k, _) in enumerate(where)} | {f"wv{i}": v for i, (_, v) in enumerate(where)})
        groups = "".join(f", Attributes[{{g{i}:String}}] AS g{i}" for i in range(len(group_by)))
        keys = "".join(f", g{i}" for i in range(len(group_by)))
        matched = f"{_FILTER} AND {_WINDOW}" + "".join(
            f" AND Attributes[{{wk{i}:String}}] = {{wv{i}:String}}" for i in range(len(where)))
        tail = f"GROUP BY t{keys} ORDER BY t{keys} LIMIT {MAX_SERIES_ROWS + 1}"
        if kind == GAUGE:
            sql = f"""SELECT {_STEP} AS t{groups}, avg(Value) AS avg, min(Value) AS min, max(Value) AS max,
                          argMax(Value, TimeUnix) AS last, count() AS points
                      FROM {TABLES[GAUGE]} WHERE {matched} {tail}"""
        elif kind == SUM:
            sql = f"""SELECT {_STEP} AS t{keys}, sum(increase) AS increase, count() AS points FROM (
                          SELECT TimeUnix{groups}, {_increase('Value')} AS increase
                          FROM {TABLES[SUM]} WHERE {matched})
                      {tail}"""
        elif kind == HISTOGRAM:
            sql = f"""SELECT {_STEP} AS t{keys}, sum(count) AS count, sum(total) AS sum, count() AS points FROM (
                          SELECT TimeUnix{groups}, {_increase('toFloat64(Count)')} AS count, {_increase('Sum')} AS total
                          FROM {TABLES[HISTOGRAM]} WHERE {matched})
                      {tail}"""
        else:
            raise ValueError(f"unknown metric kind {kind!r}")
        return self._query(sql, params)

"""SQL for OTLP metric points (`OtlpMetricStore` in store/protocols): write, list the metrics
seen, per-step series and one window's figures per group (alert rules), computed in the store.

Cumulative sums, histograms and summaries are turned into per-step increases from
consecutive points of the same series (a counter reset counts from zero), so a dashboard
sees the same numbers whatever temporality the SDK was set to. Explicit histogram buckets
are merged by upper bound (points of different layouts as Prometheus' `sum by (le)`),
with the step's layouts, so bounds that did not increase still bound a bucket. Exponential histogram
buckets are merged at the lowest scale among the points a query reads (see
spanwise.core.exponential_histogram); summaries' quantiles cannot be merged, so each
series' latest reported values are taken, the highest of a group's series. A series can be split by point
attributes (`group_by`, e.g. `ml.model.name`) and filtered on them (`where`); a missing
attribute groups as "". A series is one process's points of one attribute set (service,
resource attributes, point attributes, start time).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from spanwise.core.otlp_metrics import EXPONENTIAL_HISTOGRAM, GAUGE, HISTOGRAM, POINT_SCHEMAS, SUM, SUMMARY
from spanwise.store.clickhouse.otlp_metrics_schema import TABLES
from spanwise.store.clickhouse.session import SqlArea

_CUMULATIVE = 2  # AggregationTemporality.CUMULATIVE
_WINDOW = "TimeUnix >= fromUnixTimestamp64Nano({lo:Int64}) AND TimeUnix <= fromUnixTimestamp64Nano({hi:Int64})"
_FILTER = "MetricName = {name:String} AND ({service:String} = '' OR ServiceName = {service:String})"
_STEP = "toInt64(toUnixTimestamp(toStartOfInterval(TimeUnix, toIntervalSecond({step:UInt32}))))"
#: A point and the one before it in its series (one process's points of one attribute set).
_FRAME = ("OVER (PARTITION BY ServiceName, ResourceAttributes, Attributes, StartTimeUnix ORDER BY TimeUnix "
          "ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)")
#: The most rows one series query returns (steps x groups); one more says "too many".
MAX_SERIES_ROWS = 100_000


#: Whether a point is cumulative (summaries always are: OTLP gives them no temporality).
_IS_CUMULATIVE = f"AggregationTemporality = {_CUMULATIVE}"
_ALWAYS_CUMULATIVE = "1"


def _increase(column: str, is_cumulative: str = _IS_CUMULATIVE) -> str:
    """Per point: the increase since the previous point of its series (cumulative), or the
    point itself (delta). A series' first point in the window counts in full when the
    series started inside the window (its StartTimeUnix), else it only anchors the next."""
    previous = f"lagInFrame(toNullable({column}), 1, NULL) {_FRAME}"
    first = f"if(StartTimeUnix >= fromUnixTimestamp64Nano({{lo:Int64}}), {column}, 0)"
    cumulative = f"if(isNull({previous}), {first}, if({column} >= {previous}, {column} - {previous}, {column}))"
    return f"if({is_cumulative}, {cumulative}, {column})"


class SqlOtlpMetrics(SqlArea):
    """Writes and reads the `otel_metrics_*` tables; the backend supplies `_query`/`_insert`."""



    def write_metric_points(self, points: dict[str, pa.Table]) -> None:
        for kind, table in points.items():
            if table.num_rows:
                self._insert(TABLES[kind], table.select(POINT_SCHEMAS[kind].names))

    def list_metrics(self, start_ns: int, end_ns: int) -> pa.Table:
        selects = [
            f"""SELECT MetricName AS name, '{kind}' AS kind, any(MetricUnit) AS unit,
                   any(MetricDescription) AS description, arraySort(groupUniqArray(ServiceName)) AS services,
                   count() AS points
            FROM {table} WHERE {_WINDOW} GROUP BY MetricName"""
            for kind, table in TABLES.items()
        ]
        # ORDER BY after a UNION ALL binds to its last SELECT only: sort the whole union outside.
        union = " UNION ALL ".join(selects)
        return self._query(f"SELECT * FROM ({union}) ORDER BY name, kind", {"lo": start_ns, "hi": end_ns})

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
            sql = f"""SELECT {_STEP} AS t{keys}, sum(count) AS count, sum(total) AS sum, count() AS points,
                          {_HISTOGRAM_BUCKETS} FROM (
                          SELECT TimeUnix{groups}, {_increase('toFloat64(Count)')} AS count, {_increase('Sum')} AS total,
                                 ExplicitBounds, {_bucket_increase()} AS buckets_inc
                          FROM {TABLES[HISTOGRAM]} WHERE {matched})
                      {tail}"""
        elif kind == EXPONENTIAL_HISTOGRAM:
            sql = f"""WITH {_lowest_scale(matched)} AS target
                      SELECT t{keys}, {_EXPONENTIAL_FIGURES}, count() AS points
                      FROM ({_exponential_increases(f"{_STEP} AS t{groups}", matched)})
                      {tail}"""
        elif kind == SUMMARY:
            sql = f"""SELECT t{keys}, {_SUMMARY_FIGURES}, sum(n) AS points FROM (
                          SELECT t{keys}, {_summary_latest()}, count() AS n
                          FROM ({_summary_increases(f"{_STEP} AS t, TimeUnix{groups}", matched)})
                          GROUP BY t{keys}, {_SERIES})
                      {tail}"""
        else:
            raise ValueError(f"unknown metric kind {kind!r}")
        return self._query(sql, params)

    def metric_window(
        self, kind: str, name: str, service: str, start_ns: int, end_ns: int, anchor_ns: int,
        group_by: tuple[str, ...] = (), where: tuple[tuple[str, str], ...] = (),
    ) -> pa.Table:
        params: dict[str, Any] = {"name": name, "service": service, "lo": start_ns, "hi": end_ns,
                                  "from": min(anchor_ns, start_ns), "limit": MAX_WINDOW_GROUPS + 1}
        params.update({f"g{i}": key for i, key in enumerate(group_by)})
        params.update({f"wk{i}": k for i, (k, _) in enumerate(where)} | {f"wv{i}": v for i, (_, v) in enumerate(where)})
        groups = "".join(f", {_attribute(f'g{i}')} AS g{i}" for i in range(len(group_by)))
        keys = "".join(f", g{i}" for i in range(len(group_by)))
        matched = (f"{_FILTER} AND TimeUnix >= fromUnixTimestamp64Nano({{from:Int64}}) "
                   "AND TimeUnix <= fromUnixTimestamp64Nano({hi:Int64})"
                   + "".join(f" AND {_attribute(f'wk{i}')} = {{wv{i}:String}}" for i in range(len(where))))
        if kind == GAUGE:
            sql = _gauge_window(groups, keys, matched)
        elif kind == SUM:
            sql = _sum_window(groups, keys, matched)
        elif kind == HISTOGRAM:
            sql = _histogram_window(groups, keys, matched)
        elif kind == EXPONENTIAL_HISTOGRAM:
            sql = _exponential_window(groups, keys, matched)
        elif kind == SUMMARY:
            sql = _summary_window(groups, keys, matched)
        else:
            raise ValueError(f"unknown metric kind {kind!r}")
        return self._query(sql + " LIMIT {limit:UInt32}", params)


#: The most rows (groups; histograms: groups x bucket layouts) one window query returns;
#: one more says "too many".
MAX_WINDOW_GROUPS = 10_000
#: What identifies one series of points (a process restart starts a new one of the same
#: identity: a counter reset).
_SERIES = "ServiceName, ResourceAttributes, Attributes"
_WITHIN = "TimeUnix >= fromUnixTimestamp64Nano({lo:Int64})"


def _attribute(param: str) -> str:
    """A point attribute, else the resource attribute of that key (`service.name`, `host.name`)."""
    key = f"{{{param}:String}}"
    return f"if(mapContains(Attributes, {key}), Attributes[{key}], ResourceAttributes[{key}])"


def _gauge_window(groups: str, keys: str, matched: str) -> str:
    """Points, sum, min, max over the window; `last` averages each series' latest value
    (the latest value itself when the group is one series)."""
    return f"""SELECT 1 AS one{keys}, sum(n) AS points, sum(total) AS total, min(low) AS lowest,
                   max(high) AS highest, avg(latest) AS last
            FROM (SELECT count() AS n, sum(Value) AS total, min(Value) AS low, max(Value) AS high,
                         argMax(Value, TimeUnix) AS latest{groups}
                  FROM {TABLES[GAUGE]} WHERE {matched} AND {_WITHIN} GROUP BY {_SERIES}{keys})
            GROUP BY one{keys} ORDER BY one{keys}"""


def _sum_window(groups: str, keys: str, matched: str) -> str:
    """The increase inside the window (cumulative: from the last point before it, resets
    counting from zero) and the current value (cumulative: each series' latest; delta:
    the window's changes), both added over the group's series; `monotonic` is 0 when a
    series is not a counter."""
    return f"""SELECT 1 AS one{keys}, sum(n) AS points, sum(inc) AS increase, sum(current) AS value,
                   min(mono) AS monotonic
            FROM (SELECT countIf({_WITHIN}) AS n, sumIf(increase, {_WITHIN}) AS inc,
                         if(any(temporality) = {_CUMULATIVE}, argMaxIf(Value, TimeUnix, {_WITHIN}),
                            sumIf(Value, {_WITHIN})) AS current, min(IsMonotonic) AS mono{keys}
                  FROM (SELECT TimeUnix{groups}, {_SERIES}, Value, IsMonotonic,
                               AggregationTemporality AS temporality, {_increase('Value')} AS increase
                        FROM {TABLES[SUM]} WHERE {matched})
                  GROUP BY {_SERIES}{keys} HAVING n > 0)
            GROUP BY one{keys} ORDER BY one{keys}"""


def _histogram_window(groups: str, keys: str, matched: str) -> str:
    """Per group and bucket layout: the increase of count, sum and each bucket inside
    the window (resets and first points as for sums)."""
    return f"""SELECT 1 AS one{keys}, bounds, count() AS points, sum(count_inc) AS count, sum(sum_inc) AS sum,
                   sumForEach(buckets_inc) AS buckets
            FROM (SELECT TimeUnix{groups}, ExplicitBounds AS bounds, {_increase('toFloat64(Count)')} AS count_inc,
                         {_increase('Sum')} AS sum_inc, {_bucket_increase()} AS buckets_inc
                  FROM {TABLES[HISTOGRAM]} WHERE {matched})
            WHERE {_WITHIN}
            GROUP BY one{keys}, bounds ORDER BY one{keys}, bounds"""


#: A step's explicit-bucket increases merged by upper bound (+Inf for the last bucket), as
#: Prometheus' `sum by (le)` merges them, and every bucket layout the step's points have:
#: sumMap leaves out bounds whose increase is 0, which still bound their neighbours.
_HISTOGRAM_BUCKETS = """groupUniqArray(ExplicitBounds) AS layouts,
    tupleElement(sumMap(arrayPushBack(ExplicitBounds, inf), buckets_inc) AS merged, 1) AS bucket_bounds,
    tupleElement(merged, 2) AS bucket_counts"""


def _bucket_increase() -> str:
    """`_increase` for the bucket counts array: element-wise since the previous point,
    whole after a reset (the count went down) or a change of layout."""
    has_previous = f"lagInFrame(toUInt8(1), 1, toUInt8(0)) {_FRAME}"
    previous = f"lagInFrame(BucketCounts, 1, CAST([], 'Array(UInt64)')) {_FRAME}"
    previous_count = f"lagInFrame(Count, 1, toUInt64(0)) {_FRAME}"
    first = ("if(StartTimeUnix >= fromUnixTimestamp64Nano({lo:Int64}), BucketCounts, "
             "arrayMap(x -> toUInt64(0), BucketCounts))")
    since = ("arrayMap((now, before) -> toUInt64(greatest(toInt64(now) - toInt64(before), 0)), "
             f"BucketCounts, {previous})")
    restarted = f"Count < {previous_count} OR length(BucketCounts) != length({previous})"
    cumulative = f"if({has_previous} = 0, {first}, if({restarted}, BucketCounts, {since}))"
    return f"if(AggregationTemporality = {_CUMULATIVE}, {cumulative}, BucketCounts)"


#: What a group of exponential histogram increases adds up to: count, sum, zero count and
#: per side the bucket indexes (at scale `target`) and their counts.
_EXPONENTIAL_FIGURES = """sum(count_inc) AS count, sum(sum_inc) AS sum, sum(zero_inc) AS zero_count, target AS scale,
    tupleElement(sumMap(positive_keys, positive_inc) AS positive, 1) AS positive_indexes,
    tupleElement(positive, 2) AS positive_counts,
    tupleElement(sumMap(negative_keys, negative_inc) AS negative, 1) AS negative_indexes,
    tupleElement(negative, 2) AS negative_counts"""


def _lowest_scale(matched: str) -> str:
    """The scale every bucket of the query is merged at: the lowest of the points it reads."""
    return f"(SELECT min(Scale) FROM {TABLES[EXPONENTIAL_HISTOGRAM]} WHERE {matched})"


def _exponential_increases(columns: str, matched: str) -> str:
    """Per exponential histogram point, `columns` and its increase since the previous point
    of its series (`_increase`, a reset being a count that went down): count, sum, zero
    count, and per side the bucket indexes downscaled to `target` with their counts, the
    previous point's subtracted (sumMap adds them up)."""
    state = ("Count", "Sum", "ZeroCount", "Scale", "PositiveOffset", "PositiveBucketCounts",
             "NegativeOffset", "NegativeBucketCounts")
    previous = ", ".join(f"lagInFrame({c}, 1) {_FRAME} AS previous_{c}" for c in state)
    sides = "".join(
        f""", arrayConcat({_indexes(f"{side}Offset", f"{side}BucketCounts", "Scale")},
                          {_indexes(f"previous_{side}Offset", f"previous_{side}BucketCounts", "previous_Scale")})
                AS {side.lower()}_keys,
              arrayConcat(arrayMap(n -> own * toInt64(n), {side}BucketCounts),
                          arrayMap(n -> -minus * toInt64(n), previous_{side}BucketCounts)) AS {side.lower()}_inc"""
        for side in ("Positive", "Negative"))
    return f"""SELECT {columns},
                   if({_IS_CUMULATIVE} AND has_previous = 0
                      AND StartTimeUnix < fromUnixTimestamp64Nano({{lo:Int64}}), 0, 1) AS own,
                   if({_IS_CUMULATIVE} AND has_previous = 1 AND Count >= previous_Count, 1, 0) AS minus,
                   own * toFloat64(Count) - minus * toFloat64(previous_Count) AS count_inc,
                   own * Sum - minus * previous_Sum AS sum_inc,
                   own * toFloat64(ZeroCount) - minus * toFloat64(previous_ZeroCount) AS zero_inc{sides}
            FROM (SELECT *, lagInFrame(toUInt8(1), 1, toUInt8(0)) {_FRAME} AS has_previous, {previous}
                  FROM {TABLES[EXPONENTIAL_HISTOGRAM]} WHERE {matched})"""


def _indexes(offset: str, counts: str, scale: str) -> str:
    """The index of each bucket of `counts`, at scale `target` (an arithmetic shift: floor)."""
    return f"arrayMap(i -> bitShiftRight(toInt64({offset}) + i - 1, {scale} - target), arrayEnumerate({counts}))"


def _exponential_window(groups: str, keys: str, matched: str) -> str:
    """Per group: the increase of count, sum, zero count and buckets inside the window."""
    return f"""WITH {_lowest_scale(matched)} AS target
            SELECT 1 AS one{keys}, count() AS points, {_EXPONENTIAL_FIGURES}
            FROM ({_exponential_increases(f"TimeUnix{groups}", matched)})
            WHERE {_WITHIN}
            GROUP BY one{keys} ORDER BY one{keys}"""


#: A group's summary figures from its series' (`_summary_latest`): increases added, and
#: per reported quantile the highest of the series' latest values.
_SUMMARY_FIGURES = """sum(series_count) AS count, sum(series_sum) AS sum,
    tupleElement(maxMap(latest_quantiles, latest_values) AS reported, 1) AS quantiles,
    tupleElement(reported, 2) AS quantile_values"""


def _summary_latest(within: str = "") -> str:
    """One series' increases and latest reported quantiles (of its points `within` holds for, if given)."""
    suffix, condition = ("If", f", {within}") if within else ("", "")
    return f"""sum{suffix}(count_inc{condition}) AS series_count, sum{suffix}(sum_inc{condition}) AS series_sum,
        argMax{suffix}(`ValueAtQuantiles.Quantile`, TimeUnix{condition}) AS latest_quantiles,
        argMax{suffix}(`ValueAtQuantiles.Value`, TimeUnix{condition}) AS latest_values"""


def _summary_increases(columns: str, matched: str) -> str:
    """Per summary point: `columns`, its series, reported quantiles and the increase of count and sum."""
    return f"""SELECT {columns}, {_SERIES}, `ValueAtQuantiles.Quantile`, `ValueAtQuantiles.Value`,
                   {_increase('toFloat64(Count)', _ALWAYS_CUMULATIVE)} AS count_inc,
                   {_increase('Sum', _ALWAYS_CUMULATIVE)} AS sum_inc
            FROM {TABLES[SUMMARY]} WHERE {matched}"""


def _summary_window(groups: str, keys: str, matched: str) -> str:
    """Per group: count and sum increases inside the window, and the reported quantiles
    of each series' latest point there, the highest of the group's series."""
    return f"""SELECT 1 AS one{keys}, sum(n) AS points, {_SUMMARY_FIGURES}
            FROM (SELECT countIf({_WITHIN}) AS n, {_summary_latest(_WITHIN)}{keys}
                  FROM ({_summary_increases(f"TimeUnix{groups}", matched)})
                  GROUP BY {_SERIES}{keys} HAVING n > 0)
            GROUP BY one{keys} ORDER BY one{keys}"""

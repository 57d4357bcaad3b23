"""Reads and writes in ClickHouse SQL, shared by every ClickHouse-engine backend.

A backend (chDB in-process, or a ClickHouse server) supplies only how to run a
statement, how to run a query into Arrow, and how to insert an Arrow table; the SQL is
written once here, so the backends cannot drift apart.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from spanwise.core.ids import is_trace_id
from spanwise.core.spans import DECODED_SCHEMA, SPAN_SCHEMA
from spanwise.core.metrics import MetricsSpec
from spanwise.store.clickhouse import baselines_schema
from spanwise.store.clickhouse import logs_schema
from spanwise.store.clickhouse import metrics_schema
from spanwise.store.clickhouse import models_schema
from spanwise.store.clickhouse import otlp_metrics_schema
from spanwise.store.clickhouse import schema
from spanwise.store.clickhouse import model_signals_schema
from spanwise.store.protocols import (
    ModelUse,
    Operation,
    StoreStats,
    TraceQuery,
    TraceSummary,
)
from spanwise.store.clickhouse.drift import SqlDriftReader
from spanwise.store.clickhouse.erasure import SqlErasure
from spanwise.store.clickhouse.estimation import SqlScores
from spanwise.store.clickhouse.feedback import SqlFeedback
from spanwise.store.clickhouse.metrics import SqlMetricsReader
from spanwise.store.clickhouse.service_signals import SqlServiceSignals
from spanwise.store.clickhouse.labelled import SqlLabelledReader
from spanwise.store.clickhouse.logs import SqlLogs
from spanwise.store.clickhouse.otlp_metrics import SqlOtlpMetrics
from spanwise.store.clickhouse.model_analytics import SqlModelAnalytics
from spanwise.store.clickhouse.model_signals import SqlModelSignals
from spanwise.store.clickhouse.alerts import SqlAlerts
from spanwise.store.clickhouse.tokens import SqlTokens
from spanwise.store.clickhouse.models import SqlModelReader
from spanwise.store.clickhouse.literals import array_literal
from spanwise.store.clickhouse.retention import SqlRetention
from spanwise.store.clickhouse.projects import PROJECT_COLUMN
from spanwise.store.clickhouse.session import Session
from spanwise.request_context import DEFAULT_PROJECT, SYSTEM, acting, current_project, run_in_context

def _is_view(statement: str) -> bool:
    return statement.lstrip().upper().startswith("CREATE MATERIALIZED VIEW")


#: Span columns as stored in otel_traces (the prediction maps live in `predictions`).
_STORED_SPAN_COLUMNS = ", ".join(f"`{name}`" for name in SPAN_SCHEMA.names if name not in schema.PREDICTION_MAP_COLUMNS)
#: The OTLP columns only: what the Jaeger API renders.
_DECODED_COLUMNS = ", ".join(f"`{name}`" for name in DECODED_SCHEMA.names)
_PREDICTION_MAPS = ", ".join(schema.PREDICTION_MAP_COLUMNS)
#: Canonical AI keys that can be matched against typed columns, whatever the sender named them.
_TYPED_ATTRIBUTE_COLUMNS = {
    "ml.model.name": "ModelName",
    "ml.model.version": "ModelVersion",
    "ml.prediction.id": "PredictionId",
    "ml.prediction.label": "PredictionLabel",
    "ml.label": "GroundTruth",
}
_FEATURE_PREFIX = "ml.feature."
FIRST_SEARCH_WINDOW_NS = 5 * 60 * 10**9
#: Trace reads: the primary key finds the granules (the skip indexes only cost time);
#: PREWHERE on TraceId reads the other columns only for matching rows, which halves
#: reads of a search's 20 scattered traces (168 -> 86 ms on 2M spans) and is neutral for
#: one trace (~15 ms); two threads, one per core.
_POINT_READ_SETTINGS = "max_threads = 2, use_skip_indexes = 0"
#: Blocks whose tokens each table fed by the ingest table remembers (a retry comes within seconds).
_DEDUP_WINDOW = 1000
_TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
#: The receivers' time window keeps a batch within `ingest.max_age_days + 2` daily
#: partitions; ClickHouse's default limit (100) would make a longer configured window
#: unstorable, so the insert allows as many as a window may span (`config.MAX_AGE_DAYS`).
_INSERT_SETTINGS = "max_partitions_per_insert_block = 1000"
#: A materialized view's target (`TO db.table`) and the first table it reads (`FROM db.table`).
_VIEW_EDGE = re.compile(r"\bTO\s+(?:`?\w+`?\.)?`?(\w+)`?.*?\bFROM\s+(?:`?\w+`?\.)?`?(\w+)`?", re.DOTALL)
_SUMMARY_COLUMNS = (
    "TraceId, SpanId, ParentSpanId, Timestamp, Duration, ServiceName, SpanName, StatusCode, IsPrediction, ModelName, ModelVersion"
)
#: Search summaries, one row per trace. Root: the earliest span without a parent, else
#: the earliest span. Models: (name \x1f version) -> predictions, as sumMap's (keys, counts).
_SUMMARY_SELECT = (
    "SELECT TraceId, argMin(ServiceName, (ParentSpanId != '', Timestamp, SpanId)) AS root_service, "
    "argMin(SpanName, (ParentSpanId != '', Timestamp, SpanId)) AS root_name, "
    "min(toInt64(toUnixTimestamp64Nano(Timestamp))) AS start_ns, "
    "max(toInt64(toUnixTimestamp64Nano(Timestamp)) + toInt64(Duration)) AS end_ns, "
    "toInt64(count()) AS spans, toInt64(countIf(StatusCode = 'Error')) AS errors, "
    "arraySort(groupUniqArray(toString(ServiceName))) AS services, "
    "sumMapIf([concat(ModelName, '\\x1f', ModelVersion)], [toUInt64(1)], IsPrediction) AS models"
)


class SqlTraceStore(
    SqlServiceSignals, SqlMetricsReader, SqlModelReader, SqlLabelledReader, SqlDriftReader, SqlModelAnalytics, SqlModelSignals,
    SqlLogs, SqlOtlpMetrics, SqlScores, SqlFeedback, SqlAlerts, SqlTokens, SqlErasure, SqlRetention,
):
    """Every store Protocol (`store.protocols.Store`) over one ClickHouse `session`, whatever
    its transport. `metrics` says which span metrics the store's views compute."""

    def __init__(self, session: Session, retention_days: int | None = None, metrics: MetricsSpec | None = None,
                 fsync: bool = False, tail_sampling: bool = False) -> None:
        self._session = session
        self._retention_days = retention_days
        self._fsync = fsync
        # Reads of one trace run their queries (spans, prediction maps) side by side.
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="spanwise-read")
        self._metrics = metrics or MetricsSpec()
        #: Tail sampling is on: reads then include spans waiting for a decision.
        self.tail_sampling = tail_sampling

    def start(self) -> None:
        """Open the session and bring the schema up to date (once; safe twice)."""
        if self._session.start():
            self.create_schema()

    def shutdown(self) -> None:
        self._session.shutdown()

    def create_schema(self) -> None:
        """Create what is missing and recreate every materialized view from this build's
        definitions: views hold no data, so a store made by an older build gets today's
        routing (sampling filters, new columns) instead of keeping its old views. Runs at
        start, before any insert."""
        with acting(SYSTEM):
            self._create_schema()

    def _create_schema(self) -> None:
        tables = self._query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()").to_pylist()
        existing = [t["name"] for t in tables]
        for view in [t["name"] for t in tables if t["engine"] == "MaterializedView"]:
            if not view.startswith(metrics_schema.METRIC_VIEW_PREFIX):
                self._execute(f"DROP VIEW IF EXISTS `{view}`")
        ddl = schema.statements(self._retention_days) + metrics_schema.table_statements()
        ddl += models_schema.statements(self._retention_days) + baselines_schema.statements()
        ddl += model_signals_schema.statements(self._retention_days) + logs_schema.statements(self._retention_days)
        ddl += otlp_metrics_schema.statements(self._retention_days)
        views = [d for d in ddl if _is_view(d)]
        for statement in [d for d in ddl if not _is_view(d)]:
            self._execute(statement)
        self._add_project_columns()
        for statement in views + metrics_schema.view_statements(self._metrics, existing):
            self._execute(statement)
        self._apply_table_settings()

    def _add_project_columns(self) -> None:
        """Give every data table its `Project` column (rows of older builds: the default
        project) before the views that fill them are created; see `store.clickhouse.projects`."""
        # Two plain reads (a correlated one needed over 1 MiB, past a tight read limit).
        tables = self._query(
            "SELECT name, engine, sorting_key AS key FROM system.tables WHERE database = currentDatabase()"
        ).to_pylist()
        has = set(self._query(
            "SELECT table FROM system.columns WHERE database = currentDatabase() AND name = 'Project'"
        ).column("table").to_pylist())
        for table in tables:
            if table["name"] in has or not self.projects.is_data_table(table["name"], table["engine"]):
                continue
            for statement in self.projects.add_column(table["name"], table["engine"], table["key"]):
                self._execute(statement)
        self.projects.scoped = frozenset(
            t["name"] for t in tables if self.projects.is_data_table(t["name"], t["engine"]) and t["engine"] != "Null"
        )

    def _apply_table_settings(self) -> None:
        """Every table an ingest insert reaches keeps a deduplication window, so a retried or
        replayed insert (same token) cannot count twice where its first attempt landed;
        every MergeTree table syncs parts to disk before an insert returns when `fsync` is on."""
        tables = self._query(
            "SELECT name, engine, create_table_query AS ddl FROM system.tables WHERE database = currentDatabase()"
        ).to_pylist()
        fed = _fed_from(schema.INGEST_TABLE, [t["ddl"] for t in tables if t["engine"] == "MaterializedView"])
        flag = int(self._fsync)
        for table in tables:
            if not table["engine"].endswith("MergeTree"):
                continue
            settings = [f"fsync_after_insert = {flag}", f"fsync_part_directory = {flag}"]
            if table["name"] in fed:
                settings.append(f"non_replicated_deduplication_window = {_DEDUP_WINDOW}")
            self._execute(f"ALTER TABLE `{table['name']}` MODIFY SETTING {', '.join(settings)}")

    def write_spans(self, spans: pa.Table, token: str = "") -> None:
        if not spans.num_rows:
            return
        settings = _INSERT_SETTINGS
        if token:
            if not _TOKEN.match(token):
                raise ValueError(f"invalid deduplication token {token!r}")
            settings += f", insert_deduplication_token = '{token}', deduplicate_blocks_in_dependent_materialized_views = 1"
        if PROJECT_COLUMN not in spans.column_names:
            spans = spans.append_column(PROJECT_COLUMN, pa.array([current_project()] * spans.num_rows, pa.string()))
        self._insert(schema.INGEST_TABLE, spans.select(SPAN_SCHEMA.names + [PROJECT_COLUMN]), settings)

    def get_traces(
        self, trace_ids: list[str], ai_fields: bool = True, offset: int = 0, limit: int | None = None
    ) -> pa.Table:
        schema_out = SPAN_SCHEMA if ai_fields else DECODED_SCHEMA
        scope = self._trace_scope(trace_ids)
        if scope is None:
            return schema_out.empty_table()
        in_range, params = scope
        columns = _STORED_SPAN_COLUMNS if ai_fields else _DECODED_COLUMNS
        # Deduplicate first (LIMIT BY runs after ORDER BY), then cut the page per trace in SQL.
        read_spans = f"SELECT * FROM ({self._trace_spans(columns, in_range)}) LIMIT 1 BY TraceId, SpanId"
        read_spans = f"SELECT * FROM ({read_spans}) ORDER BY TraceId, Timestamp, SpanId"
        if offset or limit is not None:
            params.update(offset=offset, limit=limit if limit is not None else 2**62)
            read_spans += " LIMIT {limit:UInt64} OFFSET {offset:UInt64} BY TraceId"
        if not ai_fields:
            spans = self._query(f"{read_spans} SETTINGS {_POINT_READ_SETTINGS}", params)
            return spans.select(schema_out.names) if spans.num_rows else schema_out.empty_table()
        # A first page's predictions are among the first `limit` predictions of each trace in
        # the same order, so their maps are read beside the spans (one round trip, ~2x
        # faster for a small trace); a later page reads the maps of its own spans after.
        early_maps = self._pool.submit(run_in_context(self._first_prediction_maps), in_range, dict(params)) if not offset else None
        spans = self._query(f"{read_spans} SETTINGS {_POINT_READ_SETTINGS}", params)
        if early_maps is not None:
            maps = early_maps.result()
        else:
            maps = self._page_prediction_maps(spans, in_range, params)
        return _with_prediction_maps(spans, maps) if spans.num_rows else schema_out.empty_table()

    def _first_prediction_maps(self, in_range: str, params: dict[str, Any]) -> pa.Table:
        limit = " LIMIT {limit:UInt64} BY TraceId" if "limit" in params else ""
        return self._query(
            f"SELECT * FROM (SELECT TraceId, SpanId, Timestamp, {_PREDICTION_MAPS} FROM predictions "
            f"WHERE {in_range} LIMIT 1 BY TraceId, SpanId) ORDER BY TraceId, Timestamp, SpanId{limit} "
            f"SETTINGS {_POINT_READ_SETTINGS}",
            params,
        )

    def _page_prediction_maps(self, spans: pa.Table, in_range: str, params: dict[str, Any]) -> pa.Table:
        """The maps of the page's prediction spans only: a page of a huge trace stays a page."""
        predicted = pc.filter(spans.column("SpanId"), spans.column("IsPrediction")).to_pylist() if spans.num_rows else []
        if not predicted:
            return pa.table({"TraceId": pa.array([], pa.string()), "SpanId": pa.array([], pa.string())})
        params["spans"] = array_literal(sorted(set(predicted)))
        return self._query(
            f"SELECT TraceId, SpanId, {_PREDICTION_MAPS} FROM predictions WHERE {in_range} "
            "AND SpanId IN {spans:Array(String)} LIMIT 1 BY TraceId, SpanId",
            params,
        )

    def span_counts(self, trace_ids: list[str]) -> dict[str, int]:
        scope = self._trace_scope(trace_ids)
        if scope is None:
            return {}
        in_range, params = scope
        rows = self._query(
            f"SELECT TraceId, toInt64(uniqExact(SpanId)) AS n FROM ({self._trace_spans('TraceId, SpanId', in_range)}) "
            f"GROUP BY TraceId SETTINGS {_POINT_READ_SETTINGS}",
            params,
        ).to_pylist()
        return {r["TraceId"]: r["n"] for r in rows}

    def trace_summaries(self, trace_ids: list[str]) -> list[TraceSummary]:
        scope = self._trace_scope(trace_ids)
        if scope is None:
            return []
        in_range, params = scope
        spans = f"SELECT * FROM ({self._trace_spans(_SUMMARY_COLUMNS, in_range)}) LIMIT 1 BY TraceId, SpanId"
        rows = self._query(f"{_SUMMARY_SELECT} FROM ({spans}) GROUP BY TraceId SETTINGS {_POINT_READ_SETTINGS}", params)
        by_id = {r["TraceId"]: _summary(r) for r in rows.to_pylist()}
        return [by_id[t] for t in dict.fromkeys(t.lower() for t in trace_ids) if t in by_id]

    def _trace_scope(self, trace_ids: list[str]) -> tuple[str, dict[str, Any]] | None:
        """The WHERE clause and parameters that read these traces' spans without a scan:
        the trace-id -> time-range table bounds the time (whole seconds around the
        traces); None when no id is valid or known."""
        ids = sorted({t.lower() for t in trace_ids if is_trace_id(t.lower())})
        if not ids:
            return None
        params: dict[str, Any] = {"ids": array_literal(ids)}
        bounds = self._query(
            "SELECT toInt64(toUnixTimestamp(min(Start))) - 1 AS lo, toInt64(toUnixTimestamp(max(End))) + 1 AS hi "
            "FROM otel_traces_trace_id_ts WHERE TraceId IN {ids:Array(String)}",
            params,
        ).to_pylist()[0]
        if bounds["lo"] is None or bounds["hi"] < 0:
            return None
        params.update(lo=bounds["lo"], hi=bounds["hi"])
        in_range = (
            "TraceId IN {ids:Array(String)} "
            "AND Timestamp >= toDateTime64({lo:Int64}, 9) AND Timestamp <= toDateTime64({hi:Int64}, 9)"
        )
        return in_range, params

    def _trace_spans(self, columns: str, in_range: str) -> str:
        """Stored span rows (duplicates included) of the traces `in_range` selects, and
        with tail sampling the spans waiting for their trace's decision too."""
        sql = f"SELECT {columns} FROM otel_traces WHERE {in_range}"
        if self.tail_sampling:
            sql += f" UNION ALL SELECT {columns} FROM {schema.TAIL_PENDING_TABLE} WHERE {in_range}"
        return sql

    def find_trace_ids(self, query: TraceQuery) -> list[str]:
        """Newest first: the last 5 minutes, then (if fewer than `limit` traces matched)
        the rest of the range. A typical "last hour, 20 traces" search on a busy service
        reads only the newest window instead of aggregating the whole range; a rare value
        costs one more query, not one per window."""
        where, params = _conditions(query)
        found: list[str] = []
        window_end, width = query.end_ns, FIRST_SEARCH_WINDOW_NS
        while window_end >= query.start_ns and len(found) < query.limit:
            window_start = max(query.start_ns, window_end - width)
            params.update(lo=window_start, hi=window_end, limit=query.limit - len(found))
            rows = self._query(
                f"SELECT TraceId, max(Timestamp) AS latest FROM {self._searched_spans()} WHERE {' AND '.join(where)} "
                "AND Timestamp >= fromUnixTimestamp64Nano({lo:Int64}) AND Timestamp <= fromUnixTimestamp64Nano({hi:Int64}) "
                + ("AND TraceId NOT IN {seen:Array(String)} " if found else "")
                + "GROUP BY TraceId ORDER BY latest DESC LIMIT {limit:UInt32}",
                {**params, "seen": array_literal(found)} if found else params,
            )
            found += rows.column("TraceId").to_pylist()
            window_end, width = window_start - 1, query.end_ns - query.start_ns
        return found

    def _searched_spans(self) -> str:
        """The table (or union) searches read: stored spans, and pending ones if any wait."""
        if not self.tail_sampling:
            return "otel_traces"
        return f"(SELECT * FROM otel_traces UNION ALL SELECT * EXCEPT (IngestTime) FROM {schema.TAIL_PENDING_TABLE})"

    # -- tail sampling (spanwise.process.tail_sampling.TailSamplingStore) --

    def pending_trace_summaries(
        self, quiet_before_ns: int, max_pending: int, attribute_patterns: dict[str, str],
        feature_ranges: dict[tuple[str, str], tuple[float, float]] | None = None,
    ) -> pa.Table:
        params: dict[str, Any] = {"quiet": quiet_before_ns}
        outliers = _outlier_join(feature_ranges, params) if feature_ranges else ""
        matches = ""
        for i, (key, pattern) in enumerate(sorted(attribute_patterns.items())):
            params[f"k{i}"], params[f"p{i}"] = key, pattern
            matches += f", countIf(match(SpanAttributes[{{k{i}:String}}], {{p{i}:String}})) > 0 AS `Match_{key}`"
        summary = (
            "SELECT TraceId, toInt64(toUnixTimestamp64Nano(min(IngestTime))) AS FirstSeen, "
            "argMin(ServiceName, Timestamp) AS RootService, countIf(StatusCode = 'Error') > 0 AS HasError, "
            f"max(Duration) AS MaxDurationNs, min(Confidence) AS MinConfidence{matches} "
            f"FROM {schema.TAIL_PENDING_TABLE} GROUP BY TraceId"
        )
        if outliers:
            summary = f"SELECT s.*, o.HasOutlier = 1 AS HasOutlier FROM ({summary}) AS s {outliers}"
        pending = self._query(f"SELECT uniqExact(TraceId) AS n FROM {schema.TAIL_PENDING_TABLE}").column("n")[0].as_py()
        params["excess"] = max(0, int(pending or 0) - max_pending)
        return self._query(
            f"SELECT * FROM ({summary}) WHERE FirstSeen < {{quiet:Int64}} "
            f"OR TraceId IN (SELECT TraceId FROM ({summary}) ORDER BY FirstSeen LIMIT {{excess:UInt64}}) "
            "ORDER BY FirstSeen",
            params,
        ) if pending else pa.table({})

    def pending_trace_projects(self) -> list[str]:
        with acting(SYSTEM):
            return self._projects_in(schema.TAIL_PENDING_TABLE)

    def settle_traces(self, trace_ids: list[str], weights: list[float], remember_s: float) -> int:
        if trace_ids:
            decided = pa.table({"TraceId": pa.array(trace_ids, pa.string()), "Weight": pa.array(weights, pa.float64()),
                                "DecidedAt": pa.array([int(time.time())] * len(trace_ids), pa.timestamp("s", tz="UTC"))})
            self._insert("spanwise_tail_decisions", decided)
        # The INSERT and DELETE below run on the writer connection, which reads every
        # project: each names the current one (a trace id names a trace within its project).
        mine = self.projects.condition()
        recent = f"DecidedAt >= now() - toIntervalSecond({int(remember_s)}) AND {mine}"
        remembered = (
            f"SELECT TraceId, argMax(Weight, DecidedAt) AS Weight FROM spanwise_tail_decisions WHERE {recent} "
            f"AND TraceId IN (SELECT TraceId FROM {schema.TAIL_PENDING_TABLE} WHERE {mine}) GROUP BY TraceId"
        )
        counts = self._query(
            f"SELECT count() AS decided, countIf(d.Weight > 0) AS kept FROM {schema.TAIL_PENDING_TABLE} AS p "
            f"INNER JOIN ({remembered}) AS d ON p.TraceId = d.TraceId"
        ).to_pylist()[0]
        if not counts["decided"]:
            return 0
        moved = int(counts["kept"])
        if moved:
            columns = ", ".join(
                "-p.SampleWeight * d.Weight AS SampleWeight" if c == "`SampleWeight`" else f"p.{c}"
                for c in _STORED_SPAN_COLUMNS.split(", ")
            )
            self._execute(
                f"INSERT INTO otel_traces ({_STORED_SPAN_COLUMNS}, Project) SELECT {columns}, p.Project "
                f"FROM {schema.TAIL_PENDING_TABLE} AS p "
                f"INNER JOIN ({remembered}) AS d ON p.TraceId = d.TraceId "
                f"WHERE d.Weight > 0 AND {self.projects.condition('p')}"
            )
        self._execute(
            f"DELETE FROM {schema.TAIL_PENDING_TABLE} WHERE {mine} "
            f"AND TraceId IN (SELECT TraceId FROM spanwise_tail_decisions WHERE {recent})"
        )
        return moved

    def data_projects(self) -> list[str]:
        """Every project that has sent spans (read across projects: the platform's jobs)."""
        with acting(SYSTEM):
            return self._projects_in("spanwise_operations")

    def services(self) -> list[str]:
        rows = self._query("SELECT DISTINCT ServiceName FROM spanwise_operations ORDER BY ServiceName")
        return rows.column("ServiceName").to_pylist()

    def operations(self, service: str, span_kind: str | None = None) -> list[Operation]:
        sql = "SELECT DISTINCT SpanName, SpanKind FROM spanwise_operations WHERE ServiceName = {service:String}"
        params: dict[str, Any] = {"service": service}
        if span_kind:
            sql += " AND lower(SpanKind) = lower({kind:String})"
            params["kind"] = span_kind
        rows = self._query(sql + " ORDER BY SpanName, SpanKind", params).to_pylist()
        return [Operation(r["SpanName"], r["SpanKind"]) for r in rows]

    def stats(self) -> StoreStats:
        """Spans and predictions of the current project (counted, since `system.parts`
        knows no projects: ~10 ms per 5M rows; the platform's own work counts from the
        parts' metadata); bytes on disk are the whole store's."""
        parts = self._query(
            "SELECT table, toInt64(sum(rows)) AS rows, toInt64(sum(bytes_on_disk)) AS bytes FROM system.parts "
            "WHERE active AND database = currentDatabase() GROUP BY table"
        ).to_pylist()
        # The platform's own bounded read: a tight `store.query_max_memory_mb` (meant for
        # users' queries) must not take the status page down with it.
        counted = self._query(
            "SELECT (SELECT count() FROM otel_traces) AS spans, (SELECT count() FROM predictions) AS predictions "
            "SETTINGS max_memory_usage = 0"
        ).to_pylist()[0]
        return StoreStats(
            spans=int(counted["spans"]),
            predictions=int(counted["predictions"]),
            bytes_on_disk=sum(p["bytes"] for p in parts),
            tables={p["table"]: p["bytes"] for p in parts},
        )


def _fed_from(source: str, view_ddls: list[str]) -> set[str]:
    """Every table an insert into `source` reaches through materialized views, cascades
    included (the metric totals are fed from the per-minute tables)."""
    edges = [(found.group(2), found.group(1)) for found in map(_VIEW_EDGE.search, view_ddls) if found]
    reached: set[str] = set()
    frontier = {source}
    while frontier:
        frontier = {target for origin, target in edges if origin in frontier} - reached
        reached |= frontier
    return reached


def _conditions(query: TraceQuery) -> tuple[list[str], dict[str, Any]]:
    """WHERE clauses and parameters for a trace search."""
    where = [
        "Timestamp >= fromUnixTimestamp64Nano({start:Int64})",
        "Timestamp <= fromUnixTimestamp64Nano({end:Int64})",
    ]
    params: dict[str, Any] = {"start": query.start_ns, "end": query.end_ns}
    optional = (
        ("service", query.service, "ServiceName = {service:String}"),
        ("operation", query.operation, "SpanName = {operation:String}"),
        ("min_duration", query.min_duration_ns, "Duration >= {min_duration:UInt64}"),
        ("max_duration", query.max_duration_ns, "Duration <= {max_duration:UInt64}"),
        ("status", query.status, "lower(StatusCode) = lower({status:String})"),
        ("min_confidence", query.min_confidence, "Confidence >= {min_confidence:Float64}"),
        ("max_confidence", query.max_confidence, "Confidence <= {max_confidence:Float64}"),
    )
    for name, value, clause in optional:
        if value is not None and value != "":
            where.append(clause)
            params[name] = value
    for i, (key, value) in enumerate(query.attributes):
        where.append(_attribute_condition(i, key))
        params[f"k{i}"], params[f"v{i}"] = key, value
        if key.startswith(_FEATURE_PREFIX):
            params[f"f{i}"] = key[len(_FEATURE_PREFIX) :]
    return where, params


def _attribute_condition(i: int, key: str) -> str:
    """Match one key=value against attributes and, for canonical AI keys, typed columns."""
    k, v = f"{{k{i}:String}}", f"{{v{i}:String}}"
    options = [f"SpanAttributes[{k}] = {v}", f"ResourceAttributes[{k}] = {v}"]
    if key == "error":
        options.append(f"(StatusCode = 'Error' AND lower({v}) = 'true')")
    if key in _TYPED_ATTRIBUTE_COLUMNS:
        options.append(f"{_TYPED_ATTRIBUTE_COLUMNS[key]} = {v}")
    if key.startswith(_FEATURE_PREFIX):
        f = f"{{f{i}:String}}"
        options.append(
            "SpanId IN (SELECT SpanId FROM predictions WHERE Timestamp >= fromUnixTimestamp64Nano({start:Int64}) "
            f"AND Timestamp <= fromUnixTimestamp64Nano({{end:Int64}}) AND (StringFeatures[{f}] = {v} "
            f"OR (mapContains(Features, {f}) AND Features[{f}] = toFloat64OrNull({v}))))"
        )
    return "(" + " OR ".join(options) + ")"


def _summary(row: dict[str, Any]) -> TraceSummary:
    keys, counts = row["models"].values() if isinstance(row["models"], dict) else row["models"]
    models = tuple(ModelUse(*_model_key(key), int(n)) for key, n in zip(keys, counts))
    return TraceSummary(
        trace_id=row["TraceId"],
        root_service=row["root_service"],
        root_name=row["root_name"],
        start_ns=row["start_ns"],
        duration_ns=row["end_ns"] - row["start_ns"],
        span_count=row["spans"],
        error_count=row["errors"],
        services=tuple(row["services"]),
        models=models,
    )


def _model_key(key: str) -> tuple[str, str]:
    name, _, version = key.partition("\x1f")
    return name, version


def _with_prediction_maps(spans: pa.Table, maps: pa.Table) -> pa.Table:
    """Add the prediction map columns to `spans` from rows of `predictions` (read path:
    at most a few traces' worth of rows, so plain Python is fine)."""
    position = {
        (t, s): i for i, (t, s) in enumerate(zip(maps.column("TraceId").to_pylist(), maps.column("SpanId").to_pylist()))
    }
    rows = [position.get(key, -1) for key in zip(spans.column("TraceId").to_pylist(), spans.column("SpanId").to_pylist())]
    for name in schema.PREDICTION_MAP_COLUMNS:
        values = maps.column(name).to_pylist() if position else []
        column = pa.array([values[r] if r >= 0 else [] for r in rows], SPAN_SCHEMA.field(name).type)
        spans = spans.append_column(SPAN_SCHEMA.field(name), column)
    return spans.select(SPAN_SCHEMA.names)


def _outlier_join(ranges: dict[tuple[str, str], tuple[float, float]], params: dict[str, Any]) -> str:
    """A LEFT JOIN adding `o.HasOutlier` per pending trace: 1 when a prediction of the trace
    has a numeric feature outside its model's baseline range (ranges as array parameters)."""
    keys = [f"{model}\x1f{feature}" for model, feature in ranges]
    params.update(
        range_keys=array_literal(keys),
        range_lo="[" + ",".join(repr(float(lo)) for lo, _ in ranges.values()) + "]",
        range_hi="[" + ",".join(repr(float(hi)) for _, hi in ranges.values()) + "]",
    )
    return (
        "LEFT JOIN (SELECT TraceId, max(idx > 0 AND (v < arrayElement({range_lo:Array(Float64)}, idx) "
        "OR v > arrayElement({range_hi:Array(Float64)}, idx))) AS HasOutlier "
        "FROM (SELECT TraceId, v, indexOf({range_keys:Array(String)}, concat(ModelName, '\\x1f', k)) AS idx "
        "FROM predictions ARRAY JOIN mapKeys(Features) AS k, mapValues(Features) AS v "
        f"WHERE TraceId IN (SELECT TraceId FROM {schema.TAIL_PENDING_TABLE})) GROUP BY TraceId) AS o "
        "ON s.TraceId = o.TraceId"
    )

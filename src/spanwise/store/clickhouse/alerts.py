"""SQL for alerting's state (`AlertStore` in store/protocols); tables in `alerts_schema`."""

from __future__ import annotations

import threading
import time
from abc import abstractmethod

import pyarrow as pa

from spanwise.request_context import DEFAULT_PROJECT
from spanwise.store.clickhouse import alerts_schema
from spanwise.store.protocols import AlertStateChange, RedSummary
from spanwise.store.clickhouse.alerts_schema import HISTORY_TABLE, OBJECTS_TABLE
from spanwise.store.clickhouse.literals import quoted
from spanwise.store.clickhouse.session import SqlArea

_OBJECT_SCHEMA = pa.schema([("Kind", pa.string()), ("Key", pa.string()), ("Version", pa.uint64()),
                            ("Deleted", pa.uint8()), ("Body", pa.string())])
_HISTORY_SCHEMA = pa.schema([("At", pa.timestamp("ms", tz="UTC")), ("Rule", pa.string()), ("Fingerprint", pa.string()),
                             ("FromState", pa.string()), ("ToState", pa.string()), ("Value", pa.float64()),
                             ("Labels", pa.string())])
#: History kept when the store was not told otherwise (config alerts.history_days).
DEFAULT_HISTORY_DAYS = 30


class SqlAlerts(SqlArea):
    """Versioned alert objects and alert history; the backend supplies `_execute`/`_query`/`_insert`.
    The tables are created on first use, so stores that never alert never have them; they
    are data tables like any other (`store.clickhouse.projects`): writes carry the current project
    and reads see only it (the platform's own work, e.g. the alert engine's start, sees all)."""

    _alert_tables_ready = False
    _alert_version_lock = threading.Lock()
    _alert_last_version = 0




    @abstractmethod
    def _add_project_columns(self) -> None:
        """Give data tables made after the schema was (these, made on first use) their project."""

    def prepare_alerts(self, history_days: int = DEFAULT_HISTORY_DAYS) -> None:
        if not self._alert_tables_ready:
            for statement in alerts_schema.statements(history_days):
                self._execute(statement)
            self._add_project_columns()
            self._alert_tables_ready = True

    def put_alert_objects(self, kind: str, bodies: dict[str, str | None]) -> None:
        """Write (or, for a None body, delete) objects of one kind in one insert."""
        if not bodies:
            return
        self.prepare_alerts()
        rows = [{"Kind": kind, "Key": key, "Version": self._next_version(), "Deleted": int(body is None),
                 "Body": body or ""} for key, body in bodies.items()]
        self._insert(OBJECTS_TABLE, pa.Table.from_pylist(rows, _OBJECT_SCHEMA))

    def alert_objects(self, kind: str) -> dict[tuple[str, str], str]:
        """The newest body of every live object of `kind` by (project, key), of the projects
        the caller sees. Rows an older build wrote without a project are the default's."""
        self.prepare_alerts()
        rows = self._query(
            f"""SELECT if(Project = '', {quoted(DEFAULT_PROJECT)}, Project) AS project, Key AS key,
                   argMax(Body, Version) AS body, argMax(Deleted, Version) AS deleted
            FROM {OBJECTS_TABLE} WHERE Kind = {{kind:String}} GROUP BY project, Key""",
            {"kind": kind},
        ).to_pylist()
        return {(r["project"], r["key"]): r["body"] for r in rows if not r["deleted"]}

    def append_alert_history(self, changes: list[AlertStateChange]) -> None:
        if not changes:
            return
        self.prepare_alerts()
        columns = {"At": [c.at_ms for c in changes], "Rule": [c.rule for c in changes],
                   "Fingerprint": [c.fingerprint for c in changes], "FromState": [c.from_state for c in changes],
                   "ToState": [c.to_state for c in changes], "Value": [c.value for c in changes],
                   "Labels": [c.labels for c in changes]}
        self._insert(HISTORY_TABLE, pa.table({name: pa.array(columns[name], _HISTORY_SCHEMA.field(name).type)
                                              for name in _HISTORY_SCHEMA.names}))

    def alert_history(self, start_ns: int, end_ns: int, rule: str = "", limit: int = 1000) -> list[AlertStateChange]:
        self.prepare_alerts()
        rows = self._query(
            f"""SELECT toInt64(toUnixTimestamp64Milli(At)) AS at_ms, Rule AS rule, Fingerprint AS fingerprint,
                   FromState AS from_state, ToState AS to_state, Value AS value, Labels AS labels
            FROM {HISTORY_TABLE}
            WHERE At >= fromUnixTimestamp64Nano({{lo:Int64}}) AND At <= fromUnixTimestamp64Nano({{hi:Int64}})
              AND ({{rule:String}} = '' OR Rule = {{rule:String}})
            ORDER BY At DESC LIMIT {{limit:UInt32}}""",
            {"lo": start_ns, "hi": end_ns, "rule": rule, "limit": limit},
        ).to_pylist()
        return [AlertStateChange(**r) for r in rows]

    def span_window(self, start_ns: int, end_ns: int, service: str | None = None) -> list[RedSummary]:
        """Rate, errors and duration per service (or per operation of `service`) of the
        stored spans in exactly [start, end], each counted `SampleWeight` times (an
        estimate under sampling). For alert windows shorter than the span metrics' minute."""
        name = "SpanName" if service else "ServiceName"
        rows = self._query(
            f"""SELECT {name} AS name, sum(SampleWeight) AS n, sumIf(SampleWeight, StatusCode = 'Error') AS errors,
                   quantilesExactWeighted(0.5, 0.95, 0.99)(Duration, toUInt64(greatest(round(SampleWeight), 1))) AS q
            FROM otel_traces
            WHERE Timestamp >= fromUnixTimestamp64Nano({{lo:Int64}}) AND Timestamp <= fromUnixTimestamp64Nano({{hi:Int64}})
              AND SampleWeight > 0 AND ({{service:String}} = '' OR ServiceName = {{service:String}})
            GROUP BY name ORDER BY name""",
            {"lo": start_ns, "hi": end_ns, "service": service or ""},
        ).to_pylist()
        return [RedSummary(r["name"], round(r["n"]), round(r["errors"]), *(float(q) for q in r["q"])) for r in rows]

    def _next_version(self) -> int:
        """Microseconds since the epoch, strictly increasing within this process."""
        with SqlAlerts._alert_version_lock:
            SqlAlerts._alert_last_version = max(time.time_ns() // 1000, SqlAlerts._alert_last_version + 1)
            return SqlAlerts._alert_last_version

"""The embedded default: the ClickHouse engine in-process through chDB, on a directory; the
one module that knows chDB (`ChdbSession`, the transport behind `session.Session`).

chDB hosts one engine per process, bound to one path (DESIGN.md, "chDB in a server"):
the server process owns the directory. Each thread gets its own connection, so readers
never share a handle with the writer; results are fetched whole (no streaming result is
left open on a shared handle). A thread holds two connections: reads run on one whose
session carries the `QueryLimits`, statements and inserts on an unlimited one.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import chdb
import pyarrow as pa

from spanwise.errors import StoreUnavailable
from spanwise.core.metrics import MetricsSpec
from spanwise.request_context import current
from spanwise.store import check_writable
from spanwise.store.clickhouse.query_limits import QueryLimits, classify, classify_write
from spanwise.store.clickhouse.literals import bind
from spanwise.store.clickhouse.projects import ProjectScope
from spanwise.store.clickhouse.store import SqlTraceStore

#: What the engine raises: chdb's own `ChdbError` is a RuntimeError, but not the class
#: `chdb.ChdbError` names (chdb 4.4 defines two); catching both covers either build.
_ENGINE_ERRORS = (RuntimeError, chdb.ChdbError)

log = logging.getLogger(__name__)


class ChdbSession:
    """The `Session` of an embedded engine on a directory."""

    def __init__(self, path: str, limits: QueryLimits | None = None) -> None:
        self.path = os.path.abspath(path)
        self.limits = limits or QueryLimits()
        self.projects = ProjectScope()
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._closed = True

    def start(self) -> bool:
        if not self._closed:
            return False
        check_writable(self.path)
        self._closed = False
        return True

    def shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def _connection(self, limited: bool = False) -> Any:
        """This thread's connection; `limited` ones run reads under `self.limits`."""
        name = "reader" if limited else "writer"
        connection = getattr(self._local, name, None)
        if connection is None or connection not in self._connections:
            with self._lock:
                if self._closed:
                    raise StoreUnavailable("the store is shut down")
                connection = chdb.connect(self.path)
                self._connections.append(connection)
            if limited:
                connection.query(self.limits.set_statement())
            setattr(self._local, name, connection)
        return connection

    def _scope_reads(self, connection: Any) -> None:
        """Limit this reader session to the current project (a `SET` only when it changes)
        and, when the work has a deadline, to the time left of it."""
        timeout = self.limits.timeout_s
        remaining = current().remaining_s()
        if remaining is not None:
            if remaining < 0.001:
                raise StoreUnavailable("the work's deadline passed before this query")
            timeout = min(remaining, timeout) if timeout else remaining  # 0: no limit of its own
        wanted = f"{self.projects.read_filter()}, max_execution_time = {timeout:.3f}"
        if getattr(self._local, "read_filter", None) != (connection, wanted):
            connection.query(wanted)
            self._local.read_filter = (connection, wanted)

    def _discard(self, limited: bool) -> None:
        """Close this thread's connection after a failed statement: chDB hands the next
        result on a connection whose query was aborted (time or memory limit) back
        corrupt ("Invalid flatbuffers message"), so the next call starts afresh."""
        name = "reader" if limited else "writer"
        connection = getattr(self._local, name, None)
        setattr(self._local, name, None)
        with self._lock:
            if connection is None or connection not in self._connections:
                return
            self._connections.remove(connection)
        try:
            connection.close()
        except _ENGINE_ERRORS:
            log.warning("closing a failed store connection failed", exc_info=True)

    def _run(self, sql: str, limited: bool, output: str = "CSV", params: dict[str, Any] | None = None) -> Any:
        try:
            connection = self._connection(limited)
            if limited:
                self._scope_reads(connection)
            return connection.query(sql, output, params=bind(params or {}))
        except _ENGINE_ERRORS as exc:
            self._discard(limited)
            raise classify(str(exc), self.limits) from exc

    def execute(self, sql: str) -> None:
        self._run(sql, limited=False)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        result = self._run(sql, True, "ArrowTable", params)
        return result if isinstance(result, pa.Table) else pa.table({})

    def insert(self, table: str, rows: pa.Table, settings: str = "") -> None:
        # Not `send_insert` (streaming): on a full disk it reported success while the
        # engine dropped the rows. chDB's Python() table function reads the Arrow table
        # in place and surfaces every engine error.
        rows = self.projects.stamped(table, rows)
        columns = ", ".join(f"`{name}`" for name in rows.schema.names)
        data = rows  # noqa: F841 - referenced by name from the SQL below
        try:
            self._connection().query(
                f"INSERT INTO {table} ({columns}) SELECT * FROM Python(data)" + (f" SETTINGS {settings}" if settings else "")
            )
        except _ENGINE_ERRORS as exc:
            self._discard(limited=False)
            raise classify_write(str(exc)) from exc


class ChdbTraceStore(SqlTraceStore):
    """The store in `path` (embedded chDB), created on `start()`."""

    def __init__(
        self, path: str, retention_days: int | None = None, metrics: MetricsSpec | None = None,
        limits: QueryLimits | None = None, fsync: bool = False, tail_sampling: bool = False,
    ) -> None:
        self.session = ChdbSession(path, limits)
        super().__init__(self.session, retention_days, metrics, fsync, tail_sampling)
        self.path, self.limits = self.session.path, self.session.limits

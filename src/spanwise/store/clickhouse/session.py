"""The seam between the SQL and a ClickHouse transport: one session object.

Every area's SQL (traces, models, drift, logs, alerts, ...) is a `SqlArea` and reaches the
engine only through `Session`: run a statement, run a read into Arrow, insert an Arrow
table. A transport (chDB in-process today, `chdb.py`; a ClickHouse server over HTTP next)
implements `Session` once, with its read limits, its error classification
(`query_limits.classify`, `classify_write`) and the project scope (`projects.py`); the SQL
is written once for all of them.
"""

from __future__ import annotations

from typing import Any, Protocol

import pyarrow as pa

from spanwise.request_context import DEFAULT_PROJECT
from spanwise.store.clickhouse.projects import ProjectScope


class Session(Protocol):
    """One ClickHouse engine as the SQL uses it."""

    #: The data tables and how a read is limited to the current project.
    projects: ProjectScope

    def start(self) -> bool:
        """Open; True when this call opened it (False: it was open already)."""
        ...

    def shutdown(self) -> None:
        """Close; safe twice."""
        ...

    def execute(self, sql: str) -> None:
        """A statement (DDL, mutations, INSERT ... SELECT), unlimited and unscoped: a
        statement that reads project data names the project itself."""
        ...

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        """A read with `{name:Type}` parameters, within the read limits and the current
        project (`request_context`)."""
        ...

    def insert(self, table: str, rows: pa.Table, settings: str = "") -> None:
        """Insert an Arrow table (stamped with the current project where it has none, with
        optional `SETTINGS`); return once committed. Raises `StoreUnavailable` when a retry
        may succeed, `StoreRejected` when it cannot."""
        ...


class SqlArea:
    """Base of every area's SQL: its statements go through the store's one session."""

    _session: Session

    @property
    def projects(self) -> ProjectScope:
        return self._session.projects

    def _execute(self, sql: str) -> None:
        self._session.execute(sql)

    def _query(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        return self._session.query(sql, params)

    def _insert(self, table: str, rows: pa.Table, settings: str = "") -> None:
        self._session.insert(table, rows, settings)

    def _projects_in(self, table: str) -> list[str]:
        """The projects with rows in `table` that the current context sees (the platform's
        jobs, acting across projects, see all and then work per project); '' (rows an older
        build left in a table keyed by project) is the default project."""
        rows = self._query(f"SELECT DISTINCT Project FROM {table}").column("Project").to_pylist()
        return sorted({p or DEFAULT_PROJECT for p in rows})

"""SQL for access control (`TokenStore`): tokens, projects, audit log; tables in `tokens_schema`."""

from __future__ import annotations

import threading
import time
from typing import Any

import pyarrow as pa

from spanwise.store.clickhouse import tokens_schema
from spanwise.store.clickhouse.tokens_schema import AUDIT_TABLE, PROJECTS_TABLE, TOKENS_TABLE
from spanwise.store.clickhouse.session import SqlArea

_TOKEN_SCHEMA = pa.schema([("Id", pa.string()), ("Hash", pa.string()), ("Name", pa.string()), ("Role", pa.string()),
                           ("Project", pa.string()), ("CreatedMs", pa.int64()), ("ExpiresMs", pa.int64()),
                           ("Revoked", pa.uint8()), ("Version", pa.uint64())])
_PROJECT_SCHEMA = pa.schema([("Name", pa.string()), ("CreatedMs", pa.int64()), ("Version", pa.uint64())])
_AUDIT_SCHEMA = pa.schema([("At", pa.timestamp("ms", tz="UTC")), ("Actor", pa.string()), ("Address", pa.string()),
                           ("Action", pa.string()), ("Detail", pa.string())])
#: Audit entries are kept this many days unless the store was told otherwise (auth.audit_days).
DEFAULT_AUDIT_DAYS = 365
#: Token fields as the store and its callers name them.
TOKEN_FIELDS = {"id": "Id", "hash": "Hash", "name": "Name", "role": "Role", "project": "Project",
                "created_ms": "CreatedMs", "expires_ms": "ExpiresMs", "revoked": "Revoked"}


class SqlTokens(SqlArea):
    """The backend supplies `_execute`/`_query`/`_insert`. Tables are created on first use,
    so a store that never ran with auth never has them."""

    _token_tables_ready = False
    _token_version_lock = threading.Lock()
    _token_last_version = 0




    def prepare_tokens(self, audit_days: int = DEFAULT_AUDIT_DAYS) -> None:
        """Create the tables (first call only) with audit entries kept `audit_days` (0: forever)."""
        if not self._token_tables_ready:
            for statement in tokens_schema.statements():
                self._execute(statement)
            created = self._query(f"SELECT create_table_query AS q FROM system.tables WHERE name = '{AUDIT_TABLE}' "
                                  "AND database = currentDatabase()").to_pylist()
            ttl = tokens_schema.audit_ttl(audit_days, bool(created) and " TTL " in created[0]["q"])
            if ttl:
                self._execute(ttl)
            self._token_tables_ready = True

    def put_token(self, token: dict[str, Any]) -> None:
        """Write a token's newest version (a dict with TOKEN_FIELDS' keys)."""
        self.prepare_tokens()
        row = {column: token[key] for key, column in TOKEN_FIELDS.items()} | {"Version": self._token_version()}
        self._insert(TOKENS_TABLE, pa.Table.from_pylist([row], _TOKEN_SCHEMA))

    def auth_tokens(self) -> list[dict[str, Any]]:
        """The newest version of every token."""
        self.prepare_tokens()
        columns = ", ".join(f"argMax({column}, Version) AS {key}" for key, column in TOKEN_FIELDS.items() if key != "id")
        return self._query(f"SELECT Id AS id, {columns} FROM {TOKENS_TABLE} GROUP BY Id ORDER BY created_ms").to_pylist()

    def put_project(self, name: str, created_ms: int) -> None:
        self.prepare_tokens()
        row = {"Name": name, "CreatedMs": created_ms, "Version": self._token_version()}
        self._insert(PROJECTS_TABLE, pa.Table.from_pylist([row], _PROJECT_SCHEMA))

    def auth_projects(self) -> list[dict[str, Any]]:
        self.prepare_tokens()
        return self._query(
            f"SELECT Name AS name, min(CreatedMs) AS created_ms FROM {PROJECTS_TABLE} GROUP BY Name ORDER BY name"
        ).to_pylist()

    def append_audit(self, rows: list[dict[str, Any]]) -> None:
        """Rows with at_ms, actor, address, action, detail (JSON text)."""
        if not rows:
            return
        self.prepare_tokens()
        columns = {"At": "at_ms", "Actor": "actor", "Address": "address", "Action": "action", "Detail": "detail"}
        self._insert(AUDIT_TABLE, pa.table({name: pa.array([r[key] for r in rows], _AUDIT_SCHEMA.field(name).type)
                                            for name, key in columns.items()}))

    def audit_entries(self, start_ms: int, end_ms: int, action: str = "", limit: int = 1000) -> list[dict[str, Any]]:
        """Entries in [start, end], newest first."""
        self.prepare_tokens()
        return self._query(
            f"""SELECT toInt64(toUnixTimestamp64Milli(At)) AS at_ms, Actor AS actor, Address AS address,
                   Action AS action, Detail AS detail
            FROM {AUDIT_TABLE}
            WHERE At >= fromUnixTimestamp64Milli({{lo:Int64}}) AND At <= fromUnixTimestamp64Milli({{hi:Int64}})
              AND ({{action:String}} = '' OR Action = {{action:String}})
            ORDER BY At DESC LIMIT {{limit:UInt32}}""",
            {"lo": start_ms, "hi": end_ms, "action": action, "limit": limit},
        ).to_pylist()

    def _token_version(self) -> int:
        """Microseconds since the epoch, strictly increasing within this process."""
        with SqlTokens._token_version_lock:
            SqlTokens._token_last_version = max(time.time_ns() // 1000, SqlTokens._token_last_version + 1)
            return SqlTokens._token_last_version

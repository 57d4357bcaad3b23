"""SQL for access control (`TokenStore`): tokens, projects, audit log; tables in `tokens_schema`."""

from __future__ import annotations

import threading
import time

import pyarrow as pa

from spanwise.store.clickhouse import tokens_schema
from spanwise.store.clickhouse.tokens_schema import AUDIT_TABLE, PROJECTS_TABLE, TOKENS_TABLE
from spanwise.store.clickhouse.session import SqlArea
from spanwise.store.protocols import ApiToken, AuditEntry, Project

_TOKEN_SCHEMA = pa.schema([("Id", pa.string()), ("Hash", pa.string()), ("Name", pa.string()), ("Role", pa.string()),
                           ("Project", pa.string()), ("CreatedMs", pa.int64()), ("ExpiresMs", pa.int64()),
                           ("Revoked", pa.uint8()), ("Version", pa.uint64())])
_PROJECT_SCHEMA = pa.schema([("Name", pa.string()), ("CreatedMs", pa.int64()), ("Version", pa.uint64())])
_AUDIT_SCHEMA = pa.schema([("At", pa.timestamp("ms", tz="UTC")), ("Actor", pa.string()), ("Address", pa.string()),
                           ("Action", pa.string()), ("Detail", pa.string())])
#: Audit entries are kept this many days unless the store was told otherwise (auth.audit_days).
DEFAULT_AUDIT_DAYS = 365
#: `ApiToken`'s fields and their columns.
_TOKEN_FIELDS = {"id": "Id", "hash": "Hash", "name": "Name", "role": "Role", "project": "Project",
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

    def put_token(self, token: ApiToken) -> None:
        self.prepare_tokens()
        row = {"Id": token.id, "Hash": token.hash, "Name": token.name, "Role": token.role, "Project": token.project,
               "CreatedMs": token.created_ms, "ExpiresMs": token.expires_ms, "Revoked": int(token.revoked),
               "Version": self._token_version()}
        self._insert(TOKENS_TABLE, pa.Table.from_pylist([row], _TOKEN_SCHEMA))

    def auth_tokens(self) -> list[ApiToken]:
        self.prepare_tokens()
        columns = ", ".join(f"argMax({column}, Version) AS {key}" for key, column in _TOKEN_FIELDS.items() if key != "id")
        rows = self._query(f"SELECT Id AS id, {columns} FROM {TOKENS_TABLE} GROUP BY Id ORDER BY created_ms").to_pylist()
        return [ApiToken(**r | {"revoked": bool(r["revoked"])}) for r in rows]

    def put_project(self, project: Project) -> None:
        self.prepare_tokens()
        row = {"Name": project.name, "CreatedMs": project.created_ms, "Version": self._token_version()}
        self._insert(PROJECTS_TABLE, pa.Table.from_pylist([row], _PROJECT_SCHEMA))

    def auth_projects(self) -> list[Project]:
        self.prepare_tokens()
        rows = self._query(
            f"SELECT Name AS name, min(CreatedMs) AS created_ms FROM {PROJECTS_TABLE} GROUP BY Name ORDER BY name"
        ).to_pylist()
        return [Project(**r) for r in rows]

    def append_audit(self, entries: list[AuditEntry]) -> None:
        if not entries:
            return
        self.prepare_tokens()
        columns = {"At": [e.at_ms for e in entries], "Actor": [e.actor for e in entries],
                   "Address": [e.address for e in entries], "Action": [e.action for e in entries],
                   "Detail": [e.detail for e in entries]}
        self._insert(AUDIT_TABLE, pa.table({name: pa.array(values, _AUDIT_SCHEMA.field(name).type)
                                            for name, values in columns.items()}))

    def audit_entries(self, start_ms: int, end_ms: int, action: str = "", limit: int = 1000) -> list[AuditEntry]:
        self.prepare_tokens()
        rows = self._query(
            f"""SELECT toInt64(toUnixTimestamp64Milli(At)) AS at_ms, Actor AS actor, Address AS address,
                   Action AS action, Detail AS detail
            FROM {AUDIT_TABLE}
            WHERE At >= fromUnixTimestamp64Milli({{lo:Int64}}) AND At <= fromUnixTimestamp64Milli({{hi:Int64}})
              AND ({{action:String}} = '' OR Action = {{action:String}})
            ORDER BY At DESC LIMIT {{limit:UInt32}}""",
            {"lo": start_ms, "hi": end_ms, "action": action, "limit": limit},
        ).to_pylist()
        return [AuditEntry(**r) for r in rows]

    def _token_version(self) -> int:
        """Microseconds since the epoch, strictly increasing within this process."""
        with SqlTokens._token_version_lock:
            SqlTokens._token_last_version = max(time.time_ns() // 1000, SqlTokens._token_last_version + 1)
            return SqlTokens._token_last_version

"""The audit log: who did what, when, from where. Append-only (the store only inserts).

Handlers of access control record their own actions (sign-ins, token and project
changes); `AuditTrail` middleware records the other audited routes
(`serve.access.AUDITED`: exports, baseline uploads, feedback writes, quarantine replays)
once they answered successfully, without touching their handlers.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spanwise.errors import SpanwiseError
from spanwise.serve.access import RouteTable
from spanwise.store.protocols import AuditEntry, TokenStore

log = logging.getLogger(__name__)


class AuditLog:
    """Writes and reads audit entries in the store."""

    def __init__(self, store: TokenStore) -> None:
        self._store = store

    @staticmethod
    def now_ms() -> int:
        return time.time_ns() // 1_000_000

    def record(self, request: Request, action: str, detail: dict[str, Any], who: str = "") -> None:
        """Append one entry (blocking: call from a worker thread). A store failure is
        logged, not raised: the action itself already happened."""
        self.append(request.scope, action, detail, who)

    def append(self, scope: Scope, action: str, detail: dict[str, Any], who: str = "") -> None:
        principal = scope.get("state", {}).get("principal")
        actor = who or (f"{principal.name} ({principal.token_id}, {principal.role})" if principal else "")
        client = scope.get("client")
        entry = AuditEntry(self.now_ms(), actor, client[0] if client else "", action,
                           json.dumps(detail, default=str, sort_keys=True))
        try:
            self._store.append_audit([entry])
        except SpanwiseError as exc:
            log.error("audit entry lost (%s %s): %s", action, actor, exc)

    def entries(self, start_ms: int, end_ms: int, action: str = "", limit: int = 1000) -> list[AuditEntry]:
        return self._store.audit_entries(start_ms, end_ms, action, limit)


class AuditTrail:
    """Pure ASGI middleware: after a 2xx answer on an audited route, append an entry with
    the route's path parameters and query string."""

    def __init__(self, app: ASGIApp, audit: AuditLog, table: Any) -> None:
        self.app = app
        self.audit = audit
        self.table = table  # Callable[[], RouteTable]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        table: RouteTable = self.table()
        action = table.audited(scope)
        if action is None:
            await self.app(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if 200 <= status < 300:
            detail = {"path": scope["path"], "query": scope.get("query_string", b"").decode("latin-1")}
            await run_in_threadpool(self.audit.append, scope, action, detail)

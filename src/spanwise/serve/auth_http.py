"""Credentials on HTTP (:16686 and :4318) and gRPC (:4317): who is calling, and may they.

`AccessControl` is pure ASGI middleware (it never touches the body): it looks the route up
in `serve.access`, lets public routes through, and otherwise needs `Authorization: Bearer
<token>` or, on the query API, the web UI's session cookie. No or a bad credential is 401
(gRPC UNAUTHENTICATED), a role that may not call the route 403 (PERMISSION_DENIED). A write
authenticated by the cookie must also carry the session's CSRF token in `X-Spanwise-CSRF`:
a cross-site page can make the browser send the cookie (SameSite aside), never that header.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from typing import Callable

import grpc
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from spanwise.serve.access import GRPC_ROLE, PUBLIC, RouteTable, allowed
from spanwise.serve.auth import Authority, Principal, bearer

SESSION_COOKIE = "spanwise_session"
CSRF_COOKIE = "spanwise_csrf"
CSRF_HEADER = "x-spanwise-csrf"
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MISSING = "authentication required: send Authorization: Bearer <token>, or sign in to the web UI"
INVALID = "invalid, expired or revoked token"

#: (status, message, request headers) -> the response to send.
Render = Callable[[int, str, Headers], Response]


def json_error(status: int, message: str, headers: Headers) -> Response:
    extra = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return JSONResponse({"error": {"status": status, "message": message}}, status, extra)


class Sessions:
    """Web UI sign-ins in memory: session id -> (token id, CSRF token, expiry). A restart
    signs everyone out; at most `limit` sessions (the oldest go first)."""

    def __init__(self, hours: float, limit: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = hours * 3600
        self._limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, tuple[str, str, float]] = OrderedDict()

    @property
    def max_age_s(self) -> int:
        return int(self._ttl)

    def create(self, token_id: str) -> tuple[str, str]:
        """A new (session id, CSRF token)."""
        session, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[session] = (token_id, csrf, self._clock() + self._ttl)
            while len(self._sessions) > self._limit:
                self._sessions.popitem(last=False)
        return session, csrf

    def resolve(self, session: str) -> tuple[str, str] | None:
        """(token id, CSRF token) of a live session."""
        with self._lock:
            found = self._sessions.get(session)
            if found and found[2] <= self._clock():
                del self._sessions[session]
                found = None
        return (found[0], found[1]) if found else None

    def end(self, session: str) -> None:
        with self._lock:
            self._sessions.pop(session, None)


class SignInLimiter:
    """At most `per_minute` sign-in attempts per client address in any 60 s; bounded memory."""

    def __init__(self, per_minute: int, max_addresses: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._max = max_addresses
        self._clock = clock
        self._lock = threading.Lock()
        self._attempts: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str) -> float:
        """0 and the attempt counted, or the seconds until the next attempt is allowed."""
        now = self._clock()
        with self._lock:
            attempts = self._attempts.pop(address, None) or deque()
            while attempts and attempts[0] <= now - 60:
                attempts.popleft()
            self._attempts[address] = attempts
            while len(self._attempts) > self._max:
                self._attempts.popitem(last=False)
            if len(attempts) >= self._per_minute:
                return attempts[0] + 60 - now
            attempts.append(now)
            return 0.0


class AccessControl:
    """Pure ASGI middleware enforcing `serve.access` rules on one app."""

    def __init__(self, app: ASGIApp, authority: Authority, table: Callable[[], RouteTable],
                 sessions: Sessions | None = None, render: Render = json_error) -> None:
        self.app = app
        self.authority = authority
        self.table = table
        self.sessions = sessions
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        needed = self.table().needed(scope)
        if needed != PUBLIC:
            headers = Headers(scope=scope)
            principal, refusal = self.check(scope, headers, needed)
            if refusal:
                await self.render(refusal[0], refusal[1], headers)(scope, receive, send)
                return
            scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    def check(self, scope: Scope, headers: Headers, needed: str) -> tuple[Principal | None, tuple[int, str] | None]:
        """(principal, None), or (None, (status, message)) when the request must be refused."""
        token = bearer(headers.get("authorization"))
        csrf = None
        if token:
            principal = self.authority.authenticate(token)
            if principal is None:
                return None, (401, INVALID)
        else:
            principal, csrf = self._session(headers)
            if principal is None:
                return None, (401, MISSING)
            if scope["method"] in _WRITES and not secrets.compare_digest(headers.get(CSRF_HEADER, ""), csrf or ""):
                return None, (403, f"a write signed in by cookie needs the {CSRF_HEADER} header (CSRF protection)")
        if not allowed(principal.role, needed):
            return None, (403, f"role {principal.role!r} may not {scope['method']} {scope['path']} (needs {needed})")
        return principal, None

    def _session(self, headers: Headers) -> tuple[Principal | None, str | None]:
        if self.sessions is None:
            return None, None
        session = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
        found = self.sessions.resolve(session) if session else None
        if found is None:
            return None, None
        return self.authority.principal(found[0]), found[1]


GrpcRefusal = tuple[grpc.StatusCode, str]


def grpc_principal(authority: Authority, metadata: object) -> tuple[Principal | None, GrpcRefusal | None]:
    """(principal, None), or (None, why the call must be refused: UNAUTHENTICATED /
    PERMISSION_DENIED). `metadata` is the call's invocation metadata (key, value) pairs."""
    header = next((str(v) for k, v in metadata or () if k == "authorization"), None)  # type: ignore[attr-defined]
    token = bearer(header)
    if not token:
        return None, (grpc.StatusCode.UNAUTHENTICATED, "authentication required: send authorization: Bearer <token> metadata")
    principal = authority.authenticate(token)
    if principal is None:
        return None, (grpc.StatusCode.UNAUTHENTICATED, INVALID)
    if not allowed(principal.role, GRPC_ROLE):
        return None, (grpc.StatusCode.PERMISSION_DENIED, f"role {principal.role!r} may not send telemetry (needs {GRPC_ROLE})")
    return principal, None

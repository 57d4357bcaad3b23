"""Browser-borne writes and DNS rebinding on the query API (:16686).

A web page the user visits can send requests to Spanwise from the browser: writes with
`fetch(..., {mode: "no-cors"})` (no preflight when the content type is a "simple" one or
missing) and, after rebinding its own DNS name to 127.0.0.1, reads and writes under its
own origin. `RequestGuard` refuses:

- a Host that is not allowed (400): localhost, IP literals (rebinding needs a DNS
  name), this machine's host name, the listen host and `server.allowed_hosts` are;
  `"*"` in that list turns the check off;
- a write (POST/PUT/PATCH/DELETE) whose Origin is not the Host it was sent to nor a
  name in `server.allowed_hosts` (403);
- a write with a body whose content type is not one the API reads (415): browsers
  cannot send these cross-origin without a CORS preflight, which Spanwise never grants.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from spanwise.config import ServerConfig

WRITE_TYPES = frozenset({
    "application/json", "text/csv", "application/x-ndjson",
    "application/vnd.apache.parquet", "application/x-parquet", "application/octet-stream",
})
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ANY_ADDRESS = ("", "0.0.0.0", "::", "[::]")


def request_guard(server: ServerConfig) -> Middleware:
    """The guard for the query app, allowing the hosts `server` names."""
    trusted = frozenset(h.strip().lower() for h in server.allowed_hosts if h != "*")
    return Middleware(RequestGuard, allowed_hosts=allowed_hosts(server), trusted_origins=trusted)


def allowed_hosts(server: ServerConfig) -> frozenset[str] | None:
    """Host names (lower case, no port) the query API answers; None means any."""
    if "*" in server.allowed_hosts:
        return None
    names = {"localhost", socket.gethostname().lower()} | {h.strip().lower() for h in server.allowed_hosts}
    if server.host not in _ANY_ADDRESS:
        names.add(server.host.strip("[]").lower())
    return frozenset(names)


class RequestGuard:
    """Pure ASGI middleware (no body buffering): checks headers only."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str] | None,
                 trusted_origins: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.trusted_origins = trusted_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.refusal(scope)
            if refusal:
                status, message = refusal
                await JSONResponse({"error": {"status": status, "message": message}}, status)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """(status, message) when the request must be refused, else None."""
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if not self._host_allowed(_hostname(host)):
            return 400, (f"host {host!r} is not allowed (DNS-rebinding guard): "
                         "add it to server.allowed_hosts, or use localhost or an IP address")
        if scope["method"] not in _WRITES:
            return None
        origin = headers.get("origin")
        if origin is not None and not self._origin_allowed(origin, host):
            return 403, f"cross-origin write from {origin!r} refused"
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if _has_body(headers) and content_type not in WRITE_TYPES:
            return 415, (f"unsupported content type {content_type or '(none)'!r} for a write: "
                         f"use one of {', '.join(sorted(WRITE_TYPES))}")
        return None

    def _origin_allowed(self, origin: str, host: str) -> bool:
        """Same origin as the Host, or a host name listed in `server.allowed_hosts`
        (a reverse proxy that rewrites Host)."""
        parts = urlsplit(origin)
        return parts.netloc.lower() == host.strip().lower() or (parts.hostname or "") in self.trusted_origins

    def _host_allowed(self, name: str) -> bool:
        if self.allowed_hosts is None or not name or name in self.allowed_hosts:
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True


def _hostname(host: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _has_body(headers: Headers) -> bool:
    return headers.get("content-length", "0").strip() not in ("", "0") or "transfer-encoding" in headers

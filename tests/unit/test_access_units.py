"""The pure parts of access control: bearer parsing, loopback, expiry times, sessions,
the sign-in limiter and the route table."""

from __future__ import annotations

import pytest
from starlette.routing import Route

from spanwise.errors import InvalidQuery
from spanwise.serve.access import ADMIN, EDITOR, UNKNOWN, UNRULED, VIEWER, RouteTable, allowed, is_loopback
from spanwise.serve.auth import bearer
from spanwise.serve.auth_api import parse_expires
from spanwise.serve.auth_http import Sessions, SignInLimiter


def test_bearer() -> None:
    assert bearer("Bearer abc") == "abc" and bearer("bearer  abc ") == "abc"
    assert bearer(None) is None and bearer("Basic abc") is None and bearer("Bearer") is None


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("[::1]", True),
                                            ("localhost", True), ("0.0.0.0", False), ("::", False), ("", False),
                                            ("10.1.2.3", False), ("my-host", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_parse_expires() -> None:
    assert parse_expires(None) == 0
    assert parse_expires("2027-01-31T00:00:00Z") == 1_801_353_600_000
    assert parse_expires(1_801_353_600) == 1_801_353_600_000
    for bad in ("2027-01-31T00:00:00", "soon", True, -5, float("nan"), 10**12):
        with pytest.raises(InvalidQuery):
            parse_expires(bad)


def test_sessions_expire_and_are_bounded() -> None:
    now = [0.0]
    sessions = Sessions(hours=1, limit=2, clock=lambda: now[0])
    first, _ = sessions.create("t1")
    second, csrf = sessions.create("t2")
    assert sessions.resolve(second) == ("t2", csrf)
    sessions.create("t3")
    assert sessions.resolve(first) is None, "the oldest goes past the limit"
    now[0] = 3601
    assert sessions.resolve(second) is None


def test_sign_in_limiter() -> None:
    now = [0.0]
    limiter = SignInLimiter(per_minute=3, max_addresses=2, clock=lambda: now[0])
    assert [limiter.retry_after("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.retry_after("a") == 60
    assert limiter.retry_after("b") == 0
    now[0] = 61
    assert limiter.retry_after("a") == 0


def test_route_table_and_roles() -> None:
    routes = [Route("/api/v1/traces/{trace_id}", lambda r: None), Route("/api/v1/new-thing", lambda r: None, methods=["POST"])]
    table = RouteTable(routes)
    def needed(method: str, path: str = "/api/v1/traces/abc") -> str:
        return table.needed({"type": "http", "method": method, "path": path, "root_path": ""})

    assert needed("GET") == VIEWER and needed("HEAD") == VIEWER
    assert needed("DELETE") == UNKNOWN
    assert needed("POST", "/api/v1/new-thing") == UNRULED == ADMIN
    assert table.unruled == ["POST /api/v1/new-thing"]
    assert allowed(EDITOR, VIEWER) and not allowed(VIEWER, EDITOR) and not allowed("ingest", VIEWER)
    assert allowed(ADMIN, "ingest") and not allowed(EDITOR, "ingest") and allowed("ingest", UNKNOWN)

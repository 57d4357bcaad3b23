"""Every route of the running server x every kind of caller, generated from the server's own
route table (`GET /api/v1/access`): a route added without a rule in serve/access.py fails
here, and so does a rule that lets the wrong role through."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import httpx
import pytest
from server_process import SpanwiseProcess

from spanwise.serve.access import RULES

pytestmark = pytest.mark.slow

#: A role that must be refused for each required role.
WRONG = {"ingest": "viewer", "viewer": "ingest", "editor": "viewer", "admin": "editor"}
_CLIENT = httpx.Client()  # one connection pool: a new client per request costs more than the request
_PARAMS = {"trace_id": "0123456789abcdef0123456789abcdef", "path": "traces", "path:path": "traces"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    process = SpanwiseProcess(str(tmp_path_factory.mktemp("matrix-data")), auth=True)
    process.start()
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def tokens(server: SpanwiseProcess) -> dict[str, str]:
    """One live token per role, plus a revoked and an (already) expired one."""
    found = {"admin": server.admin_token or ""}
    for role in ("ingest", "viewer", "editor", "admin-2"):
        found[role] = _issue(server, role.split("-")[0])["token"]
    revoked = _issue(server, "admin")
    assert httpx.delete(f"{server.query_url}/api/v1/tokens/{revoked['id']}", headers=server.auth_headers()).status_code == 200
    found["revoked"] = revoked["token"]
    found["expired"] = _issue(server, "admin", (datetime.now(timezone.utc) + timedelta(seconds=1)).isoformat())["token"]
    found["forged"] = "sw_" + "x" * 43
    time.sleep(1.1)
    return found


def _issue(server: SpanwiseProcess, role: str, expires: str | None = None) -> dict[str, Any]:
    body = {"name": f"m-{role}-{time.monotonic_ns()}", "role": role, "project": "default"}
    if expires:
        body["expires"] = expires
    answer = httpx.post(f"{server.query_url}/api/v1/tokens", json=body, headers=server.auth_headers())
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.fixture(scope="module")
def table(server: SpanwiseProcess) -> dict[str, Any]:
    answer = httpx.get(f"{server.query_url}/api/v1/access", headers=server.auth_headers())
    assert answer.status_code == 200
    return dict(answer.json())


def _call(server: SpanwiseProcess, route: dict[str, str], token: str | None) -> int:
    path = re.sub(r"\{([^}]+)\}", lambda m: _PARAMS.get(m.group(1), "x"), route["path"])
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = b"{}" if route["method"] in ("POST", "PUT") else None
    if (route["method"], route["path"]) == ("POST", "/api/v1/session"):  # a wrong token is its own 401
        body = b'{"token": "%s"}' % (server.admin_token or "").encode()
    if body is not None:
        headers["Content-Type"] = "application/json"
    answer = _CLIENT.request(route["method"], f"{server.query_url}{path}", content=body, headers=headers, timeout=60)
    return answer.status_code


def test_every_route_has_a_rule(table: dict[str, Any]) -> None:
    assert table["unruled"] == [], "add these routes to serve/access.py RULES"
    served = {f"{r['method']} {r['path']}" for r in table["routes"]}
    stale = {key for key in RULES if key not in served and not key.split(" ")[1].startswith("/v1/")}
    assert not stale, f"rules for routes that do not exist: {stale}"
    assert len(table["routes"]) > 50


def test_role_route_matrix(server: SpanwiseProcess, table: dict[str, Any], tokens: dict[str, str]) -> None:
    failures = []
    for route in table["routes"]:
        role, what = route["role"], f"{route['method']} {route['path']}"
        if role == "public":
            if (status := _call(server, route, None)) in (401, 403):
                failures.append(f"{what}: public, but {status} without a credential")
            continue
        for caller in ("none", "forged", "revoked", "expired"):
            if (status := _call(server, route, tokens.get(caller))) != 401:
                failures.append(f"{what}: {caller} credential got {status}, not 401")
        if (status := _call(server, route, tokens[WRONG[role]])) != 403:
            failures.append(f"{what}: role {WRONG[role]} got {status}, not 403")
        right = {"ingest": "ingest", "viewer": "viewer", "editor": "editor", "admin": "admin-2"}[role]
        for caller in {right, "admin"}:
            if (status := _call(server, route, tokens[caller])) in (401, 403):
                failures.append(f"{what}: role {caller} got {status}")
    assert not failures, "\n".join(failures)


def test_unknown_paths_need_a_credential_before_they_answer_404(server: SpanwiseProcess, tokens: dict[str, str]) -> None:
    for method, path in (("POST", "/api/v1/nothing-here"), ("DELETE", "/api/v1/traces"), ("PUT", "/metrics")):
        assert httpx.request(method, f"{server.query_url}{path}").status_code == 401
        known = httpx.request(method, f"{server.query_url}{path}", headers={"Authorization": f"Bearer {tokens['viewer']}"})
        assert known.status_code in (404, 405)

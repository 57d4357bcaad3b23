"""Projects in the web UI: every signed-in user sees which project the pages show, a
viewer sees only its own project's services, and an admin switches project in the header."""

from __future__ import annotations

import time
from typing import Any, Iterator

import httpx
import pytest
from playwright.sync_api import expect
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    process = SpanwiseProcess(str(tmp_path_factory.mktemp("picker-data")), auth=True)
    process.start()
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def base_url(server: SpanwiseProcess) -> str:
    return server.query_url


def _token(server: SpanwiseProcess, project: str, role: str) -> str:
    answer = httpx.post(f"{server.query_url}/api/v1/tokens", headers=server.auth_headers(),
                        json={"name": f"{project}-{role}", "role": role, "project": project})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def _send(server: SpanwiseProcess, token: str, service: str) -> None:
    now = time.time_ns()
    span = {"traceId": f"{now:032x}", "spanId": f"{now:016x}"[-16:], "name": "GET /", "kind": 2,
            "startTimeUnixNano": str(now - 10**6), "endTimeUnixNano": str(now)}
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                               "scopeSpans": [{"spans": [span]}]}]}
    answer = httpx.post(f"{server.http_url}/v1/traces", json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def tokens(server: SpanwiseProcess) -> dict[str, str]:
    assert httpx.post(f"{server.query_url}/api/v1/projects", json={"name": "blue"},
                      headers=server.auth_headers()).status_code == 200
    _send(server, _token(server, "default", "ingest"), "default-shop")
    _send(server, _token(server, "blue", "ingest"), "blue-shop")
    viewer = _token(server, "blue", "viewer")
    assert server.wait_for(lambda: httpx.get(f"{server.query_url}/api/v1/services",
                                             headers=server.auth_headers(viewer)).json()["services"] == ["blue-shop"])
    return {"viewer": viewer, "admin": str(server.admin_token)}


def _sign_in(ui: Any, token: str) -> Any:
    page = ui.open("/signin?next=%2Fservices")
    page.fill("#signin-token", token)
    page.click("#signin-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Services")
    return page


def test_a_viewer_sees_its_project_only(ui: Any, tokens: dict[str, str]) -> None:
    page = _sign_in(ui, tokens["viewer"])
    expect(page.locator("#project-select")).to_have_value("blue")
    expect(page.locator("#project-select")).to_be_disabled()
    expect(page.locator("tr.service-row")).to_have_count(1)
    expect(page.locator("tr.service-row").first).to_contain_text("blue-shop")


def test_an_admin_switches_project(ui: Any, tokens: dict[str, str]) -> None:
    page = _sign_in(ui, tokens["admin"])
    picker = page.locator("#project-select")
    expect(picker).to_have_value("default")
    expect(page.locator("tr.service-row")).to_have_count(1)
    expect(page.locator("tr.service-row").first).to_contain_text("default-shop")
    picker.select_option("blue")
    expect(page.locator("#project-select")).to_have_value("blue")
    expect(page.locator("tr.service-row").first).to_contain_text("blue-shop")
    expect(page.locator("tr.service-row")).to_have_count(1)
    ui.shot("admin-in-blue")
    picker = page.locator("#project-select")
    picker.select_option("default")
    expect(page.locator("tr.service-row").first).to_contain_text("default-shop")


def test_an_admin_whose_picked_project_no_longer_exists_is_back_in_its_own(ui: Any, tokens: dict[str, str]) -> None:
    """A pick left in the browser that names no project (the server refuses it with a 404):
    the picker still lists every project, the pick is dropped and the pages show the admin's own."""
    page = _sign_in(ui, tokens["admin"])
    page.evaluate("window.localStorage.setItem('spanwise_project', 'ghost')")
    page.reload()
    picker = page.locator("#project-select")
    expect(picker).to_have_value("default")
    expect(picker.locator("option")).to_have_count(2)
    expect(page.locator("tr.service-row").first).to_contain_text("default-shop")
    assert page.evaluate("window.localStorage.getItem('spanwise_project')") is None

"""The web UI on a server with auth: sign in by pasting a token, a session cookie that
scripts cannot read, CSRF-protected writes, signing out, and a sign-in rate limit."""

from __future__ import annotations

from typing import Any, Iterator

import httpx
import pytest
from playwright.sync_api import expect
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    process = SpanwiseProcess(str(tmp_path_factory.mktemp("signin-data")), auth=True)
    process.start()
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def base_url(server: SpanwiseProcess) -> str:
    return server.query_url


@pytest.fixture(scope="module")
def editor(server: SpanwiseProcess) -> str:
    answer = httpx.post(f"{server.query_url}/api/v1/tokens", headers=server.auth_headers(),
                        json={"name": "ana", "role": "editor", "project": "default"})
    assert answer.status_code == 200
    return str(answer.json()["token"])


def _forget_refusals(ui: Any) -> None:
    """The browser logs every 4xx answer as a console error; these were expected."""
    ui.errors[:] = [e for e in ui.errors if not any(f"status of {code}" in e for code in (400, 401, 403))]


_WRITE = """async (csrf) => {
  const headers = {'Content-Type': 'application/json'};
  if (csrf) headers['X-Spanwise-CSRF'] = document.cookie.match(/spanwise_csrf=([^;]+)/)[1];
  const answer = await fetch('/api/v1/feedback', {method: 'POST', headers, body: '{"prediction_id": "p1", "label": 1}'});
  return [answer.status, await answer.text()];
}"""


def test_sign_in_use_the_ui_and_sign_out(ui: Any, server: SpanwiseProcess, editor: str) -> None:
    page = ui.open("/services?lookback=6h")
    expect(page).to_have_url(f"{server.query_url}/signin?next=%2Fservices%3Flookback%3D6h")
    expect(page.locator("#signin-form")).to_be_visible()
    ui.shot("signin")

    page.fill("#signin-token", "sw_not-a-real-token")
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#signin-message")).to_contain_text("not valid")
    _forget_refusals(ui)

    page.fill("#signin-token", editor)
    page.click("#signin-form button[type=submit]")
    expect(page).to_have_url(f"{server.query_url}/services?lookback=6h")
    expect(page.locator("h1")).to_have_text("Services")
    expect(page.locator("#sign-out")).to_have_text("Sign out ana")
    ui.shot("signed-in")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["spanwise_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict" and not session["secure"]
    assert "spanwise_session" not in page.evaluate("document.cookie"), "scripts cannot read the session"
    assert editor not in str(cookies), "the token itself is not kept in the browser"

    status, text = page.evaluate(_WRITE, False)
    assert status == 403 and "CSRF" in text
    status, text = page.evaluate(_WRITE, True)
    assert status not in (401, 403), text
    _forget_refusals(ui)

    page.click("#sign-out")
    expect(page).to_have_url(f"{server.query_url}/signin")
    old = httpx.get(f"{server.query_url}/api/v1/status", cookies={"spanwise_session": session["value"]})
    assert old.status_code == 401


def test_revoking_the_token_ends_its_sessions(ui: Any, server: SpanwiseProcess) -> None:
    issued = httpx.post(f"{server.query_url}/api/v1/tokens", headers=server.auth_headers(),
                        json={"name": "bo", "role": "viewer", "project": "default"}).json()
    page = ui.open("/signin")
    page.fill("#signin-token", issued["token"])
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#sign-out")).to_have_text("Sign out bo")
    # Leave the signed-in page first: its own next request after the revoke (a health poll)
    # would send it to the sign-in page too, racing the navigation below (ERR_ABORTED).
    page.goto("about:blank")
    httpx.delete(f"{server.query_url}/api/v1/tokens/{issued['id']}", headers=server.auth_headers())
    page.goto(f"{server.query_url}/models")
    expect(page).to_have_url(f"{server.query_url}/signin?next=%2Fmodels")
    _forget_refusals(ui)


def test_cookie_is_secure_behind_https_and_sign_in_is_rate_limited(server: SpanwiseProcess, editor: str) -> None:
    url = f"{server.query_url}/api/v1/session"
    secure = httpx.post(url, json={"token": editor}, headers={"X-Forwarded-Proto": "https"})
    assert secure.status_code == 200
    assert "secure" in secure.headers.get_list("set-cookie")[0].lower()
    statuses = [httpx.post(url, json={"token": f"sw_guess{i}"}).status_code for i in range(12)]
    assert 429 in statuses and statuses[0] == 401
    refused = httpx.post(url, json={"token": editor})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    audit = httpx.get(f"{server.query_url}/api/v1/audit", headers=server.auth_headers(), params={"action": "signin.failed"})
    assert len(audit.json()["entries"]) >= 5

"""Browser fixtures: Debian's Chromium driven by Playwright against a real `spanwise serve`.

Every page a test opens is checked for JavaScript errors (console errors and uncaught
exceptions) when the test ends, and a screenshot of it is saved under
`test-artifacts/ui/` (look at them: a page can pass its assertions and still look wrong).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright
from chromium import CHROMIUM, CHROMIUM_FLAGS
from server_process import SpanwiseProcess
from ui_traffic import Sent, send_shop

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module, not per session: Playwright's sync API keeps an asyncio loop running
    while it is started, and later tests that call asyncio.run() would fail."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield launched
        launched.close()


class BrowserPage:
    """A Playwright page that records JavaScript errors and saves named screenshots."""

    def __init__(self, page: Page, base_url: str, test_name: str) -> None:
        self.page = page
        self.base_url = base_url
        self.test_name = re.sub(r"[^\w.-]+", "_", test_name)
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("dialog", lambda dialog: self.errors.append(f"dialog opened: {dialog.message}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def open(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        return self.page

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.test_name}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def ui(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserPage]:
    """A fresh browser context on the module's server (`base_url` fixture of the module)."""
    base_url = request.getfixturevalue("base_url")
    context = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme="light")
    page = context.new_page()
    page.set_default_timeout(15_000)
    wrapped = BrowserPage(page, base_url, request.node.name)
    yield wrapped
    try:
        wrapped.shot("final")
    except Error:
        pass
    context.close()
    assert not wrapped.errors, f"JavaScript errors on {request.node.name}: {wrapped.errors}"


@pytest.fixture(scope="module")
def shop(server: SpanwiseProcess) -> Sent:
    """The shop's traffic (tests/support/ui_traffic.py) in the module's server, stored."""
    sent = send_shop(server.grpc_endpoint)
    assert server.wait_for(lambda: server.status()["predictions"] >= len(sent.predictions)), server.log()
    return sent

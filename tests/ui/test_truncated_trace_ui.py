"""A trace bigger than the server's page in a real browser: the trace view says
"Showing N of M spans", loads the next page on demand, and a normal trace shows no notice."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import expect
from server_process import SpanwiseProcess
from ui_traffic import send_big_trace

PAGE = 1000  # server.max_trace_spans of this module's server
SPANS = 2500

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    base: Path = tmp_path_factory.mktemp("truncated-ui")
    config = base / "spanwise.yaml"
    config.write_text(f"server:\n  max_trace_spans: {PAGE}\n")
    process = SpanwiseProcess(str(base / "data"), extra_args=["--config", str(config)])
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def traces(server: SpanwiseProcess) -> tuple[str, str]:
    """(a SPANS-span trace, a 50-span trace), both stored."""
    big, small = send_big_trace(server.grpc_endpoint, SPANS), send_big_trace(server.grpc_endpoint, 50)
    for trace_id, total in ((big, SPANS), (small, 50)):
        assert server.wait_for(
            lambda: server.query(f"/api/v1/traces/{trace_id}").json().get("totalSpans") == total, timeout=60
        ), server.log()
    return big, small


@pytest.fixture(scope="module")
def base_url(server: SpanwiseProcess, traces: tuple[str, str]) -> str:
    return server.query_url


def test_truncated_trace_says_so_and_loads_more(ui, traces: tuple[str, str]) -> None:
    page = ui.open(f"/trace/{traces[0]}")
    notice = page.locator("#trace-truncated")
    expect(notice).to_contain_text("Showing 1,000 of 2,500 spans")
    expect(page.locator("#trace-span-count")).to_contain_text("1,000 of 2,500")
    expect(page.locator("#waterfall")).to_have_attribute("data-rows", str(PAGE))
    ui.shot("first-page")
    page.click("#load-more-spans")
    expect(notice).to_contain_text("Showing 2,000 of 2,500 spans")
    expect(page.locator("#load-more-spans")).to_have_text("Load next 500 spans")
    page.click("#load-more-spans")
    expect(page.locator("#trace-span-count")).to_have_text("Spans2500")
    expect(page.locator("#trace-truncated")).to_have_count(0)
    expect(page.locator("#waterfall")).to_have_attribute("data-rows", str(SPANS))
    ui.shot("all-pages")


def test_normal_trace_has_no_notice(ui, traces: tuple[str, str]) -> None:
    page = ui.open(f"/trace/{traces[1]}")
    expect(page.locator("#trace-span-count")).to_contain_text("50")
    expect(page.locator(".wf-row").first).to_be_visible()
    expect(page.locator("#trace-truncated")).to_have_count(0)

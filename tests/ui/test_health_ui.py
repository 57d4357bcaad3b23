"""The platform's own trouble is visible in the UI: batches the store refused (the ingest
log's quarantine) show as a banner on every page, with what to do about them."""

from __future__ import annotations

import os
from typing import Iterator

import pytest
from playwright.sync_api import expect
from server_process import SpanwiseProcess

from spanwise.store import segment_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    """A server whose ingest log holds a segment damaged on disk (a bad frame header)."""
    data_dir = os.path.join(tmp_path_factory.mktemp("health"), "data")
    log_dir = os.path.join(data_dir, "ingest-log")
    os.makedirs(log_dir)
    with open(os.path.join(log_dir, f"{segment_file.PREFIX}00000000000000000001-000001{segment_file.SUFFIX}"), "wb") as bad:
        bad.write(b"NOPE" + b"\x00" * 64)
    process = SpanwiseProcess(data_dir)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def base_url(server: SpanwiseProcess) -> str:
    assert server.wait_for(lambda: server.status()["quarantine"]["segments"] == 1), server.status()
    return server.query_url


def test_quarantined_batches_show_on_every_page(ui: object) -> None:
    for path in ("/traces", "/models"):
        page = ui.open(path)  # type: ignore[attr-defined]
        banner = page.locator("#health-banner")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("1 ingest batch")
        expect(banner).to_contain_text("quarantined")
        expect(banner).to_contain_text("bad frame header")
        expect(banner).to_contain_text("/api/v1/ingest/quarantine/replay")

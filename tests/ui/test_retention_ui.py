"""Retention per project is visible: `GET /api/v1/retention` answers the caller's project's
days per kind, and every page's footer says them, read-only."""

from __future__ import annotations

import os
from typing import Iterator

import pytest
import yaml
from playwright.sync_api import expect
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    """Default retention 30 days; the default project keeps spans 7 days and labels forever."""
    base = str(tmp_path_factory.mktemp("retention-ui"))
    config = os.path.join(base, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"store": {"retention_days": 30},
                        "retention": {"projects": {"default": {"spans_days": 7, "labels_days": 0}}}}, handle)
    process = SpanwiseProcess(os.path.join(base, "data"), ["--config", config])
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def base_url(server: SpanwiseProcess) -> str:
    return server.query_url


def test_the_api_answers_the_projects_retention(server: SpanwiseProcess) -> None:
    answer = server.query("/api/v1/retention")
    assert answer.status_code == 200
    assert answer.json() == {"project": "default", "default_days": 30, "spans_days": 7, "logs_days": 30,
                             "metrics_days": 30, "predictions_days": 30, "labels_days": 0}
    assert server.query("/api/v1/retention", project="x").status_code == 400


def test_every_page_shows_the_retention_in_force(ui: object) -> None:
    for path in ("/traces", "/models"):
        page = ui.open(path)  # type: ignore[attr-defined]
        footer = page.locator("#retention")
        expect(footer).to_be_visible()
        expect(footer).to_have_text("Retention in project default: spans 7 days · logs 30 days · "
                                    "OTLP metrics 30 days · predictions 30 days · labels forever")
    ui.shot("footer")  # type: ignore[attr-defined]

"""Concept drift on the model page's Quality tab, on labelled predictions sent with the real
OTel SDK (tests/support/concept_data.py): the `fraud` model's error rose in the `south`
region only, the `steady` model's did not."""

from __future__ import annotations

from typing import Any

import pytest
from concept_data import send
from playwright.sync_api import expect
from server_process import SpanwiseProcess


@pytest.fixture(scope="module")
def base_url(server: SpanwiseProcess) -> str:
    send(server)
    return server.query_url


def test_concept_drift_found_in_the_shifted_segment(ui: Any) -> None:
    page = ui.open("/models/fraud?tab=quality&task=classification&lookback=6h")
    panel = page.locator("#concept-drift")
    expect(panel.locator(".badge").first).to_have_text("concept drift")
    rows = page.locator("tr.concept-row")
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text="south")).to_contain_text("shifted")
    expect(rows.filter(has_text="north")).to_contain_text("stable")
    expect(rows.filter(has_text="east")).to_contain_text("stable")
    ui.shot("concept")


def test_steady_model_has_no_concept_drift(ui: Any) -> None:
    page = ui.open("/models/steady?tab=quality&task=classification&lookback=6h")
    expect(page.locator("#concept-drift .badge").first).to_have_text("no concept drift")
    expect(page.locator("tr.concept-row.is-error")).to_have_count(0)

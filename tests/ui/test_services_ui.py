"""Service map and RED charts in a real browser, on the shop's real OTLP traffic."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from server_process import SpanwiseProcess
from ui_traffic import Sent


@pytest.fixture(scope="module")
def base_url(server: SpanwiseProcess, shop: Sent) -> str:
    return server.query_url


def test_red_api_counts_the_shop(server: SpanwiseProcess, shop: Sent) -> None:
    rows = {r["name"]: r for r in server.query("/api/v1/metrics/red", lookback="1h").json()["rows"]}
    assert set(rows) == {"frontend", "checkout-api", "feature-store"}
    api = rows["checkout-api"]
    assert api["count"] == 2 * len(shop.trace_ids)  # the API span and the model span
    assert api["error_count"] == len(shop.error_trace_ids)
    assert api["p95_ms"] > api["p50_ms"] > 0
    edges = {(e["parent"], e["child"]): e for e in server.query("/api/v1/dependencies", lookback="1h").json()["dependencies"]}
    assert edges[("frontend", "checkout-api")]["call_count"] == len(shop.trace_ids)
    assert edges[("frontend", "checkout-api")]["error_count"] == len(shop.error_trace_ids)
    assert edges[("checkout-api", "feature-store")]["p95_ns"] > 0


def test_service_map_and_red_charts(ui, shop: Sent) -> None:
    page = ui.open("/services")
    expect(page.locator("#service-map canvas")).to_have_count(1)
    rows = page.locator("tr.service-row")
    expect(rows).to_have_count(3)
    api_row = rows.filter(has_text="checkout-api")
    errors = len(shop.error_trace_ids) / (2 * len(shop.trace_ids))
    expect(api_row).to_contain_text(f"{errors * 100:.1f}%")
    ui.shot("map")
    api_row.click()
    expect(page).to_have_url(f"{ui.base_url}/services?lookback=1h&service=checkout-api")
    for chart in ("#red-rate", "#red-errors", "#red-duration"):
        expect(page.locator(f"{chart} canvas")).to_have_count(1)
    operations = page.locator("tr.operation-row")
    expect(operations).to_have_count(2)
    operations.filter(has_text="churn.predict").click()
    expect(page).to_have_url(f"{ui.base_url}/services?lookback=1h&service=checkout-api&operation=churn.predict")
    expect(page.locator("#service-detail h2")).to_contain_text("churn.predict")
    ui.shot("red")


def test_dark_theme_persists(ui, shop: Sent) -> None:
    page = ui.open("/services?service=frontend")
    page.click("#theme-toggle")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator("#red-duration canvas")).to_have_count(1)
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator("#service-map canvas")).to_have_count(1)
    ui.shot("dark")

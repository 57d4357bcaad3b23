"""Traces page in a real browser: search by attribute, open a trace from the results, the
trace id box, URL state that survives a reload, and hostile telemetry rendered as text."""

from __future__ import annotations


import pytest
from playwright.sync_api import expect
from server_process import SpanwiseProcess
from ui_traffic import XSS, Sent, send_hostile


@pytest.fixture(scope="module")
def base_url(server: SpanwiseProcess, shop: Sent) -> str:
    return server.query_url


def test_search_by_attribute_and_open_trace(ui, shop: Sent) -> None:
    page = ui.open("/traces")
    expect(page.locator("#trace-search")).to_be_visible()
    page.fill("input[name=tags]", "user.id=user-4")
    page.click("button:has-text('Find traces')")
    rows = page.locator("tr.trace-row")
    expect(rows.first).to_be_visible()
    expected = [t for i, t in enumerate(shop.trace_ids) if i % 9 == 4]
    expect(rows).to_have_count(len(expected))
    assert "tags=user.id%3Duser-4" in page.url
    expect(page.locator("#trace-scatter canvas")).to_have_count(1)
    ui.shot("search")
    page.locator("tr.trace-row a").first.click()
    expect(page).to_have_url(f"{ui.base_url}/trace/{expected[-1]}")


def test_search_state_survives_reload(ui, shop: Sent) -> None:
    page = ui.open("/traces?service=checkout-api&status=Error&lookback=1h")
    rows = page.locator("tr.trace-row")
    expect(rows).to_have_count(len(shop.error_trace_ids))
    expect(page.locator("select[name=service]")).to_have_value("checkout-api")
    expect(page.locator("select[name=status]")).to_have_value("Error")


def test_model_and_confidence_filters(ui, shop: Sent) -> None:
    page = ui.open("/traces")
    page.fill("input[name=model]", "churn")
    page.fill("input[name=version]", "v2")
    page.fill("input[name=min_confidence]", "0.9")
    page.click("button:has-text('Find traces')")
    expected = {shop.prediction_traces[p] for p, a in shop.predictions.items()
                if a["ml.model.version"] == "v2" and float(a["ml.prediction.confidence"]) >= 0.9}  # type: ignore[arg-type]
    assert expected, "the traffic must contain confident v2 predictions"
    expect(page.locator("tr.trace-row")).to_have_count(len(expected))
    expect(page.locator("tr.trace-row .model-chip").first).to_have_text("churn v2")


def test_trace_id_box_opens_any_trace(ui, shop: Sent) -> None:
    page = ui.open("/models")
    page.fill("#open-id", shop.trace_ids[0].upper())
    page.press("#open-id", "Enter")
    expect(page).to_have_url(f"{ui.base_url}/trace/{shop.trace_ids[0]}")


def test_no_results_says_so(ui, shop: Sent) -> None:
    page = ui.open("/traces?tags=user.id%3Dnobody")
    expect(page.locator(".note-empty")).to_contain_text("No traces match")


def test_hostile_telemetry_is_text(ui, server: SpanwiseProcess) -> None:
    trace_id = send_hostile(server.grpc_endpoint)
    assert server.wait_for(lambda: server.query(f"/api/v1/traces/{trace_id}").status_code == 200)
    page = ui.open(f"/traces?service={XSS[1]}")
    expect(page.locator("tr.trace-row")).to_have_count(1)
    expect(page.locator("tr.trace-row")).to_contain_text(XSS[0])
    page.locator("tr.trace-row a").first.click()
    expect(page.get_by_text(XSS[2]).first).to_be_visible()
    ui.shot("hostile")
    assert page.evaluate("window.__xss") is None
    assert page.locator("script:not([src])").count() == 0
    assert page.locator("img[src=x], svg[onload]").count() == 0

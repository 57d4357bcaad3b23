""""Alert on this" and firing alerts on the service and model pages, in Chromium: a firing
alert shows on the page of its service and of its model, and each "Alert on this" opens the
Alerts page's editor with a rule for that series, which the server accepts."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Iterator

import pytest
from alert_traffic import Traffic
from playwright.sync_api import Page, expect
from server_process import SpanwiseProcess

CONFIG = """
ingest: {flush_interval_ms: 100}
alerts:
  tick_s: 0.5
  rules:
    - name: CartErrors
      query: {kind: span_metric, metric: error_rate, window_s: 3}
      condition: {op: ">", threshold: 0.3, min_samples: 10}
      interval_s: 0.5
    - name: RankerSlow
      query: {kind: model_metric, metric: p95_ms, model: ranker, window_s: 3}
      condition: {op: ">", threshold: 5}
      interval_s: 0.5
"""
MODEL = {"ml.model.name": "ranker", "ml.model.version": "v1", "ml.feature.x": 0.5, "ml.prediction.label": "top"}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work: Path = tmp_path_factory.mktemp("alert-links-ui")
    (work / "spanwise.yaml").write_text(CONFIG)
    server = SpanwiseProcess(str(work / "data"), ["--config", str(work / "spanwise.yaml")])
    server.start()
    traffic = Traffic(server.http_url, {"cart": {"n": 10, "errors": 6, "ms": 20},
                                         "rank": {"n": 5, "ms": 30, "attrs": MODEL, "name": "predict"}}).start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(server.query("/api/v1/alerts").json()["alerts"]) < 2:
        time.sleep(0.2)
    try:
        yield server.query_url
    finally:
        traffic.stop()
        server.stop()


def _create_from_draft(page: Page, name: str, metric: str) -> None:
    """On the Alerts page opened by a link: the editor holds the rule; create it."""
    expect(page).to_have_url(re.compile(r"/alerts\?draft="))
    expect(page.locator("#rule-editor")).to_have_attribute("open", "")
    rule = json.loads(page.locator("#rule-json").input_value())
    assert rule["name"] == name and rule["query"]["metric"] == metric
    page.click("#rule-create")
    expect(page.locator("#alerts-rules tr.rule-row").filter(has_text=name)).to_contain_text("api")


def test_service_page_shows_its_alerts_and_alerts_on_a_chart(ui) -> None:
    page = ui.open("/services?service=cart&lookback=15m")
    alerts = page.locator("#service-alerts .page-alerts")
    expect(alerts).to_have_attribute("data-count", "1")
    expect(alerts).to_contain_text("CartErrors")
    expect(page.locator("#service-detail .alert-on-this")).to_have_count(3)
    ui.shot("service")
    page.locator("#service-detail .alert-on-this").nth(1).click()  # the errors chart
    _create_from_draft(page, "cart-error-rate", "error_rate")
    expect(page.locator("#rule-series-chart")).to_have_attribute("data-rule", "cart-error-rate")
    rule = json.loads(page.locator("#rule-json").input_value())
    assert rule["query"] == {"kind": "span_metric", "service": "cart", "window_s": 300, "metric": "error_rate"}
    # No alert of another service shows on this one.
    page = ui.open("/services?service=rank&lookback=15m")
    expect(page.locator("#service-alerts .page-alerts")).to_have_attribute("data-count", "0")
    assert ui.errors == []


def test_model_page_shows_its_alerts_and_alerts_on_a_chart(ui) -> None:
    page = ui.open("/models/ranker?lookback=15m")
    alerts = page.locator("#model-alerts .page-alerts")
    expect(alerts).to_have_attribute("data-count", "1")
    expect(alerts).to_contain_text("RankerSlow")
    expect(alerts).to_contain_text("version=v1")
    links = page.locator("#model-tab .alert-on-this")
    expect(links).to_have_count(3)
    ui.shot("model")
    links.nth(1).click()  # latency
    _create_from_draft(page, "ranker-p95_ms", "p95_ms")
    rule = json.loads(page.locator("#rule-json").input_value())
    assert rule["query"]["model"] == "ranker" and rule["condition"]["threshold"] >= 100
    assert ui.errors == []

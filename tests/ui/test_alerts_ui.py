"""The Alerts page in Chromium: a firing alert from real traffic, rules with their state,
creating a rule (a bad one shows the field-named error), a rule whose evaluation fails
showing why, silences and history."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote
from typing import Iterator

import httpx
import pytest
from alert_traffic import Traffic
from playwright.sync_api import expect
from server_process import SpanwiseProcess

CONFIG = """
ingest: {flush_interval_ms: 100}
alerts:
  tick_s: 0.5
  rules:
    - name: SearchErrors
      query: {kind: span_metric, metric: error_rate, window_s: 3}
      condition: {op: ">", threshold: 0.3, min_samples: 10}
      interval_s: 0.5
      annotations: {summary: "{{ $labels.service }} is failing"}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    work: Path = tmp_path_factory.mktemp("alerts-ui")
    (work / "spanwise.yaml").write_text(CONFIG)
    server = SpanwiseProcess(str(work / "data"), ["--config", str(work / "spanwise.yaml")])
    server.start()
    traffic = Traffic(server.http_url, {"search": {"n": 10, "errors": 6, "ms": 20}}).start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not server.query("/api/v1/alerts").json()["alerts"]:
        time.sleep(0.2)
    try:
        yield server
    finally:
        traffic.stop()
        server.stop()


@pytest.fixture(scope="module")
def base_url(server: SpanwiseProcess) -> str:
    return server.query_url


def _send_gauge(server: SpanwiseProcess, name: str, value: float) -> None:
    """One gauge point over OTLP/HTTP JSON, as any SDK's metric exporter sends it."""
    point = {"timeUnixNano": str(time.time_ns()), "asDouble": value}
    body = {"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "worker"}}]},
        "scopeMetrics": [{"metrics": [{"name": name, "gauge": {"dataPoints": [point]}}]}]}]}
    assert httpx.post(f"{server.http_url}/v1/metrics", json=body, timeout=10).status_code == 200
    deadline = time.monotonic() + 10  # stored (flushed) before a rule reads it
    while name not in str(server.query("/api/v1/otlp/metrics", lookback="1h").json()):
        assert time.monotonic() < deadline, "the gauge was not stored"
        time.sleep(0.1)


def test_alerts_page(ui) -> None:
    page = ui.open("/alerts")
    expect(page.locator("nav a[data-nav=alerts]")).to_have_class("active")
    firing = page.locator("#alerts-active tr.alert-row")
    expect(firing).to_have_count(1)
    expect(firing).to_contain_text("SearchErrors")
    expect(firing).to_contain_text("service=search")
    expect(firing).to_contain_text("search is failing")
    expect(page.locator("#alerts-rules tr.rule-row").filter(has_text="SearchErrors")).to_contain_text("firing")
    expect(page.locator("#alerts-history tr.history-row").filter(has_text="firing").first).to_be_visible()
    ui.shot("firing")

    # The rule's evaluated series, drawn with its threshold line.
    page.locator("#alerts-rules tr.rule-row").filter(has_text="SearchErrors").locator(".rule-chart").click()
    chart = page.locator("#rule-series-chart")
    expect(chart.locator("canvas").first).to_be_visible()
    expect(chart).to_have_attribute("data-rule", "SearchErrors")
    expect(chart).to_have_attribute("data-series", "1")
    expect(chart).to_have_attribute("data-thresholds", "0.3")
    expect(page.locator("#rule-series-lines")).to_have_text("threshold > 0.3")
    page.select_option("#rule-series-lookback", "15m")
    expect(chart.locator("canvas").first).to_be_visible()
    ui.shot("series")

    page.locator("#alerts-rules summary").click()
    page.fill("#rule-json", '{"name": "Bad", "query": {"kind": "span_metric", "metric": "p42"}}')
    page.click("#rule-create")
    expect(page.locator("#rule-message")).to_contain_text("query: metric:")
    # The refused POST is the one error the browser may log (Chromium reports every 4xx).
    assert ui.errors == ["console: Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    ui.errors.clear()
    page.fill("#rule-json", '{"name": "SlowCheckout", "query": {"kind": "span_metric", "metric": "p95_ms", '
                            '"service": "checkout"}, "condition": {"threshold": 500}}')
    page.click("#rule-create")
    new_rule = page.locator("#alerts-rules tr.rule-row").filter(has_text="SlowCheckout")
    expect(new_rule).to_contain_text("api")

    page.fill("#silence-name", "service")
    page.fill("#silence-value", "search")
    page.click("#silence-add")
    expect(page.locator("#alerts-silences tr.silence-row")).to_contain_text("service=search")
    expect(page.locator("#alerts-active tr.alert-row")).to_contain_text("silenced")
    ui.shot("silenced")
    page.click(".silence-expire")
    expect(page.locator("#alerts-silences tr.silence-row")).to_have_count(0)
    new_rule.locator(".rule-delete").click()
    expect(page.locator("#alerts-rules tr.rule-row").filter(has_text="SlowCheckout")).to_have_count(0)


def test_draft_opens_the_editor_filled_in(ui) -> None:
    draft = '{"name":"CheckoutErrors","query":{"kind":"span_metric","metric":"error_rate","service":"checkout"}}'
    page = ui.open("/alerts?rule=SearchErrors&draft=" + quote(draft))
    expect(page.locator("#rule-editor")).to_have_attribute("open", "")
    expect(page.locator("#rule-json")).to_have_value(json.dumps(json.loads(draft), indent=2))
    expect(page.locator("#rule-series-chart")).to_have_attribute("data-rule", "SearchErrors")
    page.click("#rule-create")
    expect(page.locator("#alerts-rules tr.rule-row").filter(has_text="CheckoutErrors")).to_contain_text("api")
    assert ui.errors == []


def test_a_rule_that_cannot_be_evaluated_says_why(ui, server: SpanwiseProcess) -> None:
    _send_gauge(server, "worker.queue.depth", 5.0)
    page = ui.open("/alerts")
    page.locator("#alerts-rules summary").click()
    page.fill("#rule-json", '{"name": "DepthRate", "interval_s": 0.5, "query": {"kind": "otlp_metric", '
                            '"metric": "worker.queue.depth", "aggregation": "rate", "window_s": 3600}}')
    page.click("#rule-create")
    row = page.locator("#alerts-rules tr.rule-row").filter(has_text="DepthRate")
    expect(row.locator(".badge-error")).to_have_text("failing", timeout=15_000)
    expect(row.locator(".rule-error")).to_have_text(
        "worker.queue.depth is a gauge: aggregation rate reads a sum; a gauge takes last, avg, max, min")
    expect(page.locator("#alerts-rules tr.rule-row").filter(has_text="SearchErrors").locator(".rule-error")).to_have_count(0)
    # Its series panel (opened on creation) says the same instead of charting nothing.
    expect(page.locator("#rule-series-head .note-error")).to_contain_text("worker.queue.depth is a gauge")
    expect(page.locator("#rule-series-chart")).to_be_hidden()
    assert ui.errors == ["console: Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    ui.errors.clear()

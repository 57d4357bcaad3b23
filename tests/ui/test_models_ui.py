"""Models pages in a real browser, on real OTLP traffic sent with the OpenTelemetry SDK:
`fraud` (tests/support/drift_data.py: `amount` shifts and `country` gains `br` in the
second hour), `churn` (two versions, ground truth as feedback) and `price` (regression)
from tests/support/model_data.py, and `payments` (tests/support/analytics_data.py's data
quality and attribution changes, under another model name)."""

from __future__ import annotations

import time

from typing import Any, Iterable, Iterator

import drift_data
import httpx
import pytest
from analytics_data import fraud_predictions
from model_data import feedback_records
from model_data import predictions as model_predictions
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode
from playwright.sync_api import Page, expect
from server_process import SpanwiseProcess
from ui_traffic import XSS

Span = tuple[int, int, dict[str, Any], bool]  # start ns, duration ns, attributes, error


def _send(server: SpanwiseProcess, service: str, spans: Iterable[Span]) -> int:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=server.grpc_endpoint, insecure=True)))
    tracer = provider.get_tracer("ui-models")
    sent = 0
    for start, duration, attributes, error in spans:
        span = tracer.start_span("predict", start_time=start)
        for key, value in attributes.items():
            span.set_attribute(key, value)
        if error:
            span.set_status(Status(StatusCode.ERROR, "failed"))
        span.end(end_time=start + duration)
        sent += 1
    provider.shutdown()
    return sent


@pytest.fixture(scope="module")
def base_url(server: SpanwiseProcess) -> Iterator[str]:
    fraud = [(r.start_ns, 5 * 10**6, r.attributes(), False) for r in drift_data.rows()]
    churn = [p for p in model_predictions() if p.model in ("churn", "price")]
    labelled = [(p.start_ns, round(p.duration_ms * 10**6), {
        "ml.model.name": p.model, "ml.model.version": p.version, "ml.prediction.id": p.prediction_id,
        **p.attributes, **({"ml.label": p.span_label} if p.span_label else {})}, p.error) for p in churn]
    payments = [(p.start_ns, round(p.duration_ms * 10**6), {
        "ml.model.name": "payments", "ml.model.version": p.version, "ml.prediction.id": f"pay-{p.prediction_id}",
        "ml.label": p.span_label, **p.attributes}, p.error) for p in fraud_predictions()]
    total = _send(server, "fraud-service", fraud) + _send(server, "churn-service", labelled)
    total += _send(server, "payments-service", payments)
    total += _send(server, "hostile-service", _hostile())
    assert server.wait_for(lambda: server.status()["predictions"] >= total), server.log()
    answer = httpx.post(f"{server.query_url}/api/v1/feedback", json=feedback_records(churn), timeout=30)
    assert answer.status_code == 200 and not answer.json()["pending"], answer.text
    yield server.query_url


def _hostile() -> list[Span]:
    """A model whose name, version, feature names and values are HTML/script payloads."""
    start = time.time_ns() - 20 * 60 * 10**9
    return [(start + i * 30 * 10**9, 10**6, {
        "ml.model.name": XSS[1], "ml.model.version": XSS[0], "ml.prediction.id": f"xss-{i}",
        f"ml.feature.{XSS[2]}": float(i % 7) + (30 if i >= 20 else 0), f"ml.feature.{XSS[3]}": XSS[i % 4],
        "ml.prediction.label": XSS[i % 2], "ml.prediction.confidence": 0.6, f"ml.explanation.{XSS[0]}": i / 40,
    }, False) for i in range(40)]


def _row(page: Page, model: str, version: str) -> Any:
    return page.locator("tr.model-row").filter(has=page.locator("a.model-link", has_text=model)).filter(
        has=page.locator(".version-badge", has_text=version))


def test_models_list(ui) -> None:
    page = ui.open("/models?lookback=6h")
    fraud = _row(page, "fraud", "v1")
    expect(fraud).to_have_count(1, timeout=20_000)  # every version's metrics, quality and drift load first
    expect(fraud.locator(".traffic")).to_have_text("800")
    expect(fraud.locator(".drift-badge")).to_have_text("2 of 4 drifted")
    expect(_row(page, "churn", "v2").locator(".traffic")).to_have_text("30")
    expect(_row(page, "churn", "v1")).to_contain_text("acc ")
    expect(_row(page, "price", "r1")).to_contain_text("MAE ")
    expect(page.locator("select[name=lookback]")).to_have_value("6h")
    ui.shot("list")
    fraud.locator("a.model-link").click()
    expect(page).to_have_url(f"{ui.base_url}/models/fraud?version=v1&lookback=6h")
    expect(page.locator("h1.model-title")).to_have_text("fraud")


def test_overview(ui) -> None:
    page = ui.open("/models/churn?lookback=6h")
    expect(page.locator("#model-tabs a.active")).to_have_text("Overview")
    expect(page.locator("#overview-cards")).to_contain_text("90")
    for chart in ("traffic", "latency", "errors", "confidence", "predictions"):
        expect(page.locator(f"#chart-{chart} canvas")).to_have_count(1)
    ui.shot("overview")


def _drift_row(page: Page, feature: str) -> Any:
    return page.locator("#drift-summary tr.drift-row").filter(has=page.locator(".feature-name", has_text=feature))


def test_drift(ui) -> None:
    page = ui.open("/models/fraud?tab=drift&lookback=6h")
    expect(page.locator("#drift-heatmap canvas").first).to_be_visible()
    expect(page.locator("#drift-reference-text")).to_contain_text("preceding window")
    for feature in ("amount", "country"):
        expect(_drift_row(page, feature).locator(".drift-status")).to_have_text("drifted")
    for feature in ("age", "channel"):
        expect(_drift_row(page, feature).locator(".drift-status")).to_have_text("stable")
    expect(_drift_row(page, "country")).to_contain_text("new: br")
    ui.shot("drift")
    _drift_row(page, "amount").click()
    expect(page.locator("#drift-overlay h3")).to_have_text("amount: reference vs current")
    expect(page.locator("#chart-overlay canvas")).to_have_count(1)
    expect(page.locator("#drift-methods")).to_contain_text("Significant and large (decides)")
    assert "feature=amount" in page.url and "tab=drift" in page.url
    page.reload()
    expect(page.locator("#drift-overlay h3")).to_have_text("amount: reference vs current")
    expect(page.locator("#model-tabs a.active")).to_have_text("Drift")
    ui.shot("drift-amount")


def test_quality(ui) -> None:
    page = ui.open("/models/churn?tab=quality&lookback=6h")
    rows = page.locator("#quality-table tr.quality-row")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="v1").locator(".coverage")).to_have_text("90.0%")
    expect(rows.filter(has_text="v1").locator(".accuracy")).to_have_text("70.4%")
    expect(page.locator("#chart-quality canvas").first).to_be_visible()
    expect(page.locator("#chart-coverage canvas").first).to_be_visible()
    # Estimated accuracy from scores (CBPE) beside realized: 81 labels are too few to check calibration.
    expect(page.locator("#estimated-quality")).to_contain_text("not trustworthy")
    expect(page.locator("#estimated-quality")).to_contain_text("labelled predictions in the reference range")
    expect(page.locator("#chart-estimated canvas").first).to_be_visible()
    ui.shot("quality")
    page.select_option("select[name=version]", "v2")
    expect(rows).to_have_count(1)
    page.reload()
    expect(page.locator("select[name=version]")).to_have_value("v2")
    expect(page.locator("#model-tabs a.active")).to_have_text("Quality")
    expect(rows.filter(has_text="v2").locator(".accuracy")).to_have_text("63.0%")


def test_no_labels_says_so(ui) -> None:
    page = ui.open("/models/fraud?tab=quality&task=classification&lookback=1h")
    expect(page.locator(".note-empty")).to_contain_text("No predictions")
    page = ui.open("/models/fraud?tab=quality&lookback=6h")
    expect(page.locator(".note-empty")).to_contain_text("none is a number")


def test_data_quality(ui) -> None:
    page = ui.open("/models/payments?tab=data-quality&version=v1&lookback=1h")
    rows = page.locator("#dq-table tr.dq-row")
    expect(rows.filter(has_text="zip")).to_have_count(1)
    expect(rows.filter(has_text="amount")).to_have_count(1)
    expect(page.locator("#chart-missing canvas").first).to_be_visible()
    ui.shot("data-quality")


def test_explanations(ui) -> None:
    page = ui.open("/models/payments?tab=explanations&version=v1&lookback=1h")
    rows = page.locator("#explain-table tr.explain-row")
    expect(rows).to_have_count(2)
    expect(rows.first.locator(".feature-name")).to_have_text("amount")
    expect(page.locator("#chart-importance canvas").first).to_be_visible()
    expect(page.locator("#chart-importance-latest canvas").first).to_be_visible()
    ui.shot("explanations")
    page = ui.open("/models/churn?tab=explanations&lookback=6h")
    expect(page.locator(".note-empty")).to_contain_text("No attributions")


def test_compare(ui) -> None:
    page = ui.open("/models/payments?tab=compare&lookback=1h")
    expect(page.locator("select[name=a]")).to_have_value("v1")
    expect(page.locator("select[name=b]")).to_have_value("v2")
    latency = page.locator("#compare-table tr.compare-row").filter(has_text="Latency p50")
    expect(latency.locator(".compare-result")).to_have_text("significant")
    errors = page.locator("#compare-table tr.compare-row").filter(has_text="Error rate")
    expect(errors.locator(".compare-result")).to_have_text("no significant difference")
    expect(page.locator("#compare-table")).to_contain_text("65.0% of 160")
    expect(page.locator("#chart-compare-latency canvas").first).to_be_visible()
    ui.shot("compare")
    page.select_option("select[name=a]", "v2")
    expect(page.locator("select[name=b]")).to_have_value("v1")
    page.reload()
    expect(page.locator("#model-tabs a.active")).to_have_text("Compare versions")
    expect(page.locator("select[name=a]")).to_have_value("v2")
    expect(page.locator("select[name=b]")).to_have_value("v1")
    page = ui.open("/models/fraud?tab=compare&lookback=6h")
    expect(page.locator(".note-empty")).to_contain_text("one version")


def test_hostile_telemetry_is_text(ui) -> None:
    page = ui.open("/models?lookback=1h")
    row = _row(page, XSS[1], XSS[0])
    expect(row).to_have_count(1)
    row.locator("a.model-link").click()
    expect(page.locator("h1.model-title")).to_have_text(XSS[1])
    for tab in ("overview", "quality", "drift", "data-quality", "explanations"):
        page.locator(f"#model-tabs a[data-tab={tab}]").click()
        expect(page.locator("#model-tabs a.active")).to_have_attribute("data-tab", tab)
        expect(page.locator(".note-loading")).to_have_count(0)
        page.mouse.move(700, 450)
    expect(page.locator("#explain-table")).to_contain_text(XSS[0])
    ui.shot("hostile")
    assert page.evaluate("window.__xss") is None
    assert page.locator("script:not([src])").count() == 0
    assert page.locator("img[src=x], svg[onload]").count() == 0


def test_dark_theme(ui) -> None:
    page = ui.open("/models/fraud?tab=drift&lookback=6h&feature=country")
    expect(page.locator("#chart-overlay canvas").first).to_be_visible()
    page.click("#theme-toggle")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator("#drift-heatmap canvas").first).to_be_visible()
    expect(page.locator("#drift-overlay h3")).to_have_text("country: reference vs current")
    ui.shot("drift-dark")
    for tab in ("overview", "quality", "compare"):
        name = "churn" if tab != "overview" else "payments"
        page.goto(f"{ui.base_url}/models/{name}?tab={tab}&lookback=6h")
        expect(page.locator(".chart canvas").first).to_be_visible()
        ui.shot(f"{tab}-dark")
    page.goto(f"{ui.base_url}/models?lookback=6h")
    expect(page.locator("tr.model-row").first).to_be_visible()
    ui.shot("list-dark")


def test_drift_against_a_baseline(ui, server: SpanwiseProcess) -> None:
    answer = httpx.post(f"{server.query_url}/api/v1/models/fraud/baselines", json={
        "name": "launch", "version": "v1", "kind": "window", "start": drift_data.REF_START, "end": drift_data.CUR_START,
    }, timeout=30)
    assert answer.status_code == 200, answer.text
    page = ui.open("/models/fraud?tab=drift&version=v1&lookback=6h")
    expect(page.locator("#drift-reference-text")).to_contain_text("baseline “launch” (a fixed window)")
    expect(_drift_row(page, "amount")).to_contain_text("1 of 2")
    expect(_drift_row(page, "amount").locator(".drift-status")).to_have_text("drifted")
    expect(_drift_row(page, "age").locator(".drift-status")).to_have_text("stable")
    ui.shot("drift-baseline")
    # All versions, but the only baseline belongs to v1: v1 is compared with it, and the page says so.
    page = ui.open("/models/fraud?tab=drift&lookback=6h")
    expect(page.locator(".note-info")).to_contain_text("showing v1 against its own baseline")
    expect(page.locator("#drift-reference-text")).to_contain_text("baseline “launch”")
    expect(_drift_row(page, "amount").locator(".drift-status")).to_have_text("drifted")


def test_monitoring_signals(ui, server: SpanwiseProcess) -> None:
    # A fixed reference for v1: the reference hour (the drift test's window, profiled once).
    answer = httpx.post(f"{server.query_url}/api/v1/models/fraud/baselines", json={
        "name": "signals-ref", "version": "v1", "kind": "window", "start": drift_data.REF_START, "end": drift_data.CUR_START,
    }, timeout=30)
    assert answer.status_code == 200, answer.text
    page = ui.open("/models/fraud?tab=monitoring&lookback=6h")
    expect(page.locator("#model-tabs a.active")).to_have_text("Monitoring")
    page.click("#compute-signals")
    rows = page.locator("tr.signal-row")
    expect(rows.first).to_be_visible()

    def row(signal: str, feature: str) -> Any:
        return rows.filter(has=page.locator("td", has_text=signal)).filter(has=page.locator("td", has_text=feature))

    expect(row("drift", "amount")).to_contain_text("flagged")
    expect(row("drift", "age")).to_contain_text("ok")
    expect(page.locator("#signals-drift canvas").first).to_be_visible()
    stored = server.query("/api/v1/models/fraud/signals", lookback="1h", signal="drift", feature="amount").json()
    assert any(s["flagged"] for s in stored["signals"])
    ui.shot("monitoring")

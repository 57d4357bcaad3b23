"""Trace view in a real browser: the waterfall (collapse/expand, errors, critical path, find),
the span detail panel (searchable attributes), the AI panel of a prediction span (feature
values with baseline percentiles, confidence, ground truth, data-quality flags,
attributions, lineage), `?span=` URL state, the prediction id box and a 10,000-span trace."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.trace import Link
from playwright.sync_api import Page, expect
from server_process import SpanwiseProcess
from ui_traffic import Sent, Services, send_big_trace

MS = 10**6


@dataclass
class Extra:
    """Traffic of this module besides the shop: ids the tests look for."""

    critical_trace: str
    critical_names: set[str]  # spans on the critical path
    run_trace: str  # a pipeline run
    run_step_span: str  # the span the prediction links to
    linked_prediction: str
    big_trace: str


def _send_extra(endpoint: str) -> Extra:
    services = Services(endpoint)
    now = time.time_ns()
    # Critical path: `slow-call` ends last and decides the latency; `fast-call` and `cache`
    # run in parallel and finish early, so they are off the path.
    tracer = services.tracer("gateway")
    start = now - 300_000 * MS
    root = tracer.start_span("GET /report", start_time=start)
    ctx = trace.set_span_in_context(root)
    for name, lo, hi in (("fast-call", 5, 40), ("slow-call", 10, 90), ("cache", 20, 30)):
        tracer.start_span(name, context=ctx, start_time=start + lo * MS).end(end_time=start + hi * MS)
    root.end(end_time=start + 100 * MS)
    # A pipeline run, and a prediction whose span links to the run's training step.
    pipeline = services.tracer("training-pipeline")
    run = pipeline.start_span("pipeline.run churn-train", start_time=now - 200_000 * MS)
    step = pipeline.start_span("train_model", context=trace.set_span_in_context(run), start_time=now - 199_000 * MS)
    step.end(end_time=now - 150_000 * MS)
    run.end(end_time=now - 149_000 * MS)
    predict = services.tracer("scoring-api").start_span(
        "churn.predict", start_time=now - 100_000 * MS, links=[Link(step.get_span_context(), {"link.kind": "trained_by"})],
        attributes={"ml.model.name": "churn", "ml.model.version": "v2", "ml.prediction.id": "pred-linked",
                    "ml.feature.tenure_months": 75.0, "ml.feature.plan": "enterprise", "ml.prediction.label": "stay",
                    "ml.prediction.confidence": 0.81, "ml.explanation.tenure_months": -1.5})
    predict.end(end_time=now - 100_000 * MS + 4 * MS)
    services.shutdown()
    return Extra(
        critical_trace=f"{root.get_span_context().trace_id:032x}", critical_names={"GET /report", "slow-call"},
        run_trace=f"{run.get_span_context().trace_id:032x}", run_step_span=f"{step.get_span_context().span_id:016x}",
        linked_prediction="pred-linked", big_trace=send_big_trace(endpoint),
    )


def _baseline_csv() -> str:
    """A reference where tenure_months is uniform on [0, 60] and plan is basic/pro/team."""
    lines = ["tenure_months,monthly_spend,plan"]
    lines += [f"{i * 0.6:.2f},{10 + i * 3.9:.2f},{('basic', 'pro', 'team')[i % 3]}" for i in range(101)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def extra(server: SpanwiseProcess, shop: Sent) -> Extra:
    found = _send_extra(server.grpc_endpoint)
    assert server.wait_for(lambda: server.query(f"/api/v1/predictions/{found.linked_prediction}").status_code == 200)
    assert server.wait_for(lambda: len(server.query(f"/api/v1/traces/{found.big_trace}").json().get("spans", [])) == 10_000,
                           timeout=60), server.log()
    feedback = httpx.post(f"{server.query_url}/api/v1/feedback", json=[{"prediction_id": found.linked_prediction, "label": "churn"}])
    assert feedback.json()["accepted"] == 1, feedback.text
    baseline = httpx.post(f"{server.query_url}/api/v1/models/churn/baselines?name=training", content=_baseline_csv(),
                          headers={"Content-Type": "text/csv"})
    assert baseline.status_code == 200, baseline.text
    return found


@pytest.fixture(scope="module")
def base_url(server: SpanwiseProcess, extra: Extra) -> str:
    return server.query_url


def _spans(server: SpanwiseProcess, trace_id: str) -> dict[str, dict[str, Any]]:
    """Span name -> span of a (small) trace."""
    return {s["name"]: s for s in server.query(f"/api/v1/traces/{trace_id}").json()["spans"]}


def _has_class(name: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


def _row(page: Page, span_id: str) -> Any:
    return page.locator(f".wf-row[data-span-id='{span_id}']")


def test_waterfall_collapse_expand_and_errors(ui, server: SpanwiseProcess, shop: Sent) -> None:
    trace_id = shop.error_trace_ids[0]
    spans = _spans(server, trace_id)
    page = ui.open(f"/trace/{trace_id}")
    expect(page.locator("#trace-span-count")).to_contain_text("4")
    expect(page.locator("#trace-header")).to_contain_text("frontend: GET /checkout")
    expect(page.locator("#trace-header")).to_contain_text("1 error")
    rows = page.locator(".wf-row")
    expect(rows).to_have_count(4)
    api = _row(page, spans["POST /api/checkout"]["spanId"])
    expect(api).to_have_class(_has_class("is-error"))
    ui.shot("expanded")
    api.locator(".wf-toggle").click()
    expect(rows).to_have_count(2)
    expect(api).to_contain_text("+2")
    ui.shot("collapsed")
    api.locator(".wf-toggle").click()
    expect(rows).to_have_count(4)
    page.click("#collapse-all")
    expect(rows).to_have_count(2)
    page.click("#expand-all")
    expect(rows).to_have_count(4)
    # The root's detail shows by default; the error span's status message and event.
    api.click()
    detail = page.locator("#span-detail")
    expect(detail).to_contain_text("payment declined")
    expect(page.locator("#sd-events")).to_contain_text("exception")
    expect(page.locator("#sd-events")).to_contain_text("card declined")
    expect(page.locator("#sd-events .sd-offset")).to_have_text("+19.0 ms")  # sent 21 ms after the trace, 2 ms after the span
    expect(api.locator(".wf-event")).to_have_count(1)
    assert f"span={spans['POST /api/checkout']['spanId']}" in page.url


def test_prediction_span_ai_panel_with_baseline_percentile(ui, server: SpanwiseProcess, shop: Sent, extra: Extra) -> None:
    prediction_id, attributes = next((p, a) for p, a in shop.predictions.items() if a["ml.model.version"] == "v2")
    trace_id = shop.prediction_traces[prediction_id]
    spans = _spans(server, trace_id)
    page = ui.open(f"/trace/{trace_id}")
    _row(page, spans["churn.predict"]["spanId"]).click()
    panel = page.locator("#ai-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#ai-prediction-id")).to_have_text(prediction_id)
    expect(page.locator("#ai-confidence")).to_contain_text(str(attributes["ml.prediction.confidence"]))
    expect(page.locator("#ai-prediction")).to_contain_text(str(attributes["ml.prediction.label"]))
    expect(page.locator("#ai-ground-truth")).to_contain_text("not arrived yet")
    tenure = page.locator("#ai-features tr[data-feature='tenure_months']")
    expect(tenure.locator(".ai-value")).to_have_text(str(attributes["ml.feature.tenure_months"]))
    # The baseline is uniform on [0, 60]: the percentile is about tenure / 60.
    expected = float(attributes["ml.feature.tenure_months"]) / 60 * 100  # type: ignore[arg-type]
    shown = tenure.locator(".ai-pct-text").inner_text()
    assert shown.startswith("p") and abs(int(shown[1:]) - expected) <= 3, (shown, expected)
    expect(page.locator("#ai-features tr[data-feature='plan']")).to_contain_text("of reference")
    expect(page.locator("#ai-baseline")).to_contain_text("training")
    expect(page.locator("#attribution-chart canvas")).to_have_count(1)
    expect(panel.locator("a[href='/models/churn']")).to_have_count(1)
    ui.shot("ai-panel")
    page.click("#theme-toggle")
    expect(page.locator("#ai-panel")).to_be_visible()
    expect(page.locator("#attribution-chart canvas")).to_have_count(1)
    ui.shot("ai-panel-dark")


def test_span_url_state_survives_reload(ui, server: SpanwiseProcess, shop: Sent) -> None:
    trace_id = shop.trace_ids[1]
    span_id = _spans(server, trace_id)["get_features"]["spanId"]
    page = ui.open(f"/trace/{trace_id}")
    _row(page, span_id).click()
    expect(page).to_have_url(f"{ui.base_url}/trace/{trace_id}?span={span_id}")
    page.reload()
    expect(_row(page, span_id)).to_have_class(_has_class("is-selected"))
    expect(page.locator("#span-detail")).to_have_attribute("data-span-id", span_id)
    expect(page.locator("#span-detail .sd-name")).to_have_text("get_features")


def test_attribute_search_in_detail_panel(ui, server: SpanwiseProcess, shop: Sent) -> None:
    prediction_id = next(iter(shop.predictions))
    trace_id = shop.prediction_traces[prediction_id]
    span_id = _spans(server, trace_id)["churn.predict"]["spanId"]
    page = ui.open(f"/trace/{trace_id}?span={span_id}")
    attributes = page.locator("#attr-search-list .k")
    expect(attributes).to_have_count(10)
    page.fill("#attr-search", "confidence")
    expect(attributes).to_have_count(1)
    expect(attributes.first).to_have_text("ml.prediction.confidence")
    expect(page.locator("#sd-attributes")).to_contain_text("1 of 10")
    page.fill("#attr-search", "ml.feature.")
    expect(attributes).to_have_count(3)
    ui.shot("attribute-search")
    page.fill("#attr-search", "no such thing")
    expect(page.locator("#sd-attributes")).to_contain_text("No attribute matches")


def test_prediction_id_box_opens_the_span(ui, server: SpanwiseProcess, shop: Sent) -> None:
    prediction_id = "pred-0005"
    trace_id = shop.prediction_traces[prediction_id]
    span_id = _spans(server, trace_id)["churn.predict"]["spanId"]
    page = ui.open("/traces")
    page.fill("#open-id", prediction_id)
    page.press("#open-id", "Enter")
    expect(page).to_have_url(f"{ui.base_url}/trace/{trace_id}?span={span_id}")
    expect(_row(page, span_id)).to_have_class(_has_class("is-selected"))
    expect(page.locator("#ai-prediction-id")).to_have_text(prediction_id)


def test_ground_truth_flags_and_lineage(ui, extra: Extra) -> None:
    page = ui.open(f"/prediction/{extra.linked_prediction}")
    expect(page.locator("#ai-ground-truth")).to_contain_text("churn")
    expect(page.locator("#ai-ground-truth")).to_contain_text("wrong")
    expect(page.locator("#ai-features tr[data-feature='tenure_months']")).to_contain_text("above reference max")
    expect(page.locator("#ai-features tr[data-feature='monthly_spend']")).to_contain_text("missing")
    expect(page.locator("#ai-features tr[data-feature='plan']")).to_contain_text("new category")
    expect(page.locator("#ai-dq")).to_contain_text("3 data-quality flags")
    run = page.locator("#lineage a")
    expect(run).to_have_text("training-pipeline: pipeline.run churn-train")
    expect(page.locator("#lineage")).to_contain_text("train_model")
    ui.shot("lineage")
    run.click()
    expect(page).to_have_url(f"{ui.base_url}/trace/{extra.run_trace}?span={extra.run_step_span}")
    expect(page.locator("#span-detail .sd-name")).to_have_text("train_model")


def test_critical_path_is_marked(ui, server: SpanwiseProcess, extra: Extra) -> None:
    page = ui.open(f"/trace/{extra.critical_trace}")
    expect(page.locator(".wf-row")).to_have_count(4)
    marked = page.locator(".wf-row.on-critical-path .wf-op")
    expect(marked).to_have_count(len(extra.critical_names))
    assert set(marked.all_inner_texts()) == extra.critical_names
    expect(page.locator(".wf-row.on-critical-path .wf-crit").first).to_be_visible()
    ui.shot("critical-path")


def test_find_highlights_and_selects_matches(ui, shop: Sent) -> None:
    page = ui.open(f"/trace/{shop.trace_ids[2]}")
    page.fill("#span-find", "feature")
    expect(page.locator("#find-count")).to_have_text("2 matches")  # get_features; churn.predict (ml.feature.* keys)
    expect(page.locator(".wf-row.is-match")).to_have_count(2)
    expect(page.locator(".wf-row.is-dim")).to_have_count(2)
    page.press("#span-find", "Enter")
    expect(page.locator(".wf-row.is-selected")).to_have_count(1)
    assert "find=feature" in page.url and "span=" in page.url
    ui.shot("find")


def test_ten_thousand_span_trace_opens_virtualized(ui, extra: Extra) -> None:
    started = time.monotonic()
    page = ui.open(f"/trace/{extra.big_trace}")
    expect(page.locator("#trace-span-count")).to_contain_text("10000")
    expect(page.locator(".wf-row").first).to_be_visible()
    opened = time.monotonic() - started
    in_dom = page.locator(".wf-row").count()
    assert 10 < in_dom < 200, in_dom
    assert opened < 10, opened
    body = page.locator("#waterfall-body")
    body.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    last = page.locator(".wf-row[data-row='9999']")
    expect(last).to_be_visible()
    expect(last).to_contain_text("score_row")
    assert page.locator(".wf-row").count() < 200
    ui.shot("big-bottom")
    page.click("#collapse-all")
    expect(page.locator("#waterfall")).to_have_attribute("data-rows", "101")  # the root and 100 batches


def test_unknown_trace_and_span_say_so(ui, shop: Sent) -> None:
    page = ui.open("/trace/" + "ab" * 16)
    expect(page.locator(".note-error")).to_contain_text("was not found")
    # Chromium logs the API's (expected) 404 as a console error: drop just that one.
    expected_404 = [e for e in ui.errors if "status of 404" in e]
    assert len(expected_404) == 1, ui.errors
    ui.errors.remove(expected_404[0])
    page = ui.open(f"/trace/{shop.trace_ids[0]}?span=00000000deadbeef")
    expect(page.locator("#tv-detail .note-error")).to_contain_text("is not in this trace")
    expect(page.locator(".wf-row")).to_have_count(4)

"""Correlated logs in the trace view: Python `logging` records written inside spans and sent
as OTLP logs by the real SDK appear under the waterfall; a record's span is one click away;
the list filters; a trace without logs says so."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from playwright.sync_api import expect
from server_process import SpanwiseProcess
from ui_traffic import XSS, Services


@dataclass
class Sent:
    trace_id: str
    child_span_id: str
    quiet_trace_id: str


@pytest.fixture(scope="module")
def sent(server: SpanwiseProcess) -> Sent:
    services = Services(server.grpc_endpoint)
    tracer = services.tracer("scoring-api")
    provider = LoggerProvider(resource=Resource.create({"service.name": "scoring-api"}))
    provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=server.grpc_endpoint, insecure=True)))
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    logger = logging.getLogger("scoring.ui")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    with tracer.start_as_current_span("POST /score") as root:
        logger.info("request accepted", extra={"request.size": 3})
        with tracer.start_as_current_span("load_features") as child:
            logger.warning("feature tenure_months is 3 days old")
            logger.error("fallback model used: %s", XSS[1])
    with tracer.start_as_current_span("GET /health") as quiet:
        pass
    logger.removeHandler(handler)
    provider.shutdown()
    services.shutdown()
    made = Sent(format(root.get_span_context().trace_id, "032x"), format(child.get_span_context().span_id, "016x"),
                format(quiet.get_span_context().trace_id, "032x"))
    assert server.wait_for(lambda: server.query(f"/api/v1/traces/{made.quiet_trace_id}").status_code == 200)
    return made


@pytest.fixture(scope="module")
def base_url(server: SpanwiseProcess, sent: Sent) -> str:
    return server.query_url


def test_logs_under_the_waterfall_select_their_span(ui, sent: Sent) -> None:
    page = ui.open(f"/trace/{sent.trace_id}")
    logs = page.locator("#trace-logs .tv-log")
    expect(logs).to_have_count(3)
    expect(page.locator("#trace-log-count")).to_have_text("(3)")
    expect(logs.nth(0)).to_contain_text("request accepted")
    expect(logs.nth(0)).to_contain_text("INFO")
    expect(logs.nth(1)).to_contain_text("WARN")
    expect(logs.nth(2)).to_contain_text(XSS[1])  # shown as text
    assert page.evaluate("window.__xss") is None
    ui.shot("logs")
    logs.nth(1).locator(".tv-log-span").click()
    expect(page).to_have_url(f"{ui.base_url}/trace/{sent.trace_id}?span={sent.child_span_id}")
    expect(page.locator("#tv-detail")).to_contain_text("load_features")


def test_logs_filter(ui, sent: Sent) -> None:
    page = ui.open(f"/trace/{sent.trace_id}")
    expect(page.locator("#trace-logs .tv-log")).to_have_count(3)
    page.fill(".tv-logs-filter", "tenure")
    expect(page.locator("#trace-logs .tv-log:visible")).to_have_count(1)
    expect(page.locator("#trace-log-count")).to_have_text("(1 of 3)")


def test_trace_without_logs_says_so(ui, sent: Sent) -> None:
    page = ui.open(f"/trace/{sent.quiet_trace_id}")
    expect(page.locator("#trace-logs .note-empty")).to_contain_text("No OTLP log records carry this trace id")

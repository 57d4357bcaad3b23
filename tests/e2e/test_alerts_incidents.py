"""Incidents through a real server fed with real OTLP traffic: each fires exactly its
alerts, in time, tells the real receivers (a signed webhook, an SMTP server) once, and
resolves afterwards; stable traffic fires nothing."""

from __future__ import annotations

import re
import time
from typing import Any, Iterator

import pytest
from alert_receivers import SmtpReceiver, WebhookReceiver
from alert_traffic import Traffic
from server_process import SpanwiseProcess

SECRET = "s3cret"
NORMAL = {"n": 10, "errors": 0, "ms": 20}


def alert_config(hook: WebhookReceiver, smtp: SmtpReceiver | None = None, extra_rules: str = "") -> str:
    email = (f"    - {{name: mail, type: email, smtp_host: 127.0.0.1, smtp_port: {smtp.port}, to: [oncall@example.com],"
             f" max_retries: 0}}\n") if smtp else ""
    return f"""
ingest: {{flush_interval_ms: 100}}
alerts:
  tick_s: 0.5
  external_url: http://spanwise.example
  receivers:
    - {{name: hook, type: webhook, url: "{hook.url}", secret: {SECRET}, max_retries: 1, backoff_s: 0.1}}
{email}  rules:
    - name: HighErrorRate
      query: {{kind: span_metric, metric: error_rate, window_s: 3}}
      condition: {{op: ">", threshold: 0.3, resolve_threshold: 0.1, min_samples: 10}}
      interval_s: 0.5
      for_s: 1
      labels: {{severity: page}}
      annotations: {{summary: "{{{{ $labels.service }}}} fails {{{{ $value }}}} of requests"}}
    - name: SlowService
      query: {{kind: span_metric, metric: p95_ms, window_s: 3}}
      condition: {{op: ">", threshold: 300, min_samples: 10}}
      interval_s: 0.5
      for_s: 1
    - name: CheckoutSilent
      query: {{kind: span_metric, metric: count, service: checkout, window_s: 2}}
      condition: {{type: absence}}
      interval_s: 0.5
{extra_rules}"""


@pytest.fixture()
def receivers() -> Iterator[tuple[WebhookReceiver, SmtpReceiver]]:
    hook, smtp = WebhookReceiver(SECRET), SmtpReceiver()
    yield hook, smtp
    hook.close()
    smtp.close()


def start_server(tmp_path: Any, config: str) -> SpanwiseProcess:
    path = tmp_path / "spanwise.yaml"
    path.write_text(config)
    server = SpanwiseProcess(str(tmp_path / "data"), ["--config", str(path)])
    server.start()
    return server


def firing(server: SpanwiseProcess) -> set[tuple[str, str]]:
    alerts = server.query("/api/v1/alerts").json()["alerts"]
    return {(a["rule"], a["labels"].get("service", "")) for a in alerts if a["state"] == "firing"}


def wait_until(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    return check()


def test_incidents_fire_exactly_their_alerts_and_resolve(tmp_path: Any, receivers: tuple[WebhookReceiver, SmtpReceiver]) -> None:
    hook, smtp = receivers
    server = start_server(tmp_path, alert_config(hook, smtp))
    services = {"checkout": dict(NORMAL), "search": dict(NORMAL)}
    traffic = Traffic(server.http_url, services).start()
    try:
        # Stable traffic over many evaluations: nothing fires, nobody is told anything.
        time.sleep(6)
        assert server.status()["alerts"]["evaluations"] >= 20
        assert firing(server) == set() and hook.received == [] and smtp.messages == []
        assert server.query("/api/v1/alerts/history").json()["history"] == []

        # Error burst on search: exactly HighErrorRate{service=search} fires, after `for`.
        services["search"] = {"n": 10, "errors": 6, "ms": 20}
        burst = time.monotonic()
        assert wait_until(lambda: firing(server) == {("HighErrorRate", "search")}, 8), firing(server)
        assert time.monotonic() - burst >= 1.0  # pending for for_s first
        sent = wait_until(lambda: hook.alerts("firing"), 5)
        assert [(a["labels"]["alertname"], a["labels"]["service"]) for a in sent] == [("HighErrorRate", "search")]
        assert all(r["signed"] for r in hook.received)
        assert sent[0]["labels"]["severity"] == "page"
        summary = re.fullmatch(r"search fails (0\.\d+) of requests", sent[0]["annotations"]["summary"])
        assert summary and 0.3 < float(summary.group(1)) <= 0.6  # the window may still hold calm batches
        assert sent[0]["annotations"]["link"] == "http://spanwise.example/services?service=search"
        mail = wait_until(lambda: smtp.messages, 5)
        assert "[FIRING:1] HighErrorRate" in mail[0]["data"] and mail[0]["to"] == ["oncall@example.com"]

        # Back to normal: it resolves, and each receiver hears it once.
        services["search"] = dict(NORMAL)
        assert wait_until(lambda: hook.alerts("resolved"), 10)
        assert wait_until(lambda: len(smtp.messages) == 2, 5)
        assert "RESOLVED" in smtp.messages[1]["data"]
        assert len(hook.alerts("firing")) == 1 and len(hook.alerts("resolved")) == 1

        # Latency spike on checkout: exactly SlowService{service=checkout}.
        services["checkout"] = {"n": 10, "errors": 0, "ms": 800}
        assert wait_until(lambda: firing(server) == {("SlowService", "checkout")}, 8), firing(server)
        services["checkout"] = dict(NORMAL)
        assert wait_until(lambda: firing(server) == set(), 10), firing(server)

        # Checkout goes silent: the absence rule fires, and resolves when it is back.
        del services["checkout"]
        assert wait_until(lambda: firing(server) == {("CheckoutSilent", "checkout")}, 8), firing(server)
        services["checkout"] = dict(NORMAL)
        assert wait_until(lambda: firing(server) == set(), 8), firing(server)

        history = server.query("/api/v1/alerts/history", limit="100").json()["history"]
        fired = sorted((h["rule"], h["labels"].get("service")) for h in history if h["to_state"] == "firing")
        assert fired == [("CheckoutSilent", "checkout"), ("HighErrorRate", "search"), ("SlowService", "checkout")]
        assert all(h["labels"]["alertname"] == h["rule"] for h in history)
        assert len([h for h in history if h["to_state"] == "resolved"]) == 3
    finally:
        traffic.stop()
        server.stop()


def test_restart_mid_incident_neither_loses_nor_duplicates(tmp_path: Any) -> None:
    hook = WebhookReceiver(SECRET)
    rules = """    - name: LongIncident
      query: {kind: span_metric, metric: error_rate, service: search, window_s: 3}
      condition: {op: ">", threshold: 0.3, min_samples: 10}
      interval_s: 0.5
      for_s: 3
"""
    server = start_server(tmp_path, alert_config(hook, extra_rules=rules))
    services = {"search": {"n": 10, "errors": 6, "ms": 20}}
    traffic = Traffic(server.http_url, services).start()
    try:
        # Restart while pending: the `for` timer survives (it fires within `for` of the
        # first activation, not `for` after the restart).
        assert wait_until(lambda: any(a["rule"] == "LongIncident" and a["state"] == "pending"
                                      for a in server.query("/api/v1/alerts").json()["alerts"]), 8)
        pending_at = min(a["active_at_ms"] for a in server.query("/api/v1/alerts").json()["alerts"]
                         if a["rule"] == "LongIncident")
        server.stop()
        server.start()
        assert wait_until(lambda: ("LongIncident", "search") in firing(server), 10)
        fired = next(a for a in server.query("/api/v1/alerts").json()["alerts"] if a["rule"] == "LongIncident")
        assert fired["active_at_ms"] == pending_at

        # Firing and told: a restart does not tell again.
        assert wait_until(lambda: [a for a in hook.alerts("firing") if a["labels"]["alertname"] == "LongIncident"], 5)
        server.stop()
        server.start()
        time.sleep(3)
        assert ("LongIncident", "search") in firing(server)

        # Resolved while the receiver is down, restarted before it is back: the
        # resolution is still delivered, once.
        hook.fail = True
        services["search"] = dict(NORMAL)
        assert wait_until(lambda: ("LongIncident", "search") not in firing(server), 10)
        time.sleep(1)
        server.stop()
        hook.fail = False
        server.start()
        assert wait_until(lambda: [a for a in hook.alerts("resolved") if a["labels"]["alertname"] == "LongIncident"], 10)
        time.sleep(2)
        mine = [a for a in hook.alerts() if a["labels"]["alertname"] == "LongIncident"]
        assert [a["status"] for a in mine] == ["firing", "resolved"]
    finally:
        traffic.stop()
        server.stop()
        hook.close()

"""The alerting API on a real server: rules CRUD with field-named errors and persistence
across restarts, silences, the "send test" action, Slack's format, and the real
Prometheus Alertmanager receiving alerts through its v2 API."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from alert_receivers import AlertmanagerProcess, WebhookReceiver
from alert_traffic import Traffic
from server_process import SpanwiseProcess
from test_alerts_incidents import NORMAL, firing, start_server, wait_until

RULE = {"name": "ApiErrors", "query": {"kind": "span_metric", "metric": "error_rate", "window_s": 3},
        "condition": {"op": ">", "threshold": 0.3, "min_samples": 10}, "interval_s": 0.5,
        "labels": {"severity": "ticket", "team": "search"},
        "annotations": {"description": "{{ $labels.service }} error rate {{ $value }}"}}


def post(server: SpanwiseProcess, path: str, body: Any) -> httpx.Response:
    return httpx.post(server.query_url + path, json=body, timeout=10)


def config(am: AlertmanagerProcess, hook: WebhookReceiver, slack: WebhookReceiver) -> str:
    return f"""
ingest: {{flush_interval_ms: 100}}
alerts:
  tick_s: 0.5
  alertmanager_resend_s: 1
  external_url: http://spanwise.example
  receivers:
    - {{name: am, type: alertmanager, url: "{am.url}"}}
    - {{name: hook, type: webhook, url: "{hook.url}", secret: s3cret}}
    - {{name: chat, type: slack, url: "{slack.url}"}}
  rules:
    - name: FromConfig
      query: {{kind: logs, metric: count, search: boom}}
      condition: {{op: ">", threshold: 100}}
"""


def test_rules_api_validation_and_persistence(tmp_path: Any) -> None:
    am, hook, slack = AlertmanagerProcess(str(tmp_path)), WebhookReceiver("s3cret"), WebhookReceiver()
    server = start_server(tmp_path, config(am, hook, slack))
    try:
        bad = post(server, "/api/v1/alerts/rules", {**RULE, "condition": {"op": "=="}})
        assert bad.status_code == 400 and "condition: op: must be one of" in bad.json()["error"]["message"]
        bad = post(server, "/api/v1/alerts/rules", {**RULE, "query": {"kind": "span_metric", "metric": "p42"}})
        assert bad.status_code == 400 and "query: metric:" in bad.json()["error"]["message"]
        bad = post(server, "/api/v1/alerts/rules", {**RULE, "receivers": ["nobody"]})
        assert bad.status_code == 400 and "receivers: unknown receiver(s) nobody" in bad.json()["error"]["message"]
        assert post(server, "/api/v1/alerts/rules", {**RULE, "name": "FromConfig"}).status_code == 400
        bad = httpx.post(server.query_url + "/api/v1/alerts/rules", content=b"{not json",
                         headers={"Content-Type": "application/json"})
        assert bad.status_code == 400
        for number in (b"1e400", b"NaN", b"-Infinity"):  # a stored rule no JSON answer could hold
            body = b'{"name": "Inf", "query": {"kind": "logs", "metric": "count"}, "condition": {"threshold": %s}}' % number
            bad = httpx.post(server.query_url + "/api/v1/alerts/rules", content=body,
                             headers={"Content-Type": "application/json"})
            assert bad.status_code == 400 and "not JSON" in bad.json()["error"]["message"], bad.text
        assert httpx.get(server.query_url + "/api/v1/alerts/rules").status_code == 200

        assert post(server, "/api/v1/alerts/rules", RULE).status_code == 200
        assert post(server, "/api/v1/alerts/rules", RULE).status_code == 400  # exists
        changed = {**RULE, "for_s": 2.0}
        assert httpx.put(f"{server.query_url}/api/v1/alerts/rules/ApiErrors", json=changed).status_code == 200
        assert httpx.put(f"{server.query_url}/api/v1/alerts/rules/Nope", json={**RULE, "name": "Nope"}).status_code == 404
        assert post(server, "/api/v1/alerts/rules", {**RULE, "name": "Doomed"}).status_code == 200
        assert httpx.delete(f"{server.query_url}/api/v1/alerts/rules/Doomed").status_code == 200
        assert httpx.delete(f"{server.query_url}/api/v1/alerts/rules/FromConfig").status_code == 404

        server.stop()
        server.start()
        rules = {r["name"]: r for r in server.query("/api/v1/alerts/rules").json()["rules"]}
        assert set(rules) == {"FromConfig", "ApiErrors"}
        assert rules["ApiErrors"]["for_s"] == 2.0 and rules["ApiErrors"]["source"] == "api"
        assert rules["FromConfig"]["source"] == "config"
    finally:
        server.stop()
        hook.close()
        slack.close()


def test_alertmanager_silences_and_send_test(tmp_path: Any) -> None:
    am, hook, slack = AlertmanagerProcess(str(tmp_path)), WebhookReceiver("s3cret"), WebhookReceiver()
    am.start()
    server = start_server(tmp_path, config(am, hook, slack))
    services = {"search": {"n": 10, "errors": 6, "ms": 20}, "checkout": {"n": 10, "errors": 6, "ms": 20}}
    traffic = Traffic(server.http_url, services)
    try:
        silence = post(server, "/api/v1/alerts/silences", {"matchers": [{"name": "service", "value": "check.*", "regex": True}],
                                                         "duration_s": 600, "comment": "deploy"})
        assert silence.status_code == 200 and silence.json()["status"] == "active"
        bad = post(server, "/api/v1/alerts/silences", {"matchers": []})
        assert bad.status_code == 400 and "matchers" in bad.json()["error"]["message"]
        assert post(server, "/api/v1/alerts/rules", RULE).status_code == 200
        traffic.start()

        # Both fire; only the unsilenced one reaches the receivers.
        assert wait_until(lambda: firing(server) == {("ApiErrors", "search"), ("ApiErrors", "checkout")}, 10)
        shown = wait_until(lambda: am.alerts(), 10)
        assert [(a["labels"]["alertname"], a["labels"]["service"]) for a in shown] == [("ApiErrors", "search")]
        assert shown[0]["labels"]["severity"] == "ticket" and shown[0]["labels"]["team"] == "search"
        assert re.fullmatch(r"search error rate 0\.[3-6]\d*", shown[0]["annotations"]["description"])
        assert shown[0]["generatorURL"] == "http://spanwise.example/alerts?rule=ApiErrors"
        assert wait_until(lambda: hook.alerts("firing"), 5)
        assert {a["labels"]["service"] for a in hook.alerts()} == {"search"}
        text = wait_until(lambda: slack.received, 5)[0]["body"]["text"]
        assert "[FIRING:1] ApiErrors" in text and "service=search" in text

        # Alertmanager keeps the alert while Spanwise re-sends it (endsAt moves ahead).
        ends = shown[0]["endsAt"]
        assert wait_until(lambda: am.alerts() and am.alerts()[0]["endsAt"] != ends, 5)

        # Expire the silence: the checkout alert is sent now.
        assert httpx.delete(f"{server.query_url}/api/v1/alerts/silences/{silence.json()['id']}").status_code == 200
        assert wait_until(lambda: {a["labels"]["service"] for a in am.alerts()} == {"search", "checkout"}, 10)
        assert httpx.delete(f"{server.query_url}/api/v1/alerts/silences/{silence.json()['id']}").status_code == 404

        # Resolve: Alertmanager hears it (no longer active there).
        services["search"] = dict(NORMAL)
        services["checkout"] = dict(NORMAL)
        assert wait_until(lambda: am.alerts() == [], 10)
        assert wait_until(lambda: len(hook.alerts("resolved")) == 2, 5)

        before = len(hook.received)
        sent = httpx.post(f"{server.query_url}/api/v1/alerts/receivers/hook/test", timeout=10)
        assert sent.status_code == 200 and hook.received[before]["body"]["alerts"][0]["labels"]["alertname"] == "SpanwiseTest"
        assert hook.received[before]["signed"]
        assert httpx.post(f"{server.query_url}/api/v1/alerts/receivers/ghost/test").status_code == 404
        hook.fail = True
        failed = httpx.post(f"{server.query_url}/api/v1/alerts/receivers/hook/test", timeout=30)
        assert failed.status_code == 503 and "HTTP 500" in failed.json()["error"]["message"]
        status = server.status()["alerts"]
        assert status["notifications_sent"] >= 4 and status["rules"] == 2
    finally:
        traffic.stop()
        server.stop()
        am.stop()
        hook.close()
        slack.close()

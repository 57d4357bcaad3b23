"""Alerting per project on a real server with auth: two projects with the same rule name and
the same service name, traffic that breaks only one project's service. Only that project's
alert fires, only its viewer sees it and its history, receivers hear its project, a silence
or a deletion in the other project changes nothing for it, and a restart keeps each
project's rules, alerts and silences."""

from __future__ import annotations

from typing import Any

import httpx
from alert_receivers import WebhookReceiver
from alert_traffic import Traffic
from server_process import SpanwiseProcess
from test_alerts_incidents import NORMAL, wait_until

RULE = {"name": "Errors", "query": {"kind": "span_metric", "metric": "error_rate", "window_s": 3},
        "condition": {"op": ">", "threshold": 0.3, "min_samples": 10}, "interval_s": 0.5}
BROKEN = {"n": 10, "errors": 6, "ms": 20}


def config(hook: WebhookReceiver, chat: WebhookReceiver) -> str:
    return f"""
ingest: {{flush_interval_ms: 100}}
alerts:
  tick_s: 0.5
  receivers:
    - {{name: hook, type: webhook, url: "{hook.url}", secret: s3cret}}
    - {{name: chat, type: slack, url: "{chat.url}"}}
  rules:
    - name: FromConfig
      query: {{kind: logs, metric: count, search: boom}}
      condition: {{op: ">", threshold: 100}}
"""


class Caller:
    """One token of one project against the query API."""

    def __init__(self, server: SpanwiseProcess, token: str) -> None:
        self.url, self.headers = server.query_url, {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: Any) -> Any:
        answer = httpx.get(self.url + path, params=params, headers=self.headers, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, self.url + path, json=body, headers=self.headers, timeout=10)


def project_tokens(server: SpanwiseProcess, project: str) -> dict[str, str]:
    """The project, made by the admin, and a token of each role that matters here."""
    made = httpx.post(f"{server.query_url}/api/v1/projects", json={"name": project}, headers=server.auth_headers())
    assert made.status_code == 200, made.text
    tokens = {}
    for role in ("ingest", "viewer", "editor"):
        issued = httpx.post(f"{server.query_url}/api/v1/tokens", headers=server.auth_headers(),
                            json={"name": f"{project}-{role}", "role": role, "project": project})
        assert issued.status_code == 200, issued.text
        tokens[role] = issued.json()["token"]
    return tokens


def firing(caller: Caller) -> list[dict[str, Any]]:
    return [a for a in caller.get("/api/v1/alerts")["alerts"] if a["state"] == "firing"]


def test_alerts_belong_to_their_project(tmp_path: Any) -> None:
    hook, chat = WebhookReceiver("s3cret"), WebhookReceiver()
    path = tmp_path / "spanwise.yaml"
    path.write_text(config(hook, chat))
    server = SpanwiseProcess(str(tmp_path / "data"), ["--config", str(path)], auth=True)
    server.start()
    shop_services, bank_services = {"api": dict(BROKEN)}, {"api": dict(NORMAL)}
    traffic: list[Traffic] = []
    try:
        shop, bank = project_tokens(server, "shop"), project_tokens(server, "bank")
        shop_edit, shop_view = Caller(server, shop["editor"]), Caller(server, shop["viewer"])
        bank_edit, bank_view = Caller(server, bank["editor"]), Caller(server, bank["viewer"])
        for editor in (shop_edit, bank_edit):  # one name, two independent rules
            assert editor.send("POST", "/api/v1/alerts/rules", RULE).status_code == 200
        assert bank_view.send("POST", "/api/v1/alerts/rules", {**RULE, "name": "Mine"}).status_code == 403
        labelled = bank_edit.send("POST", "/api/v1/alerts/rules", {**RULE, "name": "Other", "labels": {"project": "shop"}})
        assert labelled.status_code == 400 and "labels: 'project'" in labelled.json()["error"]["message"]
        # Bank silences its own service "api": shop's alerts on its "api" are not bank's to mute.
        bank_silence = bank_edit.send("POST", "/api/v1/alerts/silences",
                                      {"matchers": [{"name": "service", "value": "api"}], "duration_s": 600}).json()
        shop_silence = shop_edit.send("POST", "/api/v1/alerts/silences",
                                      {"matchers": [{"name": "service", "value": "nothing"}], "duration_s": 600}).json()
        traffic = [Traffic(server.http_url, shop_services, headers={"Authorization": f"Bearer {shop['ingest']}"}).start(),
                   Traffic(server.http_url, bank_services, headers={"Authorization": f"Bearer {bank['ingest']}"}).start()]

        [alert] = wait_until(lambda: firing(shop_view), 15)
        assert alert["rule"] == "Errors" and alert["labels"]["service"] == "api" and alert["labels"]["project"] == "shop"
        assert wait_until(lambda: hook.alerts("firing"), 5) and wait_until(lambda: chat.received, 5)
        assert {a["labels"]["project"] for a in hook.alerts()} == {"shop"}
        assert hook.received[0]["body"]["groupLabels"] == {"alertname": "Errors", "project": "shop"}
        assert "project=shop" in chat.received[0]["body"]["text"]
        history = shop_view.get("/api/v1/alerts/history", rule="Errors")["history"]
        assert "firing" in [h["to_state"] for h in history] and {h["labels"]["project"] for h in history} == {"shop"}

        # Bank evaluates its own "Errors" over its own healthy "api" (in the same cycles): nothing.
        assert bank_view.get("/api/v1/alerts")["alerts"] == []
        assert bank_view.get("/api/v1/alerts/history")["history"] == []
        [bank_rule] = bank_view.get("/api/v1/alerts/rules")["rules"]
        assert (bank_rule["name"], bank_rule["state"], bank_rule["source"]) == ("Errors", "inactive", "api")
        assert [r["name"] for r in shop_view.get("/api/v1/alerts/rules")["rules"]] == ["Errors"]  # config rules: default's
        bank_series = bank_view.get("/api/v1/alerts/rules/Errors/series", lookback="1m")["series"]
        shop_series = shop_view.get("/api/v1/alerts/rules/Errors/series", lookback="1m")["series"]
        assert max(v for s in shop_series for v in s["values"] if v is not None) > 0.3
        assert all(v in (None, 0.0) for s in bank_series for v in s["values"])
        assert [s["id"] for s in bank_view.get("/api/v1/alerts/silences")["silences"]] == [bank_silence["id"]]
        assert [s["id"] for s in shop_view.get("/api/v1/alerts/silences")["silences"]] == [shop_silence["id"]]

        # Bank's changes touch only bank: its rule goes, shop's silence is not found.
        assert bank_edit.send("DELETE", f"/api/v1/alerts/silences/{shop_silence['id']}").status_code == 404
        assert bank_edit.send("DELETE", "/api/v1/alerts/rules/Errors").status_code == 200
        sent = bank_edit.send("POST", "/api/v1/alerts/receivers/hook/test")
        assert sent.status_code == 200 and hook.received[-1]["body"]["alerts"][0]["labels"]["project"] == "bank"

        fired_at = alert["fired_at_ms"]
        server.stop()
        server.start()
        [again] = wait_until(lambda: firing(shop_view), 10)
        assert again["fired_at_ms"] == fired_at and again["labels"]["project"] == "shop"
        assert bank_view.get("/api/v1/alerts/rules")["rules"] == [] and bank_view.get("/api/v1/alerts")["alerts"] == []
        assert [s["id"] for s in bank_view.get("/api/v1/alerts/silences")["silences"]] == [bank_silence["id"]]
        assert [r["name"] for r in Caller(server, server.admin_token or "").get("/api/v1/alerts/rules")["rules"]] == ["FromConfig"]
    finally:
        for sender in traffic:
            sender.stop()
        server.stop()
        hook.close()
        chat.close()

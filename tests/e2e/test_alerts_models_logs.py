"""Model and log incidents through a real server: a model version's error burst fires for
that version only; a burst of matching error logs fires the log rule; both resolve."""

from __future__ import annotations

import time
from typing import Any

from alert_receivers import WebhookReceiver
from alert_traffic import Traffic, send_logs
from test_alerts_incidents import start_server, wait_until

CONFIG = """
ingest: {{flush_interval_ms: 100}}
alerts:
  tick_s: 0.5
  receivers: [{{name: hook, type: webhook, url: "{url}"}}]
  rules:
    - name: ModelErrors
      query: {{kind: model_metric, metric: error_rate, model: fraud, window_s: 3}}
      condition: {{op: ">", threshold: 0.3, min_samples: 10}}
      interval_s: 0.5
    - name: SlowModel
      query: {{kind: model_metric, metric: p95_ms, window_s: 3}}
      condition: {{op: ">", threshold: 500, min_samples: 10}}
      interval_s: 0.5
    - name: TimeoutLogs
      query: {{kind: logs, metric: count, search: timeout, severity: ERROR, window_s: 3}}
      condition: {{op: ">", threshold: 5}}
      interval_s: 0.5
"""


def model_traffic(version: str, errors: int, ms: float = 20) -> dict[str, Any]:
    return {"service": "scorer", "n": 10, "errors": errors, "ms": ms, "name": "predict",
            "attrs": {"ml.model.name": "fraud", "ml.model.version": version, "ml.prediction.value": 0.4}}


def firing(server: Any) -> set[tuple[str, ...]]:
    return {(a["rule"], *(a["labels"].get(k, "") for k in ("model", "version", "service")))
            for a in server.query("/api/v1/alerts").json()["alerts"] if a["state"] == "firing"}


def test_model_version_and_log_bursts(tmp_path: Any) -> None:
    hook = WebhookReceiver()
    server = start_server(tmp_path, CONFIG.format(url=hook.url))
    traffic = Traffic(server.http_url, {"v1": model_traffic("v1", 0), "v2": model_traffic("v2", 0)}).start()
    try:
        time.sleep(4)
        assert firing(server) == set()
        traffic.services["v2"] = model_traffic("v2", 6)
        assert wait_until(lambda: firing(server) == {("ModelErrors", "fraud", "v2", "")}, 10), firing(server)
        traffic.services["v2"] = model_traffic("v2", 0, ms=900)
        assert wait_until(lambda: firing(server) == {("SlowModel", "fraud", "v2", "")}, 10), firing(server)
        traffic.services["v2"] = model_traffic("v2", 0)
        assert wait_until(lambda: firing(server) == set(), 10), firing(server)

        send_logs(server.http_url, "payments", ["upstream ok"] * 20, severity=9)  # INFO: not counted
        send_logs(server.http_url, "payments", ["db timeout"] * 3)  # below the threshold
        time.sleep(2)
        assert firing(server) == set()
        send_logs(server.http_url, "payments", ["db timeout after 5s"] * 8)
        assert wait_until(lambda: firing(server) == {("TimeoutLogs", "", "", "payments")}, 8), firing(server)
        assert wait_until(lambda: firing(server) == set(), 10), firing(server)  # the burst leaves the window
        assert wait_until(lambda: len(hook.alerts()) == 6, 5)
        sent = [(a["labels"]["alertname"], a["status"]) for a in hook.alerts()]
        assert sorted(sent) == sorted([("ModelErrors", "firing"), ("ModelErrors", "resolved"), ("SlowModel", "firing"),
                                       ("SlowModel", "resolved"), ("TimeoutLogs", "firing"), ("TimeoutLogs", "resolved")])
    finally:
        traffic.stop()
        server.stop()
        hook.close()

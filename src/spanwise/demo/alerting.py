"""The demo's alert rules: one per scheduled incident, installed through the alerting API
(`POST /api/v1/alerts/rules`, `PUT` when a rule of that name is there from an earlier run),
and a watcher that prints each alert when it fires.

- `DemoLtvSlow`: the LTV model's p95 over 10 s above 250 ms (the live latency spike);
- `DemoChurnDrift`: drift of any churn feature with an effect size above 0.5 (the support
  outage moves `support_tickets` by about 3 of its standard deviations; the others stay well
  under 0.5), one alert per drifted feature and version;
- `DemoChurnV2Accuracy`: churn v2's accuracy under 0.72 (its broken feature transform; about 0.75
  before it).

The two model-signal rules read stored signals; the demo has them computed over the last day
right after the backfill (`POST /api/v1/models/{name}/signals/compute`, as "Compute now" in
the UI), so they fire in the first evaluation instead of after the scheduler's interval.
Rules evaluate every 5 s without a `for` delay, so a short run shows them.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Callable

from spanwise import api_http

RULES: list[dict[str, Any]] = [
    {"name": "DemoLtvSlow", "query": {"kind": "model_metric", "metric": "p95_ms", "model": "ltv", "window_s": 10},
     "condition": {"op": ">", "threshold": 250, "resolve_threshold": 150, "min_samples": 5},
     "labels": {"severity": "page", "team": "ml-platform"},
     "annotations": {"summary": "ltv {{ $labels.version }} p95 is {{ $value }} ms"}},
    {"name": "DemoChurnDrift", "query": {"kind": "model_signal", "metric": "drift", "model": "churn", "window_s": 3600},
     "condition": {"op": ">", "threshold": 0.5},
     "labels": {"severity": "ticket", "team": "churn"},
     "annotations": {"summary": "churn {{ $labels.version }}: {{ $labels.feature }} drifted (effect size {{ $value }})"}},
    {"name": "DemoChurnV2Accuracy",
     "query": {"kind": "model_signal", "metric": "accuracy", "model": "churn", "version": "v2", "window_s": 3600},
     "condition": {"op": "<", "threshold": 0.72, "resolve_threshold": 0.75},
     "labels": {"severity": "page", "team": "churn"},
     "annotations": {"summary": "churn v2 accuracy is {{ $value }}"}},
]
for _rule in RULES:
    _rule.update({"interval_s": 5, "for_s": 0})
NAMES = {rule["name"] for rule in RULES}
POLL_S = 1.0


def install(api_url: str) -> list[str]:
    """Create or replace the demo's rules; the names installed (none when alerting is off)."""
    installed = []
    for rule in RULES:
        status, _ = send(api_url, "POST", "/api/v1/alerts/rules", rule)
        if status == 400:  # exists from an earlier run: replace it
            status, _ = send(api_url, "PUT", f"/api/v1/alerts/rules/{rule['name']}", rule)
        if status == 200:
            installed.append(rule["name"])
    return installed


def compute_signals(api_url: str, models: tuple[str, ...] = ("churn", "ltv")) -> None:
    """Store each model's signals over the last day now, for the model-signal rules."""
    for model in models:
        send(api_url, "POST", f"/api/v1/models/{model}/signals/compute?window=1d")


class AlertWatcher:
    """Polls `GET /api/v1/alerts` in a thread and reports each demo alert once, when it fires."""

    def __init__(self, api_url: str, report: Callable[[str], None]) -> None:
        self._api_url, self._report = api_url, report
        self.fired: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-alerts", daemon=True)

    def start(self) -> "AlertWatcher":
        self._thread.start()
        return self

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        self._thread.join()
        self.poll()
        return list(self.fired.values())

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            self.poll()

    def poll(self) -> None:
        status, body = send(self._api_url, "GET", "/api/v1/alerts")
        if status != 200:
            return
        for alert in body.get("alerts", []):
            if alert["rule"] not in NAMES or alert["state"] != "firing" or alert["fingerprint"] in self.fired:
                continue
            labels = {k: v for k, v in alert["labels"].items() if k in ("model", "version", "feature", "service")}
            self.fired[alert["fingerprint"]] = {"rule": alert["rule"], "labels": labels, "value": alert["value"]}
            self._report(f"ALERT firing: {alert['rule']} {labels} value={alert['value']:.3g}: "
                         f"{alert.get('annotations', {}).get('summary', '')}")


def send(api_url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A JSON request; (status, parsed body), status 0 when the server did not answer."""
    data = json.dumps(body).encode() if body is not None else None
    try:
        status, answer = api_http.call(f"{api_url}{path}", timeout=60, method=method, body=data,
                                       content_type="application/json" if data else "")
        return status, json.loads(answer or b"null")
    except api_http.ApiFailure as exc:
        return exc.status or 0, None
    except ValueError:
        return 0, None

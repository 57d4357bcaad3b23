"""A rule's evaluated series with its threshold lines, on a real server with real traffic:
one series per label set, values as the condition saw them, bounded points, strict
parameters and a 404 for an unknown rule."""

from __future__ import annotations

import time
from typing import Any

import httpx
from alert_traffic import Traffic
from test_alerts_incidents import NORMAL, firing, start_server, wait_until

RULE = {"name": "Errors", "query": {"kind": "span_metric", "metric": "error_rate", "window_s": 2},
        "condition": {"op": ">", "threshold": 0.3, "resolve_threshold": 0.1, "min_samples": 5}, "interval_s": 0.5}
CONFIG = "ingest: {flush_interval_ms: 100}\nalerts: {tick_s: 0.5}\n"


def test_rule_series_has_each_label_set_and_the_threshold(tmp_path: Any) -> None:
    server = start_server(tmp_path, CONFIG)
    traffic = Traffic(server.http_url, {"calm": NORMAL, "broken": {"n": 10, "errors": 8, "ms": 20}}).start()
    try:
        assert httpx.post(f"{server.query_url}/api/v1/alerts/rules", json=RULE).status_code == 200
        assert wait_until(lambda: ("Errors", "broken") in firing(server), 20)
        started = time.time_ns()
        found = server.query("/api/v1/alerts/rules/Errors/series", lookback="10s")
        assert found.status_code == 200, found.text
        body = found.json()
        points = body["points"]
        assert 2 <= len(points) <= 60 and points == sorted(points)
        assert started - 10**9 <= points[-1] <= started + 10**9 and points[-1] - points[0] <= 10 * 10**9
        assert body["step_ns"] >= 0.5e9  # never finer than the rule's interval
        assert body["thresholds"] == [{"name": "threshold", "value": 0.3, "op": ">"},
                                      {"name": "resolve", "value": 0.1, "op": ">"}]
        series = {s["labels"]["service"]: s["values"] for s in body["series"]}
        assert set(series) == {"calm", "broken"} and all(len(v) == len(points) for v in series.values())
        assert series["broken"][-1] is not None and 0.6 <= series["broken"][-1] <= 1.0
        assert series["calm"][-1] == 0.0
        # An hour before the traffic: no label set had data, so no series (not a line at zero).
        early = server.query("/api/v1/alerts/rules/Errors/series", start=str(started - 3600 * 10**9),
                             end=str(started - 3000 * 10**9)).json()
        assert early["series"] == [] and len(early["points"]) == 60
        missing = server.query("/api/v1/alerts/rules/Nope/series")
        assert missing.status_code == 404 and "Nope" in missing.json()["error"]["message"]
        bad = server.query("/api/v1/alerts/rules/Errors/series", step="1s")
        assert bad.status_code == 400 and "step" in bad.json()["error"]["message"]
        assert server.query("/api/v1/alerts/rules/Errors/series", lookback="soon").status_code == 400
    finally:
        traffic.stop()
        server.stop()

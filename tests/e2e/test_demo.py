"""`spanwise demo` for 20 seconds against a running server: its scheduled incidents are
found by the model analytics, checked here through the API (not through the demo's own
summary): the drifted feature on the right model, the regressed version worse, the
latency spikes (backfilled and live) in the model's latency."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow
DURATION_S = 20


@pytest.fixture(scope="module")
def demo(server: SpanwiseProcess) -> dict[str, Any]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "spanwise.cli", "demo", "--duration", str(DURATION_S), "--rate", "12", "--seed", "7",
         "--endpoint", server.http_url, "--api", server.query_url],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    summary["wall_s"] = time.monotonic() - started
    print(result.stdout[:2000])
    return summary


def _q(server: SpanwiseProcess, path: str, **params: Any) -> Any:
    response = server.query(path, **params)
    assert response.status_code == 200, response.text
    return response.json()


def test_demo_runs_within_its_budget_and_serves_every_service(server: SpanwiseProcess, demo: dict[str, Any]) -> None:
    assert demo["backfill_s"] < 45 and demo["wall_s"] < DURATION_S + 90  # ~10 s and ~35 s on an idle 2-core machine
    assert demo["requests"]["ok"] > DURATION_S * 12 * 0.6
    services = set(_q(server, "/api/services")["data"])
    assert {"web-frontend", "checkout-api", "feature-store", "churn-classifier", "ltv-regressor", "post-processor",
            "model-training"} <= services
    models = {m["name"]: m for m in _q(server, "/api/v1/models")}
    assert {v["version"] for v in models["churn"]["versions"]} == {"v1", "v2"}
    assert models["churn"]["predictions"] > 10_000


def test_drift_is_flagged_on_the_drifted_feature_of_the_right_model(server: SpanwiseProcess, demo: dict[str, Any]) -> None:
    for version in ("v1", "v2"):
        churn = _q(server, "/api/v1/models/churn/drift", version=version, lookback="1d")
        assert churn["reference"]["name"] == "training"
        assert churn["drifted_features"] == ["support_tickets"]
    ltv = _q(server, "/api/v1/models/ltv/drift", version="v1", lookback="1d")
    assert ltv["reference"]["name"] == "training" and ltv["drifted_features"] == []
    before = _q(server, "/api/v1/models/churn/drift", version="v1", start=demo["incidents"]["drift"]["start_unix_nano"]
                - 2 * 86_400 * 10**9, end=demo["incidents"]["drift"]["start_unix_nano"])
    assert before["drifted_features"] == []


def test_the_regressed_version_is_worse(server: SpanwiseProcess, demo: dict[str, Any]) -> None:
    since, now = demo["incidents"]["regression"]["start_unix_nano"], time.time_ns()
    compare = _q(server, "/api/v1/models/churn/compare", a="v1", b="v2", start=since, end=now)["accuracy"]
    assert compare["significant"] and compare["a"] - compare["b"] > 0.15, compare
    before = _q(server, "/api/v1/models/churn/quality", task="classification", version="v2",
                start=since - 3 * 86_400 * 10**9, end=since)["windows"][0]
    after = _q(server, "/api/v1/models/churn/quality", task="classification", version="v2", start=since, end=now)["windows"][0]
    assert before["accuracy"] - after["accuracy"] > 0.15
    assert after["label_coverage"] > 0.5


def test_latency_spikes_show_in_the_models_latency(server: SpanwiseProcess, demo: dict[str, Any]) -> None:
    (past_start, past_end), (live_start, live_end) = demo["incidents"]["latency_spikes"]["windows_unix_nano"]
    hour = 3600 * 10**9
    during = _q(server, "/api/v1/models/ltv/metrics", start=past_start, end=past_end, step=3600)["points"]
    before = _q(server, "/api/v1/models/ltv/metrics", start=past_start - 6 * hour, end=past_start, step=3600)["points"]
    assert min(p["latency_ms"]["p95"] for p in during) > 250, during
    assert max(p["latency_ms"]["p95"] for p in before) < 100, before
    live = _q(server, "/api/v1/models/ltv/metrics", start=live_start, end=live_end, step=(live_end - live_start) // 10**9)
    assert max(p["latency_ms"]["p95"] for p in live["points"]) > 250


def test_demo_services_log_into_their_traces(server: SpanwiseProcess, demo: dict[str, Any]) -> None:
    warnings = _q(server, "/api/v1/logs", service="feature-store", severity="WARN", lookback="1h")["logs"]
    assert warnings, "stale features are logged as warnings"
    entry = warnings[0]
    assert "refresh job failed" in entry["body"] and entry["traceId"] and entry["spanId"]
    in_trace = _q(server, f"/api/v1/traces/{entry['traceId']}/logs")["logs"]
    assert entry["body"] in [e["body"] for e in in_trace]
    span_ids = {s["spanId"] for s in _q(server, f"/api/v1/traces/{entry['traceId']}")["spans"]}
    assert entry["spanId"] in span_ids

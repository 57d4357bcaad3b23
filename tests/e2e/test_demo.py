"""`spanwise demo` for 20 seconds against a running server: its scheduled incidents are
found by the model analytics, checked here through the API (not through the demo's own
summary): the drifted feature on the right model, the regressed version worse, the
latency spikes (backfilled and live) in the model's latency, and the demo's alert rules
firing on them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import pytest
from server_process import SpanwiseProcess

from spanwise.demo import backfill

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
    summary["stdout"] = result.stdout
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


def test_drift_heatmap_is_green_but_for_the_drifted_feature(server: SpanwiseProcess, demo: dict[str, Any]) -> None:
    """The drift tab's hourly windows of the last day (one drift request per window, as the
    UI and the Models page's badge send): support_tickets is flagged in the drifted windows
    of churn; stable features, in ~35-prediction windows, are not. Each report of an
    unchanged model flags anything with probability <= alpha (0.01), so over the ~75
    model-windows here a stray flag or two is expected (at most 3 allowed: p < 2%), never the
    same feature again and again (the old fixed W/std rule flagged monthly_spend in 20 of
    25 windows)."""
    hour, now = 3600, time.time_ns() // 10**9
    drift_start = demo["incidents"]["drift"]["start_unix_nano"] // 10**9
    flagged: dict[tuple[str, str], list[tuple[int, list[str], int]]] = {}
    for model, version in (("churn", "v1"), ("churn", "v2"), ("ltv", "v1")):
        for start in range((now - 86_400) // hour * hour, now, hour):
            report = _q(server, f"/api/v1/models/{model}/drift", version=version, start=start * 10**9,
                        end=(start + hour) * 10**9)
            flagged.setdefault((model, version), []).append((start, report["drifted_features"], report["current"]["rows"]))
    stray = [(model, version, start, name) for (model, version), windows in flagged.items()
             for start, names, _ in windows for name in names if not (model == "churn" and name == "support_tickets")]
    model_windows = sum(len(w) for w in flagged.values())
    repeated = Counter((m, v, n) for m, v, _, n in stray).most_common(1)
    assert len(stray) <= 3 and (not repeated or repeated[0][1] <= 2), (model_windows, stray)
    for version in ("v1", "v2"):  # windows with enough predictions to flag anything (30)
        windows = [(s, names) for s, names, rows in flagged[("churn", version)] if s >= drift_start and rows >= 30]
        drifted = [start for start, names in windows if "support_tickets" in names]
        assert windows and len(drifted) >= 0.9 * len(windows), windows


def test_churn_v1_is_explained_backfilled_and_live(server: SpanwiseProcess, demo: dict[str, Any]) -> None:
    """The Explanations tab has content: SHAP (or occlusion) attributions of churn v1 over
    the week and in the live minute, for every churn feature."""
    week = _q(server, "/api/v1/models/churn/explanations", version="v1", lookback="7d")
    features = [f for w in week["windows"] for f in w["features"]]
    assert {f["name"] for f in features} == {"tenure_months", "monthly_spend", "support_tickets", "plan"}
    explained = sum(f["count"] for f in features if f["name"] == "plan")
    assert explained >= backfill.EXPLAINED_ROWS and all(f["mean_abs_attribution"] > 0 for f in features)
    live = _q(server, "/api/v1/models/churn/explanations", version="v1", lookback="5m")
    assert any(w["features"] for w in live["windows"]), live


def test_predictions_link_to_the_training_pipeline_run(server: SpanwiseProcess, demo: dict[str, Any]) -> None:
    """Lineage: the training pipeline run is stored and both models' predictions of the
    week and of the live minute link to its fit steps."""
    runs = _q(server, "/api/v1/traces", service="model-training", operation="pipeline train-models", lookback="1h")["traces"]
    assert len(runs) == 1, runs
    run_trace = runs[0]["traceId"]
    linked = _q(server, f"/api/v1/lineage/{run_trace}/predictions", lookback="7d", limit=1000)["predictions"]
    assert len(linked) == 1000
    one = _q(server, f"/api/v1/predictions/{linked[0]['prediction_id']}")
    assert one["lineage"] and {link["trace_id"] for link in one["lineage"]} == {run_trace}
    recent = _q(server, f"/api/v1/lineage/{run_trace}/predictions", lookback="5m", limit=10)["predictions"]
    assert len(recent) == 10


def test_roc_auc_covers_every_labelled_churn_prediction_of_the_week(server: SpanwiseProcess, demo: dict[str, Any]) -> None:
    window = _q(server, "/api/v1/models/churn/quality", task="classification", version="v1", lookback="7d",
                positive_label="churn")["windows"][0]
    assert window["labelled"] > 1000 and window["scored"] == window["labelled"], window
    assert 0.5 < window["roc_auc"] <= 1.0


def test_failed_model_calls_say_what_happened(server: SpanwiseProcess, demo: dict[str, Any]) -> None:
    """The demo's log of a failed churn call matches its (millisecond-long) span: no
    "timeout after 2 s" on an 8 ms trace."""
    logs = _q(server, "/api/v1/logs", service="churn-classifier", severity="error", lookback="5m", limit=50)
    records = logs.get("logs") or logs.get("records") or []
    assert records and all("model server overloaded" in str(r.get("body")) for r in records), records[:3]
    assert not any("timeout" in str(r.get("body")) for r in records)


def test_demo_alert_rules_fire_on_its_incidents(server: SpanwiseProcess, demo: dict[str, Any]) -> None:
    """The demo's rules fire on its incidents, each on what it should (checked through the
    alerting API's history, not only the demo's summary): the LTV latency spike, drift of
    `support_tickets` alone on churn, churn v2's accuracy; the demo printed them."""
    fired = {(a["rule"], a["labels"].get("feature", ""), a["labels"]["version"]) for a in demo["alerts"]}
    assert ("DemoLtvSlow", "", "v1") in fired or ("DemoLtvSlow", "", "v2") in fired, fired
    assert {f for rule, f, _ in fired if rule == "DemoChurnDrift"} == {"support_tickets"}, fired
    assert ("DemoChurnV2Accuracy", "", "v2") in fired, fired
    history = _q(server, "/api/v1/alerts/history", lookback="1h")["history"]
    to_firing = {(r["rule"], r["labels"].get("model"), r["labels"].get("feature", "")) for r in history
                 if r["to_state"] == "firing"}
    assert ("DemoLtvSlow", "ltv", "") in to_firing and ("DemoChurnV2Accuracy", "churn", "") in to_firing
    assert {f for rule, _, f in to_firing if rule == "DemoChurnDrift"} == {"support_tickets"}
    assert "ALERT firing: DemoLtvSlow" in demo["stdout"]

"""`spanwise demo`: platform, models, backfill, live traffic, then a summary of what the
model analytics found (read back through the API, as a user would)."""

from __future__ import annotations

import json
import logging
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from spanwise.demo import alerting, backfill, models, platform, traffic, world
from spanwise.demo.system import DemoSystem
from spanwise.sdk import Spanwise

log = logging.getLogger(__name__)
BACKFILL_DAYS = 7


@dataclass(frozen=True)
class DemoOptions:
    duration_s: float = 60.0
    rate: float = 20.0
    seed: int = 42
    backfill: bool = True
    backfill_requests: int = 12_000
    endpoint: str = "http://localhost:4318"
    api_url: str = "http://localhost:16686"
    data_dir: str = "./spanwise-demo-data"
    keep_running: bool = False


def run(options: DemoOptions) -> dict[str, Any]:
    """Run the demo; returns (and prints) the summary."""
    server = None
    if not platform.healthy(options.api_url):
        say(f"starting spanwise serve (data in {options.data_dir}) ...")
        server = platform.start_server(options.api_url, options.endpoint, options.data_dir)
    try:
        summary = _run(options)
        if server is not None and options.keep_running:
            say(f"the platform keeps running: {options.api_url} (Ctrl-C to stop)")
            _wait_for_interrupt()
        return summary
    finally:
        if server is not None:
            _stop(server)


def _run(options: DemoOptions) -> dict[str, Any]:
    rng = np.random.default_rng(options.seed)
    trainer = Spanwise("model-training", options.endpoint, protocol="http/protobuf", api_url=options.api_url)
    started = time.monotonic()
    trained = models.train(trainer, rng)
    trainer.shutdown()
    say(f"trained churn and ltv, versions v1 and v2, baselines uploaded ({time.monotonic() - started:.1f} s)")
    planned = time.time_ns()
    incidents = world.Incidents.schedule(planned, options.duration_s, options.backfill)
    system = DemoSystem(options.endpoint, options.api_url, trained, incidents, options.seed)
    timings: dict[str, float] = {}
    if options.backfill:
        timings["backfill_s"] = _backfill(system, trained, incidents, rng, options, planned)
    incidents = system.incidents = incidents.live_from(time.time_ns(), options.duration_s, options.backfill)
    watcher = _alerting(options)
    system.start()
    say(f"live traffic for {options.duration_s:.0f} s at {options.rate:g} requests/s: {system.url}/page")
    say(f"watch it in the web UI: {options.api_url}/services, {options.api_url}/models/churn?tab=drift")
    counts = traffic.run(system.url, system.sdks["checkout-api"], options.duration_s, options.rate, options.seed + 1)
    system.shutdown()
    fired = watcher.stop() if watcher else []
    summary = {"incidents": _incident_json(incidents), "requests": dict(counts), **timings, "alerts": fired,
               "findings": findings(options.api_url, incidents)}
    _print_summary(summary)
    return summary


def _alerting(options: DemoOptions) -> alerting.AlertWatcher | None:
    """Install the demo's alert rules and watch for them firing (None when alerting is off)."""
    installed = alerting.install(options.api_url)
    if not installed:
        say("alerting is off on this server: no demo alert rules")
        return None
    alerting.compute_signals(options.api_url)
    say(f"alert rules {', '.join(installed)}: {options.api_url}/alerts")
    return alerting.AlertWatcher(options.api_url, say).start()


def _backfill(system: DemoSystem, trained: models.Models, incidents: world.Incidents, rng: np.random.Generator,
              options: DemoOptions, live_start: int) -> float:
    started = time.monotonic()
    start = live_start - BACKFILL_DAYS * world.DAY_NS + 10 * 60 * 10**9
    history = backfill.simulate(trained, incidents, rng, start, live_start - 60 * 10**9, options.backfill_requests)
    recorded = backfill.record(system.sdks, history, incidents, rng, run_id=f"bf{secrets.token_hex(3)}")
    for sdk in system.sdks.values():
        sdk.flush(30)
    elapsed = time.monotonic() - started
    say(f"backfilled {BACKFILL_DAYS} days: {len(history.times)} requests, {recorded} predictions ({elapsed:.1f} s)")
    return elapsed


def findings(api_url: str, incidents: world.Incidents) -> dict[str, Any]:
    """What the analytics say about each incident, read through the API."""
    get = platform.get_json
    drift_churn = get(api_url, "/api/v1/models/churn/drift", version="v1", lookback="1d") or {}
    drift_ltv = get(api_url, "/api/v1/models/ltv/drift", version="v1", lookback="1d") or {}
    since = max(incidents.regression_start, time.time_ns() - 7 * world.DAY_NS)
    accuracy = {}
    for version in ("v1", "v2"):
        quality = get(api_url, "/api/v1/models/churn/quality", task="classification", version=version,
                      start=since, end=time.time_ns()) or {}
        windows = quality.get("windows") or [{}]
        accuracy[version] = windows[0].get("accuracy")
    spike_start, spike_end = incidents.spikes[0]
    metrics = get(api_url, "/api/v1/models/ltv/metrics", start=spike_start - 3600 * 10**9,
                  end=spike_end + 3600 * 10**9, step=max(60, (spike_end - spike_start) // 10**9)) or {}
    return {
        "churn_drifted_features": drift_churn.get("drifted_features"),
        "ltv_drifted_features": drift_ltv.get("drifted_features"),
        "churn_accuracy_since_regression": accuracy,
        "ltv_latency_p95_ms_around_spike": _p95_series(metrics),
    }


def _p95_series(metrics: dict[str, Any]) -> list[Any]:
    found = []
    for point in metrics.get("series") or metrics.get("points") or []:
        latency = point.get("latency_ms") or {}
        found.append([point.get("start_unix_nano") or point.get("time_unix_nano"), point.get("version"),
                      latency.get("p95") if isinstance(latency, dict) else point.get("latency_p95_ms")])
    return found


def _incident_json(incidents: world.Incidents) -> dict[str, Any]:
    return {"drift": {"model": "churn", "feature": "support_tickets", "start_unix_nano": incidents.drift_start},
            "regression": {"model": "churn", "version": "v2", "start_unix_nano": incidents.regression_start},
            "latency_spikes": {"model": "ltv", "windows_unix_nano": [list(w) for w in incidents.spikes]}}


def _print_summary(summary: dict[str, Any]) -> None:
    found = summary["findings"]
    say(f"requests: {summary['requests']}")
    say(f"drift on churn v1 (last day vs training): {found['churn_drifted_features']}; on ltv v1: {found['ltv_drifted_features']}")
    say(f"churn accuracy since the v2 regression: {found['churn_accuracy_since_regression']}")
    say(f"alerts fired: {sorted({a['rule'] for a in summary['alerts']}) or 'none'}")
    print(json.dumps(summary), flush=True)


def say(text: str) -> None:
    print(f"spanwise demo: {text}", flush=True)


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()

"""Scheduled model signals: drift, data quality and quality stored as time series."""

from __future__ import annotations

import os
import random
import time
from typing import Any

import httpx
import pytest
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow
HOUR = 3600 * 10**9


def _prediction(rng: random.Random, i: int, at_ns: int, x: float, label: str) -> dict[str, Any]:
    attrs = {"ml.model.name": "risk", "ml.model.version": "v1", "ml.prediction.id": f"p{i}",
             "ml.feature.x": x, "ml.feature.y": rng.gauss(0.5, 0.1), "ml.prediction.label": label,
             "ml.prediction.confidence": 0.75}
    return {
        "traceId": f"{i + 1:032x}", "spanId": f"{i + 1:016x}", "name": "predict",
        "startTimeUnixNano": str(at_ns), "endTimeUnixNano": str(at_ns + 10**6),
        "attributes": [{"key": k, "value": {"doubleValue": v} if isinstance(v, float) else {"stringValue": v}}
                       for k, v in attrs.items()],
    }


def test_signals_are_computed_on_schedule_and_on_demand(tmp_path: os.PathLike[str]) -> None:
    config = os.path.join(tmp_path, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write("models:\n  schedule_interval_s: 1\n  window_s: 3600\n")
    server = SpanwiseProcess(os.path.join(tmp_path, "data"), ["--config", config])
    server.start()
    try:
        rng, now = random.Random(3), time.time_ns()
        spans = [_prediction(rng, i, now - 2 * HOUR + rng.randrange(HOUR - 10**9), rng.gauss(0.5, 0.1), "no")
                 for i in range(400)]
        spans += [_prediction(rng, i, now - HOUR + 120 * 10**9 + rng.randrange(HOUR - 180 * 10**9), rng.gauss(3.0, 0.1), "yes")
                  for i in range(400, 800)]
        body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "risk-api"}}]},
                                   "scopeSpans": [{"spans": spans}]}]}
        assert httpx.post(f"{server.http_url}/v1/traces", json=body, timeout=30).status_code == 200
        assert server.wait_for(lambda: server.status()["predictions"] >= 800)
        feedback = [{"prediction_id": f"p{i}", "label": "yes" if i % 4 else "no"} for i in range(400, 800)]
        assert httpx.post(f"{server.query_url}/api/v1/feedback", json=feedback).json()["accepted"] == 400

        def drift_rows() -> list[dict[str, Any]]:
            rows = server.query("/api/v1/models/risk/signals", signal="drift").json()["signals"]
            return [r for r in rows if r["feature"] in ("x", "y")]

        rows = server.wait_for(lambda: len({r["feature"] for r in drift_rows()}) == 2 and drift_rows(), timeout=20)
        latest = {r["feature"]: r for r in rows}
        assert latest["x"]["flagged"] is True and latest["y"]["flagged"] is False
        # The default rule decides (KS significant after adjustment, and W / std >= 0.1): the value is
        # its effect size, W / std (x moved by 25 of its stds).
        assert latest["x"]["version"] == "v1" and latest["x"]["value"] > 10 and latest["y"]["value"] < 1
        computed = httpx.post(f"{server.query_url}/api/v1/models/risk/signals/compute?window=1h").json()
        assert computed["rows_written"] > 0
        quality = server.query("/api/v1/models/risk/signals", signal="accuracy").json()["signals"]
        assert quality and quality[-1]["value"] == pytest.approx(0.75)
        # Calibrated confidence (0.75, and 75% of the labels agree): the estimate matches and is trusted.
        estimated = server.query("/api/v1/models/risk/signals", signal="estimated_accuracy").json()["signals"]
        assert estimated and estimated[-1]["value"] == pytest.approx(0.75)
        trusted = server.query("/api/v1/models/risk/signals", signal="estimate_trustworthy").json()["signals"]
        assert trusted and trusted[-1]["value"] == 1.0
        for feature, flagged in (("x", True), ("y", False)):  # x left its reference range: a data-quality issue
            rows = server.query("/api/v1/models/risk/signals", signal="missing_rate", feature=feature).json()["signals"]
            assert rows and rows[-1]["value"] == 0.0 and rows[-1]["flagged"] is flagged
        assert server.status()["model_signals"]["runs"] >= 1
        assert httpx.post(f"{server.query_url}/api/v1/models/nope/signals/compute").status_code == 404
        for bad in ("task=ranking", "window=0s"):  # not 200 with the signals that needed them silently missing
            assert httpx.post(f"{server.query_url}/api/v1/models/risk/signals/compute?{bad}").status_code == 400
    finally:
        assert server.stop() == 0

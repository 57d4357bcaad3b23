"""Stored model signals appear on `/metrics` as gauges, so Prometheus users can alert on drift.

A real server computes signals on its schedule from predictions sent over OTLP/HTTP (feature
`x` moved far in the last hour, `y` did not); `/metrics` is parsed with the official
`prometheus_client` parser.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow
HOUR = 3600 * 10**9
Series = dict[tuple[tuple[str, str], ...], float]


def _prediction(rng: random.Random, i: int, at_ns: int, x: float) -> dict[str, Any]:
    attrs = {"ml.model.name": "risk", "ml.model.version": "v1", "ml.prediction.id": f"p{i}",
             "ml.feature.x": x, "ml.feature.y": rng.gauss(0.5, 0.1), "ml.prediction.label": "yes",
             "ml.prediction.confidence": 0.75}
    return {
        "traceId": f"{i + 1:032x}", "spanId": f"{i + 1:016x}", "name": "predict",
        "startTimeUnixNano": str(at_ns), "endTimeUnixNano": str(at_ns + 10**6),
        "attributes": [{"key": k, "value": {"doubleValue": v} if isinstance(v, float) else {"stringValue": v}}
                       for k, v in attrs.items()],
    }


def _gauges(server: SpanwiseProcess) -> dict[str, Series]:
    response = httpx.get(f"{server.query_url}/metrics", timeout=30)
    assert response.status_code == 200
    found: dict[str, Series] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name.startswith("spanwise_model_signal"):
            assert family.type == "gauge"
            found[family.name] = {tuple(sorted(s.labels.items())): s.value for s in family.samples}
    return found


def test_model_signals_are_gauges_with_their_latest_value(tmp_path: os.PathLike[str]) -> None:
    config = os.path.join(tmp_path, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write("models:\n  schedule_interval_s: 1\n  window_s: 3600\n")
    server = SpanwiseProcess(os.path.join(tmp_path, "data"), ["--config", config])
    server.start()
    try:
        assert "spanwise_model_signal{" not in httpx.get(f"{server.query_url}/metrics").text
        rng, now = random.Random(5), time.time_ns()
        spans = [_prediction(rng, i, now - 2 * HOUR + rng.randrange(HOUR - 10**9), rng.gauss(0.5, 0.1))
                 for i in range(300)]
        spans += [_prediction(rng, i, now - HOUR + rng.randrange(HOUR - 60 * 10**9), rng.gauss(3.0, 0.1))
                  for i in range(300, 600)]
        body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "risk-api"}}]},
                                   "scopeSpans": [{"spans": spans}]}]}
        assert httpx.post(f"{server.http_url}/v1/traces", json=body, timeout=30).status_code == 200
        assert server.wait_for(lambda: server.status()["predictions"] >= 600)

        def drift_of(feature: str) -> tuple[tuple[str, str], ...]:
            return (("feature", feature), ("model_name", "risk"), ("model_version", "v1"), ("signal", "drift"))

        gauges = server.wait_for(lambda: (g := _gauges(server)) and drift_of("y") in g.get("spanwise_model_signal", {})
                                 and g, timeout=30)
        values, flags = gauges["spanwise_model_signal"], gauges["spanwise_model_signal_flagged"]
        assert values[drift_of("x")] > 10 and values[drift_of("y")] < 1  # x moved by ~25 stds
        assert flags[drift_of("x")] == 1 and flags[drift_of("y")] == 0
        missing = (("feature", "x"), ("model_name", "risk"), ("model_version", "v1"), ("signal", "missing_rate"))
        assert values[missing] == 0 and flags[missing] == 1  # x left its reference range
        # One series per (model, version, signal, feature): the scheduler keeps writing windows,
        # the gauge keeps the latest, and nothing was left out.
        assert len({labels for labels in values}) == len(values)
        assert all(dict(labels)["model_name"] == "risk" for labels in values)
        assert gauges["spanwise_model_signal_series_dropped"] == {(): 0.0}
        time.sleep(1.5)  # a later window: still one series each
        assert set(_gauges(server)["spanwise_model_signal"]) == set(values)
    finally:
        assert server.stop() == 0

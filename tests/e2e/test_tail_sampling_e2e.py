"""Tail sampling end to end: out-of-order spans across requests, each policy's exact
kept set, late spans following the decision, pending spans queryable and crash-safe."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import pytest
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow

CONFIG = """
ingest:
  flush_interval_ms: 100
sampling:
  tail:
    enabled: true
    decision_wait_s: 1.5
    keep_errors: true
    latency_threshold_ms: 500
    attributes: {vip: "^yes$"}
    confidence_below: 0.3
"""


def _span(trace: int, span: int, parent: int | None, ms: float, **attrs: Any) -> dict[str, Any]:
    now = time.time_ns() - 10**9
    body: dict[str, Any] = {
        "traceId": f"{trace:032x}", "spanId": f"{span:016x}", "name": f"op{span}",
        "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + int(ms * 1e6)),
        "attributes": [
            {"key": k, "value": {"doubleValue": v} if isinstance(v, float) else {"stringValue": v}} for k, v in attrs.items()
        ],
    }
    if parent:
        body["parentSpanId"] = f"{parent:016x}"
    if attrs.pop("error", None):
        body["status"] = {"code": 2}
    return body


def _send(server: SpanwiseProcess, *spans: dict[str, Any]) -> None:
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "tail"}}]},
                               "scopeSpans": [{"spans": list(spans)}]}]}
    assert httpx.post(f"{server.http_url}/v1/traces", json=body).status_code == 200


def _span_count(server: SpanwiseProcess, trace: int) -> int:
    response = server.query(f"/api/v1/traces/{trace:032x}")
    return len(response.json()["spans"]) if response.status_code == 200 else 0


def _start(tmp_path: os.PathLike[str]) -> tuple[SpanwiseProcess, str]:
    config = os.path.join(tmp_path, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(CONFIG)
    server = SpanwiseProcess(os.path.join(tmp_path, "data"), ["--config", config])
    server.start()
    return server, config


def test_policies_late_spans_and_queryable_pending(tmp_path: os.PathLike[str]) -> None:
    server, _ = _start(tmp_path)
    try:
        # children before roots, traces split across requests
        _send(server, _span(1, 12, 11, 5, error="x"), _span(2, 21, None, 600), _span(5, 51, None, 5))
        _send(server, _span(1, 11, None, 10), _span(3, 31, None, 5, vip="yes"), _span(6, 61, None, 5, vip="no"),
              _span(4, 41, None, 5, **{"ml.prediction.confidence": 0.2}), _span(7, 71, None, 5, **{"ml.prediction.confidence": 0.9}))
        assert server.wait_for(lambda: _span_count(server, 5) == 1, timeout=5)  # pending, yet queryable
        kept = {1: 2, 2: 1, 3: 1, 4: 1}
        def decided() -> bool:
            return all(_span_count(server, t) == n for t, n in kept.items()) and all(
                _span_count(server, t) == 0 for t in (5, 6, 7))
        assert server.wait_for(decided, timeout=15), {t: _span_count(server, t) for t in range(1, 8)}
        _send(server, _span(1, 13, 11, 1), _span(5, 52, 51, 1))  # late spans follow the decisions
        assert server.wait_for(lambda: _span_count(server, 1) == 3, timeout=10)
        time.sleep(2.5)
        assert _span_count(server, 5) == 0
        status = server.status()
        assert status["predictions"] == 2  # both confidence spans, kept or not
        stats = status["tail_sampling"]
        assert stats["traces_kept_error"] == 1 and stats["traces_kept_latency"] == 1
        assert stats["traces_kept_attribute"] == 1 and stats["traces_kept_low_confidence"] == 1
        assert stats["traces_kept"] == 4 and stats["traces_dropped"] == 3
        # the head sampler hands every span to the tail decision: none "kept" or dropped there
        head = status["processors"]
        assert head["sampling.spans_to_tail"] == head["sampling.spans_in"] > 0 and head["sampling.spans_dropped"] == 0
        assert "sampling.spans_kept" not in head, head
    finally:
        assert server.stop() == 0


def test_pending_spans_survive_a_kill(tmp_path: os.PathLike[str]) -> None:
    server, _ = _start(tmp_path)
    _send(server, _span(9, 91, None, 5, error="x"))
    assert server.wait_for(lambda: _span_count(server, 9) == 1, timeout=5)
    server.kill()
    restarted = SpanwiseProcess(server.data_dir, server.extra_args)
    restarted.start()
    try:
        assert _span_count(restarted, 9) == 1
        assert restarted.wait_for(lambda: restarted.status()["tail_sampling"].get("traces_kept_error") == 1, timeout=15)
        assert _span_count(restarted, 9) == 1
    finally:
        assert restarted.stop() == 0

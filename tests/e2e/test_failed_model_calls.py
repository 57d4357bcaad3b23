"""A model call that fails before a prediction exists counts against that model's version:
an errored span naming the model and its version (e.g. the model service's server span,
as the demo's churn-classifier marks it) is a failed prediction, counted once even when an
errored prediction span below it already counts the failure; a span naming only the model
stays a plain error span, and so does an INTERNAL span (a training step) naming both."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import pytest
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow


def _span(trace: int, span: int, parent: int | None, error: bool, **attrs: str) -> dict[str, Any]:
    now = time.time_ns() - 5 * 10**9
    body: dict[str, Any] = {
        "traceId": f"{trace:032x}", "spanId": f"{span:016x}", "name": "POST /predict", "kind": 2,
        "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 3_000_000),
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
    }
    if parent:
        body["parentSpanId"], body["kind"], body["name"] = f"{parent:016x}", 1, "predict"
    if error:
        body["status"] = {"code": 2, "message": "model server overloaded"}
    return body


def test_failed_calls_count_in_model_error_rates(tmp_path: os.PathLike[str]) -> None:
    server = SpanwiseProcess(os.path.join(tmp_path, "data"))
    server.start()
    try:
        v2 = {"ml.model.name": "churn", "ml.model.version": "v2"}
        spans = [_span(t, 1, None, False, **v2, **{"ml.prediction.label": "stay"}) for t in range(1, 17)]
        spans += [_span(t, 1, None, True, **v2) for t in range(20, 23)]  # failed before predicting
        spans += [_span(30, 1, None, True, **v2), _span(30, 2, 1, True, **v2, **{"ml.prediction.id": "p-30"})]
        spans += [_span(40, 1, None, True, **{"ml.model.name": "churn"})]  # version unknown: plain error
        spans += [{**_span(50, 1, None, True, **v2), "kind": 1, "name": "fit churn v2"}]  # not a call: plain error
        body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name",
                                                                "value": {"stringValue": "churn-classifier"}}]},
                                   "scopeSpans": [{"spans": spans}]}]}
        assert httpx.post(f"{server.http_url}/v1/traces", json=body).status_code == 200

        def figures() -> tuple[int, int]:
            answer = server.query("/api/v1/models/churn/metrics", lookback="1h", step=3600)
            if answer.status_code != 200:
                return (0, 0)
            points = [p for p in answer.json()["points"] if p["version"] == "v2"]
            return sum(p["count"] for p in points), sum(p["errors"] for p in points)

        # 16 predictions + 3 failed server calls + 1 failed prediction (its server span not counted again)
        assert server.wait_for(lambda: figures() == (20, 4), timeout=20), figures()
    finally:
        server.stop()

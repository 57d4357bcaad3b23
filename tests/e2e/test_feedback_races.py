"""Feedback is never lost: labels that arrive before their predictions, together with
them, across a restart, or dated in the future, all behave as documented (latest
timestamp wins; waiting labels are visible and expire)."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import pytest
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow
HOUR = 3600 * 10**9


def _spans(model: str, ids: range, start_ns: int) -> dict[str, Any]:
    spans = [{
        "traceId": f"{i + 1:032x}", "spanId": f"{i + 1:016x}", "name": "predict",
        "startTimeUnixNano": str(start_ns + i * 10**6), "endTimeUnixNano": str(start_ns + i * 10**6 + 1000),
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in (
            ("ml.model.name", model), ("ml.model.version", "v1"), ("ml.prediction.id", f"{model}-{i}"),
            ("ml.prediction.label", "yes"))],
    } for i in ids]
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": f"{model}-api"}}]},
                               "scopeSpans": [{"spans": spans}]}]}


def _predict(server: SpanwiseProcess, model: str, ids: range) -> None:
    answer = httpx.post(f"{server.http_url}/v1/traces", json=_spans(model, ids, time.time_ns() - HOUR // 2), timeout=30)
    assert answer.status_code == 200, answer.text


def _label(server: SpanwiseProcess, records: list[dict[str, Any]]) -> dict[str, Any]:
    answer = httpx.post(f"{server.query_url}/api/v1/feedback", json=records, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _labelled(server: SpanwiseProcess, model: str) -> int:
    windows = server.query(f"/api/v1/models/{model}/quality", lookback="2h").json().get("windows", [])
    return sum(w["labelled"] for w in windows)


def _feedback_status(server: SpanwiseProcess) -> dict[str, Any]:
    return server.status()["feedback"]


@pytest.fixture()
def server(tmp_path: os.PathLike[str]) -> Any:
    config = os.path.join(tmp_path, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write("models:\n  feedback_expiry_s: 3600\n")
    process = SpanwiseProcess(os.path.join(tmp_path, "data"), ["--config", config])
    process.start()
    yield process
    process.stop()


def test_labels_before_with_and_after_their_predictions_are_all_joined(server: SpanwiseProcess) -> None:
    early = _label(server, [{"prediction_id": f"race-{i}", "label": "yes"} for i in range(0, 300)])
    assert early["accepted"] == 300 and early["pending"] == 300  # nothing to resend: they wait
    assert _feedback_status(server)["pending"] == 300
    assert _feedback_status(server)["oldest_pending_age_s"] >= 0
    for start in range(0, 1500, 300):  # a fast feedback loop: labels right after each export
        _predict(server, "race", range(start, start + 300))
        if start:
            _label(server, [{"prediction_id": f"race-{i}", "label": "no"} for i in range(start, start + 300)])
    assert server.wait_for(lambda: _labelled(server, "race") == 1500, timeout=30), _labelled(server, "race")
    assert server.wait_for(lambda: _feedback_status(server)["pending"] == 0, timeout=10), _feedback_status(server)
    assert _feedback_status(server)["resolved"] >= 300
    labels_by_span = _label(server, [{"trace_id": f"{1 + 1:032x}", "span_id": f"{1 + 1:016x}", "label": "no"}])
    assert labels_by_span["pending"] == 0 and labels_by_span["updated"] == 1  # race-1: yes -> no


def test_waiting_labels_survive_a_restart(tmp_path: os.PathLike[str]) -> None:
    data_dir = os.path.join(tmp_path, "data")
    first = SpanwiseProcess(data_dir)
    first.start()
    try:
        assert _label(first, [{"prediction_id": f"late-{i}", "label": "yes"} for i in range(50)])["pending"] == 50
    finally:
        assert first.stop() == 0
    second = SpanwiseProcess(data_dir)
    second.start()
    try:
        assert _feedback_status(second)["pending"] == 50
        _predict(second, "late", range(50))
        assert second.wait_for(lambda: _labelled(second, "late") == 50, timeout=30)
        assert second.wait_for(lambda: _feedback_status(second)["pending"] == 0, timeout=10)
    finally:
        assert second.stop() == 0


def test_a_label_from_the_future_does_not_win_forever(server: SpanwiseProcess) -> None:
    _predict(server, "future", range(3))
    assert server.wait_for(lambda: server.query("/api/v1/predictions/future-0").status_code == 200)
    ahead = time.time() + 36 * 3600
    answer = _label(server, [{"prediction_id": "future-0", "label": "wrong", "timestamp": ahead}])
    assert answer["clamped"] == 1 and answer["updated"] == 0
    time.sleep(0.01)
    fixed = _label(server, [{"prediction_id": "future-0", "label": "right"}])
    assert fixed["updated"] == 1
    assert server.query("/api/v1/predictions/future-0").json()["label"] == "right"
    again = _label(server, [{"prediction_id": "future-0", "label": "right"}])
    assert again["updated"] == 0  # the same label again changes nothing
    stale = _label(server, [{"prediction_id": "future-0", "label": "wrong", "timestamp": 1_500_000_000}])
    assert stale["updated"] == 0 and server.query("/api/v1/predictions/future-0").json()["label"] == "right"


def test_labels_that_never_find_their_prediction_expire(tmp_path: os.PathLike[str]) -> None:
    config = os.path.join(tmp_path, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write("models:\n  feedback_expiry_s: 1\n")
    server = SpanwiseProcess(os.path.join(tmp_path, "data"), ["--config", config])
    server.start()
    try:
        assert _label(server, [{"prediction_id": f"ghost-{i}", "label": "yes"} for i in range(20)])["pending"] == 20
        assert server.wait_for(lambda: _feedback_status(server)["pending"] == 0, timeout=15), _feedback_status(server)
        assert _feedback_status(server)["expired"] == 20
    finally:
        assert server.stop() == 0

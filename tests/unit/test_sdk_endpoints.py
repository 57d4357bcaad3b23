"""The SDK on non-default ports: the protocol is chosen explicitly (never guessed from a
custom port), the query API URL is derived only where it can be, and feedback that cannot
be delivered is spooled to a file with a warning giving count, path and target."""

from __future__ import annotations

import json
import logging
import os
import socket

import pytest

from spanwise.sdk import Spanwise
from spanwise.sdk.config import resolve


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_protocol_is_argument_then_environment_then_http() -> None:
    custom = resolve(endpoint="http://127.0.0.1:34317", environ={})
    assert (custom.protocol, custom.api_url) == ("http/protobuf", "")
    assert "no OTLP protocol given for http://127.0.0.1:34317" in custom.protocol_note and "protocol='grpc'" in custom.protocol_note
    assert "api_url= or set SPANWISE_API_URL" in custom.api_url_note
    assert resolve(endpoint="http://127.0.0.1:34317", protocol="grpc", environ={}).protocol == "grpc"
    assert resolve(endpoint="http://h:34317", environ={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}).protocol == "grpc"
    traces_env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}
    assert resolve(endpoint="http://h:4317", environ=traces_env).protocol == "http/protobuf"
    assert resolve(endpoint="http://h:4317", protocol="http/protobuf", environ={}).protocol == "http/protobuf"
    standard = resolve(endpoint="http://h:4317", environ={})
    assert (standard.protocol, standard.protocol_note, standard.api_url) == ("grpc", "", "http://h:16686")
    assert resolve(endpoint="http://h:34318", protocol="http/protobuf", environ={}).protocol_note == ""
    assert resolve(endpoint="http://h:34318", api_url="http://h:36686/", environ={}).api_url == "http://h:36686"
    assert resolve(endpoint="http://h:34318", environ={"SPANWISE_API_URL": "http://h:36686"}).api_url_note == ""
    with pytest.raises(ValueError, match="http/json"):
        resolve(endpoint="http://h:4318", environ={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})


def test_unreachable_feedback_is_spooled_with_count_path_and_target(
        tmp_path: os.PathLike[str], caplog: pytest.LogCaptureFixture) -> None:
    """The user's steps with the platform down: 20 labels, shutdown. None is lost silently."""
    port = closed_port()
    sw = Spanwise("down", f"http://127.0.0.1:{port}", protocol="http/protobuf", api_url=f"http://127.0.0.1:{port}",
                  export_timeout_s=0.5, logs=False, metrics=False)
    sw.feedback_sender.spool_dir = str(tmp_path)
    ids = [sw.record_prediction("m", "v1", features={"a": i}, value=0.5) for i in range(20)]
    for pid in ids:
        sw.feedback(pid, 1, timestamp=1_700_000_000.0 if pid == ids[0] else None)
    with caplog.at_level(logging.WARNING, logger="spanwise.sdk.feedback"):
        sw.shutdown(timeout_s=1.0)
    path = sw.feedback_sender.spool_path
    assert os.path.dirname(path) == str(tmp_path)
    with open(path, encoding="utf-8") as handle:
        spooled = json.load(handle)
    assert [r["prediction_id"] for r in spooled] == ids and {r["label"] for r in spooled} == {"1"}
    assert spooled[0]["timestamp"] == 1_700_000_000.0 and all(r["timestamp"] > 1_700_000_000.0 for r in spooled[1:])
    message = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert len(message) == 1 and f"20 labels for http://127.0.0.1:{port}/api/v1/feedback" in message[0]
    assert f"written to {path}" in message[0] and "cannot reach" in message[0]
    assert sw.feedback_sender.stats["spooled_at_shutdown"] == 20 and sw.feedback_sender.stats["dropped_at_shutdown"] == 0


def test_without_an_api_url_init_and_the_first_label_warn_and_nothing_is_posted(
        tmp_path: os.PathLike[str], caplog: pytest.LogCaptureFixture) -> None:
    port = closed_port()
    with caplog.at_level(logging.WARNING):
        sw = Spanwise("custom", f"http://127.0.0.1:{port}", export_timeout_s=0.5, logs=False, metrics=False)
        assert sw.config.api_url == "" and sw.feedback_sender.url == ""
        sw.feedback_sender.spool_dir = str(tmp_path)
        init_messages = [r.getMessage() for r in caplog.records]
        sw.feedback("a" * 32, "spam")
        sw.feedback("b" * 32, "ham")
        feedback_messages = [r.getMessage() for r in caplog.records if r.name == "spanwise.sdk.feedback"]
        sw.shutdown(timeout_s=1.0)
    assert any(f"no OTLP protocol given for http://127.0.0.1:{port}" in m for m in init_messages)
    assert any("cannot be derived from the OTLP endpoint" in m and "SPANWISE_API_URL" in m for m in init_messages)
    assert len(feedback_messages) == 1 and "not sending labels" in feedback_messages[0]
    assert sw.feedback_sender.stats["unavailable"] == 0  # nothing was posted to a guessed URL
    spooled = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert len(spooled) == 1 and "2 labels for (no query API URL)" in spooled[0]
    with open(sw.feedback_sender.spool_path, encoding="utf-8") as handle:
        assert [r["label"] for r in json.load(handle)] == ["spam", "ham"]

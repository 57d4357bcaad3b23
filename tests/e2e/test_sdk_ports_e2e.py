"""The README's `sdk.init(...)` against a real server on non-default ports, as a user's
script: gRPC chosen explicitly (argument or OTEL_EXPORTER_OTLP_PROTOCOL) delivers; without
`api_url` the script warns at init and at the first label and spools the labels at exit
to a file that the feedback API then accepts as is; with `api_url` every label lands."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import textwrap

import httpx
import pytest
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent("""
    import sys
    from spanwise import sdk
    sdk.init(service_name=sys.argv[1], endpoint=sys.argv[2], export_timeout_s=3.0, logs=False, metrics=False,
             **dict(arg.split("=", 1) for arg in sys.argv[3:]))
    ids = [sdk.record_prediction("ports-" + sys.argv[1], "v1", features={"a": i}, value=0.5) for i in range(20)]
    print("flushed", sdk.get().flush(timeout_s=10.0))
    for pid in ids:
        sdk.feedback(pid, 1)
    print(" ".join(ids))
""")


def _run(tmp_path: str, *args: str, env: dict[str, str] | None = None) -> tuple[list[str], str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPANWISE_"))}
    result = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=60,
                            env={**environ, "TMPDIR": tmp_path, **(env or {})})
    assert result.returncode == 0, result.stderr[-3000:]
    flushed, ids = result.stdout.splitlines()
    assert flushed == "flushed True", result.stderr[-3000:]
    return ids.split(), result.stderr


def _labelled(server: SpanwiseProcess, ids: list[str]) -> int:
    return sum(server.query(f"/api/v1/predictions/{pid}").json().get("label") == "1" for pid in ids)


def test_grpc_on_a_custom_port_by_argument_or_environment(server: SpanwiseProcess, tmp_path: str) -> None:
    grpc = f"http://127.0.0.1:{server.grpc_port}"
    ids, _ = _run(str(tmp_path), "grpc-arg", grpc, "protocol=grpc", f"api_url={server.query_url}")
    env_ids, _ = _run(str(tmp_path), "grpc-env", grpc, env={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                                             "SPANWISE_API_URL": server.query_url})
    assert server.wait_for(lambda: _labelled(server, ids + env_ids) == 40), server.log()
    assert glob.glob(os.path.join(tmp_path, "spanwise-feedback-*")) == []


def test_without_api_url_labels_are_spooled_loudly_and_resendable(server: SpanwiseProcess, tmp_path: str) -> None:
    ids, stderr = _run(str(tmp_path), "http-custom", server.http_url)
    assert "cannot be derived from the OTLP endpoint" in stderr and "SPANWISE_API_URL" in stderr
    assert "feedback: not sending labels" in stderr
    assert server.wait_for(lambda: server.query(f"/api/v1/predictions/{ids[-1]}").status_code == 200)
    assert _labelled(server, ids) == 0
    [spool] = glob.glob(os.path.join(tmp_path, "spanwise-feedback-*.json"))
    assert f"20 labels for (no query API URL) were not delivered" in stderr and f"written to {spool}" in stderr
    with open(spool, "rb") as handle:
        body = handle.read()
    assert [r["prediction_id"] for r in json.loads(body)] == ids
    answer = httpx.post(f"{server.query_url}/api/v1/feedback", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json()["accepted"] == 20, answer.text
    assert _labelled(server, ids) == 20


def test_a_custom_grpc_port_without_protocol_is_named_at_init(server: SpanwiseProcess, tmp_path: str) -> None:
    """OTLP/HTTP to a gRPC port cannot deliver; the user is told why and what to set."""
    grpc = f"http://127.0.0.1:{server.grpc_port}"
    script = SCRIPT.replace('print("flushed", sdk.get().flush(timeout_s=10.0))', 'print("flushed True")')
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPANWISE_"))}
    result = subprocess.run([sys.executable, "-c", script, "grpc-guess", grpc, f"api_url={server.query_url}"],
                            capture_output=True, text=True, timeout=60, env={**environ, "TMPDIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"no OTLP protocol given for {grpc}: sending OTLP/HTTP" in result.stderr
    assert "OTEL_EXPORTER_OTLP_PROTOCOL=grpc" in result.stderr

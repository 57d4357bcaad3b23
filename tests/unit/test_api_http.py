"""The shared client of the query API (`spanwise.api_http`) against a real local HTTP server,
and how the notebook client and `spanwise baseline upload` word its failures."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from spanwise import api_http
from spanwise.client import SpanwiseClient, SpanwiseClientError

#: path -> (status, body) the test server answers.
ANSWERS = {
    "/ok": (200, b'{"accepted": 2}'),
    "/empty": (200, b""),
    "/text": (200, b"not json"),
    "/bad": (400, b'{"error": {"status": 400, "message": "limit: expected an integer"}}'),
    "/busy": (503, b"overloaded"),
}


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, body = ANSWERS[self.path.split("?")[0]]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_answers_and_json(url: str) -> None:
    assert api_http.call(f"{url}/ok", timeout=5) == (200, b'{"accepted": 2}')
    assert api_http.post_json(f"{url}/ok", [1], timeout=5) == {"accepted": 2}
    assert api_http.post(f"{url}/empty", b"x", "text/csv", timeout=5) is None
    with pytest.raises(api_http.ApiUnavailable, match="cannot reach"):
        api_http.post(f"{url}/text", b"x", "text/csv", timeout=5)


def test_error_answers_carry_status_message_and_body(url: str) -> None:
    with pytest.raises(api_http.ApiError) as rejected:
        api_http.call(f"{url}/bad", timeout=5)
    assert str(rejected.value) == "400: limit: expected an integer" and rejected.value.status == 400
    assert json.loads(rejected.value.body)["error"]["status"] == 400
    with pytest.raises(api_http.ApiUnavailable) as busy:
        api_http.call(f"{url}/busy", timeout=5)
    assert str(busy.value) == "503: overloaded" and busy.value.status == 503


def test_no_answer_is_unavailable_with_a_reason() -> None:
    target = f"http://127.0.0.1:{_closed_port()}/x"
    with pytest.raises(api_http.ApiUnavailable) as down:
        api_http.call(target, timeout=5)
    assert down.value.status is None and down.value.reason and str(down.value).startswith(f"cannot reach {target}: ")
    with pytest.raises(ValueError, match="unknown url type"):  # a caller's mistake, not an outage
        api_http.call("nonsense", timeout=5)


def test_notebook_client_words_failures_as_before(url: str) -> None:
    with pytest.raises(SpanwiseClientError) as rejected:
        SpanwiseClient(url)._get("/bad", {})
    assert (str(rejected.value), rejected.value.status) == ("400: limit: expected an integer", 400)
    base = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(SpanwiseClientError, match=f"^cannot reach {base}: ") as down:
        SpanwiseClient(base).predictions_parquet("m")
    assert down.value.status is None


def test_baseline_upload_prints_the_answer_as_sent(url: str, tmp_path: Path) -> None:
    """A refused upload prints the server's answer (status, then its body) and exits 1."""
    ANSWERS["/api/v1/models/m/baselines"] = ANSWERS["/bad"]
    training = tmp_path / "train.csv"
    training.write_text("a,label\n1,x\n")
    result = subprocess.run([sys.executable, "-m", "spanwise.cli", "baseline", "upload", str(training), "--model", "m",
                             "--url", url], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("spanwise: error: 400: {") and "limit: expected an integer" in result.stderr

"""Use a running Spanwise, or start one (`spanwise serve` as a subprocess) for the demo."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
from typing import Any

from spanwise import api_http


def healthy(api_url: str) -> bool:
    try:
        return api_http.call(f"{api_url}/api/v1/health", timeout=2)[0] == 200
    except api_http.ApiFailure:
        return False


def start_server(api_url: str, endpoint: str, data_dir: str, timeout_s: float = 60.0) -> subprocess.Popen[bytes]:
    """`spanwise serve` on the ports of `api_url` and `endpoint` (OTLP/HTTP), waited for."""
    query_port = urllib.parse.urlsplit(api_url).port or 16686
    http_port = urllib.parse.urlsplit(endpoint).port or 4318
    command = [sys.executable, "-m", "spanwise.cli", "serve", "--data-dir", data_dir,
               "--query-port", str(query_port), "--http-port", str(http_port), "--log-level", "warning"]
    process = subprocess.Popen(command)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"spanwise serve exited with status {process.returncode}")
        if healthy(api_url):
            return process
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"spanwise serve did not answer at {api_url} within {timeout_s:.0f} s")


def get_json(api_url: str, path: str, **params: Any) -> Any:
    """GET an API path; None when it answers an error (the summary reports what it can)."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    try:
        return json.loads(api_http.call(f"{api_url}{path}?{query}", timeout=60)[1])
    except (api_http.ApiFailure, ValueError):
        return None

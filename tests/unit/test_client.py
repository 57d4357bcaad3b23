"""`spanwise.client` stays light: importable without the server's dependencies or pandas."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

from spanwise.client import to_unix_ns

_PROBE = """
import sys
sys.modules["pandas"] = None  # as if pandas were not installed
from spanwise.client import SpanwiseClient
heavy = {"chdb", "starlette", "uvicorn", "grpc", "scipy", "orjson", "spanwise.store", "spanwise.serve"} & set(sys.modules)
assert not heavy, heavy
try:
    SpanwiseClient("http://127.0.0.1:9").predictions("m")
except ImportError as exc:
    assert "needs pandas" in str(exc), exc
    print("ok")
"""


def test_client_imports_without_server_dependencies_or_pandas() -> None:
    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


def test_times() -> None:
    assert to_unix_ns(5) == 5 and to_unix_ns("1700000000000000000") == 1_700_000_000 * 10**9
    assert to_unix_ns("2023-11-14T22:13:20Z") == 1_700_000_000 * 10**9
    assert to_unix_ns(datetime(2023, 11, 14, 22, 13, 20, 1, tzinfo=timezone.utc)) == 1_700_000_000 * 10**9 + 1000

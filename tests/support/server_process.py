"""Start, stop and kill a real `spanwise serve` process for end-to-end tests."""

from __future__ import annotations

import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import time
from typing import Any, Callable

import httpx


def free_port() -> int:
    """A free port below the kernel's ephemeral range (32768+): an outgoing connection made
    between this check and the server's bind cannot take it (seen in CI with OS-chosen ports)."""
    for _ in range(200):
        port = random.randint(20_000, 32_000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


DEFAULT_GRPC_PORT = 4317  # the seed example's fixed port: never re-picked


class SpanwiseProcess:
    """A server subprocess; `query(path)` talks to its query API."""

    def __init__(self, data_dir: str, extra_args: list[str] | None = None, host: str | None = "127.0.0.1",
                 auth: bool = False, tls_ca: str | None = None) -> None:
        """`host=None` passes no --host (the default, loopback); `auth=True` starts with
        --auth and reads the admin token the first start writes into `admin_token`, which
        `query()` then sends; `tls_ca` (a CA file) means the server speaks TLS (configured in
        `extra_args`) and the URLs are https, verified against that CA."""
        self.data_dir = data_dir
        self.extra_args = extra_args or []
        self.host = host
        self.auth = auth
        self.admin_token: str | None = None
        self.scheme = "https" if tls_ca else "http"
        self.verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=tls_ca) if tls_ca else True
        self.grpc_port, self.http_port, self.query_port = free_port(), free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(os.path.dirname(os.path.abspath(data_dir)), f"server-{self.query_port}.log")

    @property
    def grpc_endpoint(self) -> str:
        return f"localhost:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.http_port}"

    @property
    def query_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.query_port}"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "spanwise.cli", "serve",
            "--data-dir", self.data_dir,
            *(["--host", self.host] if self.host else []),
            *(["--auth"] if self.auth else []),
            "--grpc-port", str(self.grpc_port),
            "--http-port", str(self.http_port),
            "--query-port", str(self.query_port),
            "--log-level", "info",
            *self.extra_args,
        ]

    def start(self, timeout: float = 60.0) -> None:
        """Start and wait until healthy; if a chosen port was taken meanwhile, pick new ones."""
        for _ in range(3):
            try:
                return self._start_once(timeout)
            except RuntimeError as exc:
                if "Address already in use" not in str(exc) or DEFAULT_GRPC_PORT in (self.grpc_port,):
                    raise
                self.grpc_port, self.http_port, self.query_port = free_port(), free_port(), free_port()
        self._start_once(timeout)

    def _start_once(self, timeout: float) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.query_url}/api/v1/health", timeout=1, verify=self.verify).status_code == 200:
                    if self.auth:
                        with open(os.path.join(self.data_dir, "admin-token"), encoding="utf-8") as handle:
                            self.admin_token = handle.read().strip()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not become healthy: {self.log()}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-4000:]

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        """`Authorization: Bearer` with `token` (default: the admin token, if any)."""
        token = token or self.admin_token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def query(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.query_url}{path}", params=params, headers=self.auth_headers(), timeout=30,
                         verify=self.verify)

    def status(self) -> dict[str, Any]:
        return self.query("/api/v1/status").json()

    def wait_for(self, check: Callable[[], Any], timeout: float = 20.0) -> Any:
        """Poll until `check()` returns something truthy (data becomes queryable after the
        ingest log's flush interval)."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.1)

    def wait_for_spans(self, count: int, timeout: float = 30.0) -> int:
        return int(self.wait_for(lambda: self.status()["spans"] >= count and self.status()["spans"], timeout) or self.status()["spans"])

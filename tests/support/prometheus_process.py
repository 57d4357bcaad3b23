"""A real Prometheus server (Debian's `prometheus` package) scraping one target, for e2e tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import Any

import httpx
from server_process import free_port

MISSING = (
    "the prometheus binary is not installed: scripts/test.sh installs it "
    "(apt-get install prometheus); install it or run the suite through scripts/test.sh"
)


class PrometheusProcess:
    """Scrapes `target` (host:port) every second, with its own storage in `work_dir`."""

    def __init__(self, work_dir: str, target: str) -> None:
        self.work_dir = work_dir
        self.target = target
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(work_dir, "prometheus.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError(MISSING)
        config = os.path.join(self.work_dir, "prometheus.yml")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(
                "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
                "scrape_configs:\n"
                f"  - job_name: spanwise\n    static_configs: [{{targets: ['{self.target}']}}]\n"
            )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={os.path.join(self.work_dir, 'tsdb')}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.process.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"prometheus did not become ready: {self.log()}")

    def query(self, expression: str) -> list[dict[str, Any]]:
        """The instant vector of a PromQL expression: [{"metric": {...}, "value": [t, "v"]}]."""
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expression}, timeout=10).json()
        assert answer["status"] == "success", answer
        return list(answer["data"]["result"])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-4000:]

"""Real receivers for the alerting tests: an HTTP webhook receiver that checks the
HMAC signature, an SMTP server (aiosmtpd) and Debian's Prometheus Alertmanager."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from server_process import free_port

MISSING_ALERTMANAGER = (
    "the prometheus-alertmanager binary is not installed: scripts/test.sh installs it "
    "(apt-get install prometheus-alertmanager)"
)


class WebhookReceiver:
    """Records every POST (parsed JSON, whether its signature was valid); `fail` makes it
    answer 500 (a receiver that is down)."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.received: list[dict[str, Any]] = []
        self.fail = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                expected = "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                signature = self.headers.get("X-Spanwise-Signature", "")
                receiver.received.append({"body": json.loads(body), "signed": hmac.compare_digest(signature, expected),
                                          "path": self.path})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every alert in every received notification (optionally of one status)."""
        return [a for r in self.received for a in r["body"].get("alerts", []) if status in (None, a["status"])]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "data": envelope.content.decode("utf-8", "replace")})
        return "250 OK"


class SmtpReceiver:
    """A real SMTP server on a free port; `messages` holds what it accepted."""

    def __init__(self) -> None:
        self.inbox = _Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.inbox.messages

    def close(self) -> None:
        self.controller.stop()


class AlertmanagerProcess:
    """Debian's Alertmanager with a minimal config (one receiver that discards), its API on a free port."""

    def __init__(self, work_dir: str) -> None:
        self.work_dir, self.port = work_dir, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            raise RuntimeError(MISSING_ALERTMANAGER)
        config = os.path.join(self.work_dir, "alertmanager.yml")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write("route: {receiver: discard, group_wait: 1s, group_interval: 1s}\nreceivers: [{name: discard}]\n")
        with open(os.path.join(self.work_dir, "alertmanager.log"), "ab") as log:
            self.process = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.path={os.path.join(self.work_dir, 'am-data')}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("alertmanager did not become ready")

    def alerts(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/api/v2/alerts", timeout=5).json()  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

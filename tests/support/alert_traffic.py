"""Steady real OTLP/HTTP traffic for the alerting tests; change `services` to make incidents."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from metric_spans import export_request


class Traffic:
    """Every `period_s`, per entry of `services` ({name: {"n", "errors", "ms", "attrs", "service", "kind"}}),
    sends `n` spans ending now, `errors` of them with status Error, each lasting `ms`, with
    span attributes `attrs` and OTLP span kind `kind` (default 2, server), from service
    `service` (default: the name), with `headers` (a token, when auth is on). Bounded: it
    stops by itself after `max_s` seconds."""

    def __init__(self, http_url: str, services: dict[str, dict[str, Any]], period_s: float = 0.2,
                 max_s: float = 120.0, headers: dict[str, str] | None = None) -> None:
        self.url, self.services, self.period_s, self.max_s = http_url + "/v1/traces", services, period_s, max_s
        self.headers = {"Content-Type": "application/x-protobuf", **(headers or {})}
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Traffic":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_s
        with httpx.Client(timeout=5) as client:
            while not self._stop.wait(self.period_s) and time.monotonic() < deadline:
                for name, spec in list(self.services.items()):
                    service = spec.get("service", name)
                    now = time.time_ns()
                    spans = [{"ms": spec.get("ms", 10), "name": spec.get("name", "GET /"),
                              "status": 2 if i < spec.get("errors", 0) else 0,
                              "start": now - int(spec.get("ms", 10) * 1e6), "attrs": spec.get("attrs", {}),
                              "kind": spec.get("kind", 2)}
                             for i in range(spec.get("n", 5))]
                    try:
                        client.post(self.url, content=export_request(service, spans), headers=self.headers)
                        self.sent += len(spans)
                    except httpx.HTTPError:
                        pass  # the server is restarting: the next period tries again


def send_logs(http_url: str, service: str, bodies: list[str], severity: int = 17) -> None:
    """One OTLP/HTTP logs request: a record per body, all at `severity` (17: ERROR), now."""
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    kv = rl.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", service
    scope = rl.scope_logs.add()
    for body in bodies:
        record = scope.log_records.add()
        record.time_unix_nano = record.observed_time_unix_nano = time.time_ns()
        record.severity_number, record.severity_text = severity, "ERROR" if severity >= 17 else "INFO"
        record.body.string_value = body
    httpx.post(f"{http_url}/v1/logs", content=request.SerializeToString(),
               headers={"Content-Type": "application/x-protobuf"}, timeout=5).raise_for_status()

"""Custom metrics and grouped span metrics as alert sources, through a real server.

A worker's own code records a gauge, a counter and a histogram on the Spanwise SDK's
meter (the real OpenTelemetry SDK, exported over OTLP/HTTP every 0.25 s): each rule fires
for exactly the label set that went wrong, tells the webhook, and resolves once the
metric is back. Span-metric rules grouped by span kind and by a configured dimension fire
for the one group that is bad. The rules API refuses a group the span metrics do not
have, naming the field, and a rule whose aggregation does not fit its metric shows why.
"""

from __future__ import annotations

import threading
from typing import Any, Iterator

import httpx
import pytest
from alert_receivers import WebhookReceiver
from alert_traffic import Traffic
from opentelemetry.metrics import CallbackOptions, Observation
from server_process import SpanwiseProcess
from test_alerts_incidents import start_server, wait_until

from spanwise.sdk import Spanwise

CONFIG = """
ingest: {{flush_interval_ms: 100}}
metrics: {{dimensions: [deployment.environment]}}
alerts:
  tick_s: 0.5
  receivers: [{{name: hook, type: webhook, url: "{url}"}}]
  rules:
    - name: QueueDeep
      query: {{kind: otlp_metric, metric: worker.queue.depth, aggregation: last, group_by: [queue], window_s: 2}}
      condition: {{op: ">", threshold: 100}}
      interval_s: 0.5
    - name: JobsFailing
      query: {{kind: otlp_metric, metric: jobs.failed, aggregation: increase, group_by: [job], window_s: 2,
               service: worker}}
      condition: {{op: ">", threshold: 10}}
      interval_s: 0.5
    - name: SlowRoute
      query: {{kind: otlp_metric, metric: request.duration, aggregation: quantile, quantile: 0.9,
               group_by: [http.route], window_s: 2}}
      condition: {{op: ">", threshold: 500}}
      interval_s: 0.5
    - name: ClientErrors
      query: {{kind: span_metric, metric: error_rate, group_by: [service, span_kind], window_s: 60}}
      condition: {{op: ">", threshold: 0.3, min_samples: 10}}
      interval_s: 0.5
    - name: CanarySlow
      query: {{kind: span_metric, metric: p95_ms, service: checkout, group_by: [deployment.environment], window_s: 60}}
      condition: {{op: ">", threshold: 300, min_samples: 5}}
      interval_s: 0.5
"""
OTLP_RULES = {"QueueDeep", "JobsFailing", "SlowRoute"}


class Worker:
    """A user's service: a queue-depth gauge per queue, a failed-jobs counter per job and a
    request-duration histogram per route, recorded every 0.1 s on the SDK's meter."""

    def __init__(self, server: SpanwiseProcess) -> None:
        self.sdk = Spanwise("worker", server.http_url, protocol="http/protobuf", api_url=server.query_url,
                            metric_interval_s=0.25, logs=False)
        meter = self.sdk.meter_provider.get_meter("worker")
        self.depth = {"emails": 5.0, "reports": 5.0}
        self.failures = {"sync": 0, "import": 0}  # added per 0.1 s
        self.duration_ms = {"/": 20.0, "/search": 20.0}
        meter.create_observable_gauge("worker.queue.depth", callbacks=[self._observe])
        self._failed = meter.create_counter("jobs.failed")
        self._duration = meter.create_histogram("request.duration", unit="ms")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _observe(self, options: CallbackOptions) -> list[Observation]:
        return [Observation(value, {"queue": queue}) for queue, value in self.depth.items()]

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(0.1):
            tick += 1
            self._failed.add(1 if tick % 10 == 0 else 0, {"job": "sync"})  # one a second: steady
            for job, count in list(self.failures.items()):
                self._failed.add(count, {"job": job})
            for route, ms in list(self.duration_ms.items()):
                self._duration.record(ms, {"http.route": route})

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sdk.shutdown(5)


@pytest.fixture(scope="module")
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, hook: WebhookReceiver) -> Iterator[SpanwiseProcess]:
    process = start_server(tmp_path_factory.mktemp("alerts"), CONFIG.format(url=hook.url))
    yield process
    process.stop()


def firing(server: SpanwiseProcess, rules: set[str]) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    # Every alert also carries its project (the default one here).
    return {(a["rule"], tuple(sorted((k, v) for k, v in a["labels"].items() if k not in ("alertname", "project"))))
            for a in server.query("/api/v1/alerts").json()["alerts"] if a["state"] == "firing" and a["rule"] in rules}


def test_custom_metrics_fire_per_label_set_and_resolve(server: SpanwiseProcess, hook: WebhookReceiver) -> None:
    worker = Worker(server)
    try:
        assert wait_until(lambda: server.query("/api/v1/otlp/metrics").json()["metrics"], 5)
        seen = server.status()["alerts"].get("evaluations", 0)
        assert wait_until(lambda: server.status()["alerts"].get("evaluations", 0) > seen + 15, 10)  # 3 cycles or more
        assert firing(server, OTLP_RULES) == set()  # steady: nothing fires

        worker.depth["reports"] = 500
        worker.failures["import"] = 3
        worker.duration_ms["/search"] = 900
        expected = {("QueueDeep", (("queue", "reports"),)),
                    ("JobsFailing", (("job", "import"), ("service", "worker"))),
                    ("SlowRoute", (("http_route", "/search"),))}
        assert wait_until(lambda: firing(server, OTLP_RULES) == expected, 8), firing(server, OTLP_RULES)

        worker.depth["reports"] = 5
        worker.failures["import"] = 0
        worker.duration_ms["/search"] = 20
        assert wait_until(lambda: firing(server, OTLP_RULES) == set(), 8), firing(server, OTLP_RULES)
        told = wait_until(lambda: len([a for a in hook.alerts() if a["labels"]["alertname"] in OTLP_RULES]) == 6, 5)
        assert told, hook.alerts()
        sent = sorted((a["labels"]["alertname"], a["status"]) for a in hook.alerts() if a["labels"]["alertname"] in OTLP_RULES)
        assert sent == sorted((rule, status) for rule in OTLP_RULES for status in ("firing", "resolved"))
        queue = next(a for a in hook.alerts() if a["labels"]["alertname"] == "QueueDeep")
        assert queue["annotations"]["summary"] == "worker.queue.depth of reports is 500"
    finally:
        worker.stop()


def test_span_metrics_grouped_by_kind_and_dimension(server: SpanwiseProcess) -> None:
    env = "deployment.environment"
    traffic = Traffic(server.http_url, {
        "in": {"service": "checkout", "n": 6, "ms": 20, "attrs": {env: "prod"}},
        "canary": {"service": "checkout", "n": 2, "ms": 900, "attrs": {env: "canary"}},
        "out": {"service": "checkout", "n": 4, "errors": 2, "ms": 5, "kind": 3, "attrs": {env: "prod"}},
    }).start()
    try:
        expected = {("ClientErrors", (("service", "checkout"), ("span_kind", "SPAN_KIND_CLIENT"))),
                    ("CanarySlow", (("deployment_environment", "canary"), ("service", "checkout")))}
        rules = {"ClientErrors", "CanarySlow"}
        assert wait_until(lambda: firing(server, rules) == expected, 10), firing(server, rules)
    finally:
        traffic.stop()


def test_rules_api_checks_groups_and_shows_a_misfit_aggregation(server: SpanwiseProcess) -> None:
    url = f"{server.query_url}/api/v1/alerts/rules"
    region = {"name": "ByRegion", "query": {"kind": "span_metric", "metric": "rate", "group_by": ["region"],
                                            "window_s": 60}}
    refused = httpx.post(url, json=region)
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith(
        "invalid rule: query: group_by: unknown dimension 'region'; span metrics group by service, operation, "
        "span_kind or a metrics.dimensions key (deployment.environment)")
    misfit = {"name": "DepthRate", "interval_s": 0.5,
              "query": {"kind": "otlp_metric", "metric": "worker.queue.depth", "aggregation": "rate", "window_s": 3600}}
    assert httpx.post(url, json=misfit).status_code == 200

    def error() -> Any:
        return next(r for r in httpx.get(url).json()["rules"] if r["name"] == "DepthRate")["error"]

    assert wait_until(error, 5) == ("worker.queue.depth is a gauge: aggregation rate reads a sum; "
                                    "a gauge takes last, avg, max, min")
    assert httpx.delete(f"{url}/DepthRate").status_code == 200

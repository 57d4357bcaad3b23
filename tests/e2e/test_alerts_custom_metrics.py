"""Custom metrics derived from spans (`metrics.counters`, `metrics.histograms`) as an alert
source.

An LLM service's spans carry the model and the tokens of each answer; the server derives a
request counter and a tokens histogram per model from them. Through a real server: a rule
on the histogram's mean fires for exactly the model whose answers grew long and tells the
webhook, a rule on the counter's increase fires for the busy model, the rule's evaluated
series shows one line per model, and the rules API refuses a metric, an aggregation or a
label the custom metrics do not have, naming the choices. An engine does not resolve alerts
during its first window (the restart gap), and custom metrics are read per minute, so the
resolution is shown by the real engine and store stepped by a test clock: once ordinary
answers bring the mean back, the alert resolves and the webhook hears it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from alert_receivers import WebhookReceiver
from metric_spans import export_request, write
from server_process import SpanwiseProcess
from test_alerts_incidents import start_server, wait_until
from test_alerts_otlp_metrics import firing

from spanwise.alerts.engine import AlertEngine
from spanwise.alerts.sources import Sources
from spanwise.core.alert_rules import AlertCondition, AlertQuery, AlertRule, AlertsConfig, ReceiverConfig
from spanwise.core.metrics import HISTOGRAM, CustomMetric, MetricsSpec, label_name
from spanwise.query.custom_metrics import CustomMetricQueries
from spanwise.store import open_store

MODEL, TOKENS = "gen_ai.request.model", "gen_ai.usage.total_tokens"
CONFIG = """
ingest: {{flush_interval_ms: 100}}
metrics:
  counters:
    - {{name: llm_requests, attribute: gen_ai.request.model, labels: [gen_ai.request.model]}}
  histograms:
    - {{name: tokens_per_request, attribute: gen_ai.usage.total_tokens, labels: [gen_ai.request.model],
       buckets: [100, 1000, 10000]}}
alerts:
  tick_s: 0.5
  receivers: [{{name: hook, type: webhook, url: "{url}"}}]
  rules:
    - name: LongAnswers
      query: {{kind: custom_metric, metric: tokens_per_request, aggregation: mean, group_by: [gen_ai.request.model],
               window_s: 60}}
      condition: {{op: ">", threshold: 1000}}
      interval_s: 0.5
      annotations: {{summary: "{{{{ $labels.gen_ai_request_model }}}} answers average {{{{ $value }}}} tokens"}}
    - name: ManyRequests
      query: {{kind: custom_metric, metric: llm_requests, aggregation: increase, group_by: [gen_ai_request_model],
               window_s: 60}}
      condition: {{op: ">", threshold: 30}}
      interval_s: 0.5
"""
RULES = {"LongAnswers", "ManyRequests"}
CUSTOM = (CustomMetric("tokens_per_request", HISTOGRAM, TOKENS, (MODEL,), (100.0, 1000.0, 10000.0)),)


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


def answer(server: SpanwiseProcess, model: str, tokens: int, n: int) -> None:
    """`n` chat spans of `model`, each answer `tokens` long, ending now."""
    start = time.time_ns() - 10**7
    spans = [{"ms": 5, "name": "chat", "start": start, "attrs": {MODEL: model, TOKENS: tokens}} for _ in range(n)]
    httpx.post(f"{server.http_url}/v1/traces", content=export_request("llm", spans),
               headers={"Content-Type": "application/x-protobuf"}, timeout=5).raise_for_status()


def lines(server: SpanwiseProcess, rule: str) -> dict[str, float | None]:
    """The rule's evaluated series: each model's latest value."""
    drawn = server.query(f"/api/v1/alerts/rules/{rule}/series", lookback="5m").json()
    return {s["labels"]["gen_ai_request_model"]: s["values"][-1] for s in drawn["series"]}


def test_custom_metric_rules_fire_per_model(server: SpanwiseProcess, hook: WebhookReceiver) -> None:
    answer(server, "gpt", 100, 20)
    answer(server, "claude", 100, 20)
    assert wait_until(lambda: lines(server, "LongAnswers") == {"claude": 100.0, "gpt": 100.0}, 5), \
        lines(server, "LongAnswers")
    assert firing(server, RULES) == set()

    answer(server, "claude", 5000, 20)  # mean (20 * 100 + 20 * 5000) / 40 = 2550; 40 requests
    claude = (("gen_ai_request_model", "claude"),)
    expected = {("LongAnswers", claude), ("ManyRequests", claude)}
    assert wait_until(lambda: firing(server, RULES) == expected, 5), firing(server, RULES)
    def told() -> list[dict[str, Any]]:
        return [a for a in hook.alerts() if a["labels"]["alertname"] in RULES]

    assert wait_until(lambda: len(told()) == 2, 5), hook.alerts()
    sent = sorted((a["labels"]["alertname"], a["labels"]["gen_ai_request_model"], a["status"]) for a in told())
    assert sent == [("LongAnswers", "claude", "firing"), ("ManyRequests", "claude", "firing")]
    long = next(a for a in hook.alerts() if a["labels"]["alertname"] == "LongAnswers")
    assert long["annotations"]["summary"] == "claude answers average 2550 tokens"

    answer(server, "claude", 100, 200)  # the mean back to (2000 + 100000 + 20000) / 240
    assert wait_until(lambda: lines(server, "LongAnswers") == {"claude": pytest.approx(122_000 / 240), "gpt": 100.0},
                      5), lines(server, "LongAnswers")


def test_custom_metric_alert_resolves_and_the_webhook_hears_it(tmp_path: Path, hook: WebhookReceiver) -> None:
    store = open_store(f"chdb://{tmp_path}", metrics=MetricsSpec(custom=CUSTOM))
    store.start()
    try:
        start = time.time() - 3600
        now = [start]
        rule = AlertRule("LongAnswersStepped", AlertQuery("custom_metric", "tokens_per_request", aggregation="mean",
                                                          group_by=[MODEL], window_s=60),
                         AlertCondition(op=">", threshold=1000), interval_s=1)
        config = AlertsConfig(rules=[rule], receivers=[ReceiverConfig("hook", "webhook", url=hook.url)])
        engine = AlertEngine(config, store, Sources(None, custom=CustomMetricQueries(store, CUSTOM)),
                             clock=lambda: now[0])

        def step(model: str, tokens: int, n: int) -> set[str]:
            now[0] += 1
            spans = [{"ms": 5, "name": "chat", "start": int(now[0] * 1e9), "attrs": {MODEL: model, TOKENS: tokens}}
                     for _ in range(n)]
            write(store, export_request("llm", spans))
            engine.tick()
            return {a["labels"][label_name(MODEL)] for a in engine.alerts() if a["state"] == "firing"}

        now[0] += 60  # past the first window, in which an engine resolves nothing
        assert step("gpt", 100, 20) == set() and step("claude", 100, 20) == set()
        assert step("claude", 5000, 20) == {"claude"}
        assert step("claude", 100, 200) == set()
        told = [(a["labels"][label_name(MODEL)], a["status"]) for a in hook.alerts()
                if a["labels"]["alertname"] == rule.name]
        assert told == [("claude", "firing"), ("claude", "resolved")]
    finally:
        store.shutdown()


@pytest.mark.parametrize("query, message", [
    ({"metric": "tokens", "aggregation": "mean"},
     "query: metric: unknown custom metric 'tokens'; metrics.counters and metrics.histograms define: "
     "llm_requests, tokens_per_request"),
    ({"metric": "llm_requests", "aggregation": "quantile"},
     "query: aggregation: llm_requests is a counter, which takes rate, increase, got 'quantile'"),
    ({"metric": "tokens_per_request", "aggregation": "mean", "group_by": ["tenant"]},
     "query: group_by: tokens_per_request has no label 'tenant'; its labels: gen_ai.request.model "
     "(gen_ai_request_model)"),
], ids=["unknown metric", "misfit aggregation", "unknown label"])
def test_rules_api_refuses_what_the_custom_metrics_lack(server: SpanwiseProcess, query: dict[str, object],
                                                        message: str) -> None:
    rule = {"name": "Refused", "query": {"kind": "custom_metric", "window_s": 60, **query}}
    refused = httpx.post(f"{server.query_url}/api/v1/alerts/rules", json=rule)
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == f"invalid rule: {message}"

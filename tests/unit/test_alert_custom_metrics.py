"""Custom metrics (`metrics.counters`, `metrics.histograms`) as an alert source: a rule
names a configured metric, an aggregation its kind has and labels it has, or the config
file and the rules API refuse it naming the field and the valid choices; evaluated over
hand-made series, it gives one value per label set, from one read per window however many
rules watch the metric."""

from __future__ import annotations

from pathlib import Path

import pytest

from spanwise.alerts.conditions import evaluate
from spanwise.alerts.rules import parse_rule
from spanwise.alerts.series import rule_series
from spanwise.alerts.sources import Sources
from spanwise.config import load_config
from spanwise.core.alert_rules import AlertCondition, AlertQuery, AlertRule
from spanwise.core.metrics import COUNTER, HISTOGRAM, CustomMetric
from spanwise.errors import ConfigError, InvalidQuery
from spanwise.query.custom_metrics import CustomMetricQueries
from spanwise.store.protocols import CustomMetricSeries, Histogram

MINUTE = 60 * 10**9
NOW = 1_800_000_000 * 10**9 + 30 * 10**9  # mid-minute
INF = float("inf")
MODEL = "gen_ai.request.model"

CONFIG = """
metrics:
  counters:
    - {name: llm_requests, attribute: gen_ai.request.model, labels: [gen_ai.request.model, tenant]}
  histograms:
    - {name: tokens_per_request, attribute: gen_ai.usage.total_tokens, labels: [gen_ai.request.model],
       buckets: [100, 1000, 10000]}
alerts:
  rules:
    - name: ManyRequests
      query: {kind: custom_metric, metric: llm_requests, aggregation: rate, group_by: [gen_ai.request.model],
              attributes: {tenant: acme}, window_s: 300}
      condition: {op: ">", threshold: 10}
    - name: LongAnswers
      query: {kind: custom_metric, metric: tokens_per_request, aggregation: quantile, quantile: 0.99,
              group_by: [gen_ai_request_model], window_s: 600}
      condition: {op: ">", threshold: 4000}
"""
METRICS = (CustomMetric("llm_requests", COUNTER, MODEL, (MODEL, "tenant")),
           CustomMetric("tokens_per_request", HISTOGRAM, "gen_ai.usage.total_tokens", (MODEL,), (100, 1000, 10000)))


def load(tmp_path: Path, text: str) -> list[AlertRule]:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_config(str(path), environ={}).alerts.rules


def test_custom_metric_rules_load(tmp_path: Path) -> None:
    requests, answers = load(tmp_path, CONFIG)
    assert (requests.query.kind, requests.query.aggregation, requests.query.attributes) == (
        "custom_metric", "rate", {"tenant": "acme"})
    assert answers.query.group_by == ["gen_ai_request_model"] and answers.query.quantile == 0.99


@pytest.mark.parametrize("change, message", [
    (("metric: llm_requests,", "metric: llm_request,"),
     "alerts.rules[0].query: metric: unknown custom metric 'llm_request'; metrics.counters and metrics.histograms "
     "define: llm_requests, tokens_per_request"),
    (("aggregation: rate", "aggregation: mean"),
     "alerts.rules[0].query: aggregation: llm_requests is a counter, which takes rate, increase, got 'mean'"),
    (("aggregation: quantile", "aggregation: increase"),
     "alerts.rules[1].query: aggregation: tokens_per_request is a histogram, which takes quantile, mean, "
     "count_rate, got 'increase'"),
    (("aggregation: rate", "aggregation: last"),
     "alerts.rules[0].query: aggregation: one of rate, increase (counter), quantile, mean, count_rate (histogram), "
     "got 'last'"),
    (("group_by: [gen_ai_request_model]", "group_by: [tenant]"),
     "alerts.rules[1].query: group_by: tokens_per_request has no label 'tenant'; its labels: "
     "gen_ai.request.model (gen_ai_request_model)"),
    (("attributes: {tenant: acme}", "attributes: {region: eu}"),
     "alerts.rules[0].query: attributes: llm_requests has no label 'region'; its labels: "
     "gen_ai.request.model (gen_ai_request_model), tenant"),
    (("window_s: 300", "window_s: 90"),
     "alerts.rules[0].query: window_s: custom metrics are read per minute: a multiple of 60, got 90"),
    (("window_s: 300", "window_s: 300, service: chat"), "alerts.rules[0].query: service: custom metrics have no service"),
    (("quantile: 0.99", "quantile: 1.5"), "alerts.rules[1].query: quantile: between 0 and 1 (exclusive), got 1.5"),
    (("metrics:\n", "metrics:\n  enabled: false\n"),
     "alerts.rules[0].query: metric: custom metrics are computed with the span metrics, which are off"),
])
def test_config_errors_name_the_field_and_the_choices(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = CONFIG.replace(*change)
    assert text != CONFIG
    with pytest.raises(ConfigError) as error:
        load(tmp_path, text)
    assert message in str(error.value) and str(tmp_path / "c.yaml") + ":" in str(error.value), str(error.value)


def test_the_rules_api_checks_against_the_servers_custom_metrics() -> None:
    body = {"name": "Tokens", "query": {"kind": "custom_metric", "metric": "tokens_per_request", "aggregation": "mean",
                                        "group_by": [MODEL], "window_s": 60}}
    assert parse_rule(body, set(), (), METRICS).query.group_by == [MODEL]
    wrong = {**body, "query": {**body["query"], "aggregation": "rate"}}
    with pytest.raises(InvalidQuery, match="^invalid rule: query: aggregation: tokens_per_request is a histogram, "
                                           "which takes quantile, mean, count_rate, got 'rate'$"):
        parse_rule(wrong, set(), (), METRICS)
    with pytest.raises(InvalidQuery, match="query: metric: unknown custom metric 'tokens_per_request'; .* define: none"):
        parse_rule(body, set(), (), ())
    with pytest.raises(InvalidQuery, match="query: metric: custom metrics are computed with the span metrics, which are off"):
        parse_rule(body, set(), None, ())


class Reader:
    """custom_metrics answers with hand-made per-minute series of the minutes asked for."""

    def __init__(self, series: list[CustomMetricSeries]) -> None:
        self.series, self.reads = series, 0

    def custom_metrics(self, start_ns: int, end_ns: int, step_s: int, name: str | None = None) -> list[CustomMetricSeries]:
        self.reads += 1
        return [s for s in self.series if s.name == name and start_ns <= (s.start_ns or 0) <= end_ns]


def requests(minute: int, model: str, tenant: str, n: int) -> CustomMetricSeries:
    return CustomMetricSeries("llm_requests", ((MODEL, model), ("tenant", tenant)), Histogram(((INF, n),), n, float(n)),
                              NOW - NOW % MINUTE - minute * MINUTE)


def tokens(minute: int, model: str, buckets: tuple[tuple[float, int], ...], total: float) -> CustomMetricSeries:
    return CustomMetricSeries("tokens_per_request", ((MODEL, model),),
                              Histogram(buckets, sum(n for _, n in buckets), total), NOW - NOW % MINUTE - minute * MINUTE)


SERIES = [
    requests(0, "gpt", "acme", 600), requests(1, "gpt", "acme", 600), requests(0, "gpt", "other", 5000),
    requests(0, "claude", "acme", 60), requests(5, "claude", "acme", 9000),  # minute 5: before a 60 s window
    tokens(0, "gpt", ((100, 8), (1000, 1), (10000, 1)), 9000.0), tokens(1, "gpt", ((100, 10),), 500.0),
    tokens(0, "claude", ((1000, 4),), 2000.0),
]


def custom_rule(aggregation: str, metric: str = "llm_requests", condition: AlertCondition = AlertCondition(),
                group_by: tuple[str, ...] = (), attributes: dict[str, str] | None = None,
                quantile: float = 0.95) -> AlertRule:
    query = AlertQuery("custom_metric", metric, aggregation=aggregation, quantile=quantile,
                       attributes=attributes or {}, group_by=list(group_by), window_s=60)
    return AlertRule("r", query, condition)


def values(rule: AlertRule, sources: Sources) -> dict[tuple[tuple[str, str], ...], tuple[float, bool]]:
    return {r.labels: (round(r.value, 3), r.active) for r in evaluate(rule, sources, NOW, set())}


def sources(reader: Reader) -> Sources:
    return Sources(None, custom=CustomMetricQueries(reader, METRICS))


def test_counters_per_label_set_over_the_minutes_the_window_touches() -> None:
    reader = Reader(SERIES)
    by_model = custom_rule("increase", group_by=(MODEL,), attributes={"tenant": "acme"},
                           condition=AlertCondition(op=">", threshold=1000))
    assert values(by_model, sources(reader)) == {(("gen_ai_request_model", "claude"),): (60.0, False),
                                                 (("gen_ai_request_model", "gpt"),): (1200.0, True)}
    everything = custom_rule("rate")
    assert values(everything, sources(reader)) == {(): (round(6260 / 60, 3), True)}


def test_histograms_give_quantiles_means_and_observation_rates() -> None:
    source = sources(Reader(SERIES))
    gpt, claude = (("gen_ai_request_model", "gpt"),), (("gen_ai_request_model", "claude"),)
    p90 = custom_rule("quantile", "tokens_per_request", quantile=0.9, group_by=("gen_ai_request_model",))
    assert values(p90, source) == {claude: (900.0, True), gpt: (100.0, True)}  # 18 of 20 gpt answers at most 100
    mean = custom_rule("mean", "tokens_per_request", group_by=(MODEL,))
    assert values(mean, source) == {claude: (500.0, True), gpt: (475.0, True)}
    rate = custom_rule("count_rate", "tokens_per_request")
    assert values(rate, source) == {(): (round(24 / 60, 3), True)}


def test_rules_on_one_metric_share_one_read_per_window() -> None:
    reader = Reader(SERIES)
    source = sources(reader)
    for aggregation in ("quantile", "mean", "count_rate"):
        evaluate(custom_rule(aggregation, "tokens_per_request", group_by=(MODEL,)), source, NOW, set())
    assert reader.reads == 1
    source.new_cycle()
    evaluate(custom_rule("mean", "tokens_per_request"), source, NOW, set())
    assert reader.reads == 2


def test_a_misfit_read_is_refused_by_the_query_service() -> None:
    queries = CustomMetricQueries(Reader(SERIES), METRICS)
    with pytest.raises(InvalidQuery, match="llm_requests is a counter, which takes rate, increase"):
        queries.groups("llm_requests", "mean", NOW - MINUTE, NOW)
    with pytest.raises(InvalidQuery, match="'region' is not a label of custom metric llm_requests"):
        queries.groups("llm_requests", "rate", NOW - MINUTE, NOW, ("region",))
    with pytest.raises(InvalidQuery, match="no custom metric 'nope' is configured"):
        queries.groups("nope", "rate", NOW - MINUTE, NOW)


def test_the_evaluated_series_of_a_custom_metric_rule() -> None:
    rule = custom_rule("increase", group_by=(MODEL,), condition=AlertCondition(op=">", threshold=1000))
    drawn = rule_series(rule, sources(Reader(SERIES)), NOW - MINUTE, NOW)
    assert drawn["points"] == [NOW - MINUTE, NOW]
    assert drawn["series"] == [{"labels": {"gen_ai_request_model": "claude"}, "values": [None, 60.0]},
                               {"labels": {"gen_ai_request_model": "gpt"}, "values": [600.0, 6200.0]}]
    assert drawn["thresholds"] == [{"name": "threshold", "value": 1000, "op": ">"}]

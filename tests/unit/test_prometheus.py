"""Span metrics as Prometheus text: families from reader records, and the writer."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from spanwise.core.metrics import COUNTER, HISTOGRAM, CustomMetric, MetricsSpec
from spanwise.query.metrics import MetricFamily, SpanMetricsService, Sample
from spanwise.serve.prometheus import render
from spanwise.store.protocols import CustomMetricSeries, Histogram, MetricTotals, ModelMetrics, SpanMetrics

INF = float("inf")


class FixedReader:
    """A MetricsReader answering fixed totals (the store side has its own contract suite)."""

    def __init__(self, totals: MetricTotals) -> None:
        self.totals = totals
        self.asked: tuple[int | None, int | None] = (None, None)

    def metric_totals(self, max_series: int | None = None, seen_since_ns: int | None = None) -> MetricTotals:
        self.asked = (max_series, seen_since_ns)
        return self.totals

    def span_metrics(self, start_ns: int, end_ns: int, step_s: int, service: str | None = None) -> list[SpanMetrics]:
        return []

    def model_metrics(self, start_ns: int, end_ns: int, step_s: int, model: str | None = None) -> list[ModelMetrics]:
        return []

    def custom_metrics(self, start_ns: int, end_ns: int, step_s: int, name: str | None = None) -> list[CustomMetricSeries]:
        return []


def _parsed(families: list[MetricFamily]) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    parsed = {}
    for family in text_string_to_metric_families(render(families)):
        parsed[family.name] = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
    return parsed


def test_writer_escapes_labels_and_help_and_formats_numbers() -> None:
    family = MetricFamily("odd_total", "counter", 'help with \\ and\nnewline', (
        Sample("odd_total", (("service_name", 'a "quoted"\\path\nline'),), 3.0),
        Sample("odd_total", (), 0.25),
    ))
    text = render([family])
    assert '# HELP odd_total help with \\\\ and\\nnewline\n' in text
    assert 'odd_total{service_name="a \\"quoted\\"\\\\path\\nline"} 3\n' in text
    assert text.endswith("odd_total 0.25\n")
    [parsed] = text_string_to_metric_families(text)
    assert parsed.samples[0].labels == {"service_name": 'a "quoted"\\path\nline'}
    assert render([]) == ""


def test_span_series_are_labelled_like_the_spanmetrics_connector() -> None:
    totals = MetricTotals(
        spans=[
            SpanMetrics("svc", "GET /", "Server", "Error", (("deployment.environment", "prod"),),
                        Histogram(((2.0, 1), (50.0, 2), (INF, 1)), 4, 20070.0)),
            # No value for the dimension: no label, and the same series as one from
            # before the dimension was configured.
            SpanMetrics("svc", "GET /", "Client", "Unset", (("deployment.environment", ""),), Histogram(((4.0, 1),), 1, 3.0)),
            SpanMetrics("svc", "GET /", "Client", "Unset", (), Histogram(((4.0, 2),), 2, 7.0)),
        ],
        models=[ModelMetrics("fraud", "v1", Histogram(((10.0, 2),), 2, 15.0), Histogram())],
        custom=[],
    )
    parsed = _parsed(SpanMetricsService(FixedReader(totals), MetricsSpec()).families())
    server = (("deployment_environment", "prod"), ("service_name", "svc"), ("span_kind", "SPAN_KIND_SERVER"),
              ("span_name", "GET /"), ("status_code", "STATUS_CODE_ERROR"))
    client = (("service_name", "svc"), ("span_kind", "SPAN_KIND_CLIENT"), ("span_name", "GET /"),
              ("status_code", "STATUS_CODE_UNSET"))
    assert parsed["traces_span_metrics_calls"] == {
        ("traces_span_metrics_calls_total", server): 4, ("traces_span_metrics_calls_total", client): 3,
    }
    duration = parsed["traces_span_metrics_duration_milliseconds"]
    bucket = "traces_span_metrics_duration_milliseconds_bucket"
    assert [duration[(bucket, tuple(sorted(server + (("le", le),))))] for le in ("2", "4", "50", "15000", "+Inf")] == [1, 1, 3, 3, 4]
    assert duration[("traces_span_metrics_duration_milliseconds_sum", server)] == 20070
    assert duration[(bucket, tuple(sorted(client + (("le", "4"),))))] == 3
    model = (("model_name", "fraud"), ("model_version", "v1"))
    assert parsed["spanwise_model_predictions"] == {("spanwise_model_predictions_total", model): 2}
    assert parsed["spanwise_model_confidence"] == {}  # no prediction reported a confidence


def test_custom_metrics_use_the_configured_kind_and_buckets() -> None:
    spec = MetricsSpec(custom=(
        CustomMetric("revenue", COUNTER, "order.amount", sum_values=True),
        CustomMetric("order_amount", HISTOGRAM, "order.amount", labels=("shop.id",), buckets=(100.0, 10.0)),
    ))
    totals = MetricTotals([], [], [
        CustomMetricSeries("revenue", (), Histogram(((INF, 3),), 3, 120.5)),
        # 7 was stored under an earlier bound (5): it counts at the next bound up.
        CustomMetricSeries("order_amount", (("shop.id", "7"),), Histogram(((5.0, 1), (10.0, 1), (INF, 1)), 3, 520.0)),
        CustomMetricSeries("dropped_from_config", (), Histogram(((INF, 1),), 1, 1.0)),
    ])
    parsed = _parsed(SpanMetricsService(FixedReader(totals), spec).families())
    assert parsed["revenue"] == {("revenue_total", ()): 120.5}
    amount = parsed["order_amount"]
    shop = (("shop_id", "7"),)
    assert [amount[("order_amount_bucket", tuple(sorted(shop + (("le", le),))))] for le in ("10", "100", "+Inf")] == [2, 2, 3]
    assert "dropped_from_config" not in parsed


def test_overflow_series_carry_only_the_overflow_label_and_the_limits_reach_the_reader() -> None:
    overflow = Histogram(((INF, 7),), 7, 70.0)
    totals = MetricTotals(
        spans=[SpanMetrics("", "", "", "", (), overflow, overflow=True)],
        models=[ModelMetrics("", "", overflow, Histogram(), overflow=True)],
        custom=[CustomMetricSeries("orders", (), overflow, overflow=True)],
    )
    reader = FixedReader(totals)
    spec = MetricsSpec(custom=(CustomMetric("orders", COUNTER, "order.id", ("payment.method",)),), max_series=5)
    parsed = _parsed(SpanMetricsService(reader, spec).families())
    mark = (("otel_metric_overflow", "true"),)
    assert parsed["traces_span_metrics_calls"] == {("traces_span_metrics_calls_total", mark): 7}
    assert parsed["spanwise_model_predictions"] == {("spanwise_model_predictions_total", mark): 7}
    assert parsed["orders"] == {("orders_total", mark): 70}
    max_series, since = reader.asked
    assert max_series == 5 and since is not None and abs(since - (time.time_ns() - 3600 * 10**9)) < 60 * 10**9
    SpanMetricsService(reader, MetricsSpec(stale_after_s=0)).families()
    assert reader.asked[1] is None, "0 exposes every series ever seen"

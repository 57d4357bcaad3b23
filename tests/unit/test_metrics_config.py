"""The `metrics` config section: custom metrics and dimensions, validated at load."""

from __future__ import annotations

import os

import pytest

from spanwise.config import load_config
from spanwise.errors import ConfigError
from spanwise.core.metrics import COUNTER, HISTOGRAM, DEFAULT_BUCKETS, CustomMetric, label_name
from spanwise.store.clickhouse.metrics_schema import METRIC_VIEW_PREFIX, literal, view_statements


def _load(tmp_path: os.PathLike[str], text: str) -> object:
    path = os.path.join(tmp_path, "c.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return load_config(path, environ={})


def test_custom_metrics_become_a_spec(tmp_path: os.PathLike[str]) -> None:
    config = _load(tmp_path, """
metrics:
  dimensions: [deployment.environment]
  counters:
    - {name: orders, attribute: order.id, labels: [payment.method]}
    - {name: revenue_total, attribute: order.amount, value: sum}
  histograms:
    - {name: order_amount, attribute: order.amount}
""")
    spec = config.metrics.spec()  # type: ignore[attr-defined]
    assert spec.dimensions == ("deployment.environment",)
    orders, revenue, amount = spec.custom
    assert orders == CustomMetric("orders", COUNTER, "order.id", ("payment.method",))
    assert (orders.exposed_name, revenue.exposed_name, revenue.sum_values) == ("orders_total", "revenue_total", True)
    assert amount.kind == HISTOGRAM and amount.bounds == DEFAULT_BUCKETS


@pytest.mark.parametrize(
    "text, message",
    [
        ("metrics:\n  counters:\n    - {name: 'a-b', attribute: x}\n", "c.yaml:1: metrics: counters\\[0\\].name: 'a-b' is not a valid"),
        ("metrics:\n  counters:\n    - {name: a}\n", "counters\\[0\\].attribute: required"),
        ("metrics:\n  counters:\n    - {name: a, attribute: x, value: avg}\n", "counters\\[0\\].value: count or sum"),
        ("metrics:\n  counters:\n    - {name: a, attribute: x, buckets: [1]}\n", "only histograms have buckets"),
        ("metrics:\n  histograms:\n    - {name: a, attribute: x, labels: [le]}\n", "histograms\\[0\\].labels: 'le'"),
        ("metrics:\n  dimensions: [service.name]\n", "'service.name' becomes label 'service_name', which is reserved"),
        ("metrics:\n  counters:\n    - {name: a, attribute: x}\n    - {name: a_total, attribute: y}\n", "'a_total' is already taken"),
        ("metrics:\n  counters:\n    - {name: a, attribute: x, nope: 1}\n", "metrics.counters\\[0\\].nope: unknown key"),
        ("metrics:\n  max_series: 0\n", "max_series: must be at least 1"),
        ("metrics:\n  stale_after_s: -1\n", "stale_after_s: must not be negative"),
    ],
)
def test_invalid_metrics_config_is_reported(tmp_path: os.PathLike[str], text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text)


def test_label_names_and_sql_literals() -> None:
    assert label_name("deployment.environment") == "deployment_environment"
    assert label_name("9lives") == "key_9lives"
    assert literal("it's a \\ test") == "'it\\'s a \\\\ test'"


def test_metric_views_are_recreated_at_every_start() -> None:
    from spanwise.core.metrics import MetricsSpec

    existing = ["otel_traces", f"{METRIC_VIEW_PREFIX}spans", f"{METRIC_VIEW_PREFIX}custom_3"]
    statements = view_statements(MetricsSpec(custom=(CustomMetric("a", COUNTER, "x"),)), existing)
    assert statements[:2] == [f"DROP VIEW IF EXISTS `{METRIC_VIEW_PREFIX}spans`", f"DROP VIEW IF EXISTS `{METRIC_VIEW_PREFIX}custom_3`"]
    assert any(f"`{METRIC_VIEW_PREFIX}custom_0`" in s for s in statements)
    assert view_statements(MetricsSpec(enabled=False), existing) == statements[:2]


def test_series_limits_have_defaults_and_reach_the_spec(tmp_path: os.PathLike[str]) -> None:
    from spanwise.core.metrics import DEFAULT_MAX_SERIES, DEFAULT_STALE_AFTER_S

    default = _load(tmp_path, "metrics: {}\n").metrics.spec()  # type: ignore[attr-defined]
    assert (default.max_series, default.stale_after_s) == (DEFAULT_MAX_SERIES, DEFAULT_STALE_AFTER_S) == (1000, 3600.0)
    spec = _load(tmp_path, "metrics: {max_series: 50, stale_after_s: 0}\n").metrics.spec()  # type: ignore[attr-defined]
    assert (spec.max_series, spec.stale_after_s) == (50, 0)

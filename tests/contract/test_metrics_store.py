"""One suite for every MetricsReader backend (tests/contract/conftest.py), written
against `store.api` only.

Spans are written as the ingest path writes them; the metrics must count every one,
whatever `SampleWeight` (the sampling decision) says.
"""

from __future__ import annotations

from typing import Any

import pytest
from metric_spans import HOUR, NOW, export_request, write

from spanwise.core.metrics import COUNTER, HISTOGRAM, CustomMetric, MetricsSpec
from spanwise.store import open_store
from spanwise.store.protocols import Histogram, MetricsReader, TraceStore
from spanwise.core.metrics import COUNTER, HISTOGRAM, CustomMetric, MetricsSpec
from spanwise.store import Store
from spanwise.store.protocols import Histogram, MetricsReader

PROTOCOLS = (MetricsReader,)
INF = float("inf")
SPEC = MetricsSpec(
    dimensions=("deployment.environment",),
    custom=(
        CustomMetric("orders", COUNTER, "order.id", labels=("payment.method",)),
        CustomMetric("revenue", COUNTER, "order.amount", sum_values=True),
        CustomMetric("order_amount", HISTOGRAM, "order.amount", buckets=(10.0, 100.0)),
    ),
)


@pytest.fixture(scope="module")
def store_options() -> dict[str, Any]:
    return {"metrics": SPEC}


@pytest.fixture(scope="module")
def data(store: Store) -> None:
    frontend = [
        {"ms": 1}, {"ms": 2}, {"ms": 2.5}, {"ms": 50}, {"ms": 20_000},
        {"ms": 7, "status": 2},
        {"ms": 3, "kind": 3, "name": "call model"},
        {"ms": 5, "start": NOW - 2 * HOUR},
    ]
    orders = [
        {"ms": 1, "name": "order", "attrs": {"order.id": "a", "payment.method": "card", "order.amount": 5.0}},
        {"ms": 1, "name": "order", "attrs": {"order.id": "b", "payment.method": "card", "order.amount": 50.0}},
        {"ms": 1, "name": "order", "attrs": {"order.id": "c", "order.amount": "n/a"}},
    ]
    predictions = [
        {"ms": 4, "attrs": {"ml.model.name": "fraud", "ml.model.version": "v1", "ml.prediction.confidence": 0.05}},
        {"ms": 12, "attrs": {"ml.model.name": "fraud", "ml.model.version": "v1", "ml.prediction.confidence": 0.1}},
        {"ms": 900, "attrs": {"ml.model.name": "fraud", "ml.model.version": "v1", "ml.prediction.label": "ok"}},
        {"ms": 1, "attrs": {"ml.model.name": "fraud", "ml.model.version": "v2", "ml.prediction.confidence": 0.95}},
    ]
    write(store, export_request("m-frontend", frontend, **{"deployment.environment": "prod"}))
    write(store, export_request("m-shop", orders), weight=0.0)  # sampled out: still counted
    write(store, export_request("m-model", predictions))
    write(store, export_request("m-model", predictions[3:]))  # delivered twice: counts twice


def _spans(store: MetricsReader, **match: str) -> dict[tuple[str, str, str], Histogram]:
    found = {}
    for s in store.metric_totals().spans:
        if all(getattr(s, k) == v for k, v in match.items()):
            found[(s.span_name, s.span_kind, s.status_code)] = s.duration_ms
            assert s.start_ns is None
    return found


def test_span_totals_bucket_every_span_at_its_bound(store: Store, data: None) -> None:
    series = _spans(store, service="m-frontend")
    assert series[("op", "Server", "Unset")] == Histogram(((2.0, 2), (4.0, 1), (6.0, 1), (50.0, 1), (INF, 1)), 6, 20060.5)
    assert series[("op", "Server", "Error")] == Histogram(((8.0, 1),), 1, 7.0)
    assert series[("call model", "Client", "Unset")] == Histogram(((4.0, 1),), 1, 3.0)
    dims = {s.dimensions for s in store.metric_totals().spans if s.service == "m-frontend"}
    assert dims == {(("deployment.environment", "prod"),)}


def test_sampled_out_spans_count(store: Store, data: None) -> None:
    series = _spans(store, service="m-shop")
    assert series[("order", "Server", "Unset")].count == 3
    assert [s.dimensions for s in store.metric_totals().spans if s.service == "m-shop"] == [
        (("deployment.environment", ""),)
    ]


def test_model_totals(store: Store, data: None) -> None:
    models = {(m.model_name, m.model_version): m for m in store.metric_totals().models}
    assert set(models) == {("fraud", "v1"), ("fraud", "v2")}
    v1 = models[("fraud", "v1")]
    assert v1.latency_ms == Histogram(((4.0, 1), (50.0, 1), (1000.0, 1)), 3, 916.0)
    assert v1.confidence.buckets == ((0.1, 2),) and v1.confidence.count == 2
    assert v1.confidence.total == pytest.approx(0.15)
    v2 = models[("fraud", "v2")]  # delivered twice
    assert v2.latency_ms.count == 2 and v2.confidence.buckets == ((1.0, 2),)


def test_custom_metric_totals(store: Store, data: None) -> None:
    custom = {(c.name, c.labels): c.values for c in store.metric_totals().custom}
    assert custom[("orders", (("payment.method", "card"),))].total == 2
    assert custom[("orders", (("payment.method", ""),))].total == 1
    assert custom[("revenue", ())] == Histogram(((INF, 2),), 2, 55.0)  # "n/a" is not a number
    assert custom[("order_amount", ())] == Histogram(((10.0, 1), (100.0, 1)), 2, 55.0)


def test_series_per_step_oldest_first(store: Store, data: None) -> None:
    steps = store.span_metrics(NOW - 3 * HOUR, NOW + HOUR, 3600, service="m-frontend")
    assert [s.start_ns for s in steps] == sorted(s.start_ns or 0 for s in steps)
    by_start: dict[int | None, int] = {}
    for s in steps:
        by_start[s.start_ns] = by_start.get(s.start_ns, 0) + s.duration_ms.count
    assert by_start == {NOW - 2 * HOUR - 30 * 60 * 10**9: 1, NOW - 30 * 60 * 10**9: 7}
    assert store.span_metrics(NOW - HOUR, NOW + HOUR, 60, service="no-such-service") == []
    minutes = store.span_metrics(NOW - HOUR, NOW + HOUR, 60, service="m-frontend")
    assert sum(s.duration_ms.count for s in minutes) == 7 and {s.start_ns for s in minutes} == {NOW}


def test_model_and_custom_series(store: Store, data: None) -> None:
    models = store.model_metrics(NOW - HOUR, NOW + HOUR, 60, model="fraud")
    assert sum(m.latency_ms.count for m in models) == 5 and all(m.start_ns == NOW for m in models)
    assert store.model_metrics(NOW - HOUR, NOW + HOUR, 60, model="other") == []
    orders = store.custom_metrics(NOW - HOUR, NOW + HOUR, 60, name="orders")
    assert sum(c.values.total for c in orders) == 3 and {c.name for c in orders} == {"orders"}
    assert store.custom_metrics(NOW + HOUR, NOW + 2 * HOUR, 60) == []


def _total_calls(spans: list[Any]) -> int:
    return sum(s.duration_ms.count for s in spans)


def test_series_past_the_limit_add_up_in_one_overflow_series(store: Store, data: None) -> None:
    everything = store.metric_totals().spans
    limited = store.metric_totals(max_series=2).spans
    kept = [s for s in limited if not s.overflow]
    (overflow,) = [s for s in limited if s.overflow]
    assert len(everything) > 3 and len(kept) == 2
    assert _total_calls(limited) == _total_calls(everything)  # nothing lost
    busiest = sorted(everything, key=lambda s: -s.duration_ms.count)[:2]
    assert {s.duration_ms.count for s in kept} == {s.duration_ms.count for s in busiest}
    assert (overflow.service, overflow.span_name, overflow.dimensions) == ("", "", ())
    assert overflow.duration_ms.count == _total_calls(everything) - _total_calls(kept)


def test_model_versions_and_custom_series_are_limited_per_metric(store: Store, data: None) -> None:
    models = store.metric_totals(max_series=1).models
    assert [(m.model_name, m.model_version, m.overflow) for m in models] == [("fraud", "v1", False), ("", "", True)]
    assert models[1].latency_ms.count == 2 and models[1].confidence.buckets == ((1.0, 2),)  # v2's, together
    custom = store.metric_totals(max_series=1).custom
    orders = [(c.labels, c.overflow, c.values.total) for c in custom if c.name == "orders"]
    assert orders == [((("payment.method", "card"),), False, 2), ((), True, 1)]
    assert [c.overflow for c in custom if c.name == "revenue"] == [False]  # one series: nothing overflows


def test_series_not_seen_since_the_cut_off_are_left_out(store: Store, data: None) -> None:
    recent = _spans_of(store.metric_totals(seen_since_ns=NOW).spans, "m-frontend")
    assert recent[("op", "Server", "Unset")].count == 6  # still cumulative, the span 2 h ago included
    assert store.metric_totals(seen_since_ns=NOW + 60 * 10**9).spans == []


def _spans_of(spans: list[Any], service: str) -> dict[tuple[str, str, str], Histogram]:
    return {(s.span_name, s.span_kind, s.status_code): s.duration_ms for s in spans if s.service == service}

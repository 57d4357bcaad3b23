"""OTLP metrics over a window, as alert rules read them (`OtlpMetricService.aggregate`
over `OtlpMetricStore.metric_window`), for every backend: points written as the receiver
decodes them, with times, temporalities and resets chosen so every figure is known."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from spanwise.errors import InvalidQuery
from spanwise.query.otlp_metrics import OtlpMetricService
from spanwise.receive.metrics_decode import decode_metrics_requests
from spanwise.store import Store
from spanwise.store.protocols import OtlpMetricStore

PROTOCOLS = (OtlpMetricStore,)
S = 10**9
T0 = (time.time_ns() // S - 3600) * S
CUMULATIVE, DELTA = 2, 1
#: The window every test reads: points at T0 + 3, 4, 5, 6 minutes; the one at 2 minutes anchors.
START, END = T0 + 150 * S, T0 + 360 * S


def minute(i: int) -> int:
    return T0 + i * 60 * S


def export(service: str, points: list[dict[str, Any]], **resource: str) -> bytes:
    """One export request from `service`; each point: kind, name, attrs, t, start, value
    (histograms: count, sum, buckets, bounds), temporality, monotonic."""
    body = ExportMetricsServiceRequest()
    rm = body.resource_metrics.add()
    for key, value in {"service.name": service, **resource}.items():
        kv = rm.resource.attributes.add()
        kv.key, kv.value.string_value = key, value
    scope = rm.scope_metrics.add()
    for spec in points:
        metric = scope.metrics.add()
        metric.name = spec["name"]
        if spec["kind"] == "gauge":
            point = metric.gauge.data_points.add()
            point.as_double = spec["value"]
        elif spec["kind"] == "sum":
            metric.sum.aggregation_temporality = spec.get("temporality", CUMULATIVE)
            metric.sum.is_monotonic = spec.get("monotonic", True)
            point = metric.sum.data_points.add()
            point.as_double = spec["value"]
        else:
            metric.histogram.aggregation_temporality = spec.get("temporality", CUMULATIVE)
            point = metric.histogram.data_points.add()
            point.count, point.sum = spec["count"], spec["sum"]
            point.bucket_counts.extend(spec["buckets"])
            point.explicit_bounds.extend(spec["bounds"])
        point.start_time_unix_nano, point.time_unix_nano = spec.get("start", T0), spec["t"]
        for key, value in spec.get("attrs", {}).items():
            kv = point.attributes.add()
            kv.key, kv.value.string_value = key, value
    return body.SerializeToString()


def counter(name: str, values: list[float], start: int = T0, **spec: Any) -> list[dict[str, Any]]:
    """A sum's points at minutes 1, 2, 3...; `values` may be None to skip a minute."""
    return [{"kind": "sum", "name": name, "value": v, "t": minute(i + 1), "start": start, **spec}
            for i, v in enumerate(values) if v is not None]


@pytest.fixture(scope="module")
def queries(store: Store) -> Iterator[OtlpMetricService]:
    bodies = [
        # a cumulative counter: +10 a minute, reset after minute 4 (a restart keeping its start time)
        export("worker", counter("jobs", [0, 10, 20, 30, 5, 15], attrs={"job": "a"})),
        # a second series started inside the window: its first point counts in full
        export("worker", counter("jobs", [None, None, None, None, 7, 9], start=minute(4) + S, attrs={"job": "b"})),
        # another process of the same series: told apart by its resource
        export("worker", counter("jobs", [0, 100, 200, 300, 400, 500], attrs={"job": "a"}), **{"host.name": "h2"}),
        export("api", counter("sent", [3, 2, 4, 1, 6, 5], temporality=DELTA)),
        export("api", counter("queue.size", [5, 8, 2, 9, 4, 6], monotonic=False)),
        export("api", [{"kind": "gauge", "name": "depth", "value": float(i * k), "t": minute(i), "attrs": {"q": q}}
                        for i in range(1, 7) for k, q in ((1, "a"), (10, "b"))]),
        export("api", [{"kind": "histogram", "name": "latency", "t": minute(i), "count": 10 * i, "sum": 100.0 * i,
                         "buckets": [5 * i, 4 * i, i], "bounds": [10.0, 100.0], "attrs": {"route": "/"}}
                        for i in range(1, 7)]),
        export("api", [{"kind": "histogram", "name": "latency", "t": minute(i), "count": 2, "sum": 1000.0,
                         "buckets": [0, 0, 2], "bounds": [10.0, 100.0], "attrs": {"route": "/slow"},
                         "temporality": DELTA, "start": minute(i - 1)} for i in range(1, 7)]),
    ]
    store.write_metric_points(decode_metrics_requests(bodies).points)
    yield OtlpMetricService(store)


def values(found: list[Any]) -> dict[tuple[tuple[str, str], ...], tuple[float, int]]:
    return {g.attributes: (round(g.value, 6), g.count) for g in found}


def test_counter_increase_counts_resets_and_new_series(queries: OtlpMetricService) -> None:
    by_job = values(queries.aggregate("jobs", "increase", START, END, group_by=("job",)))
    # job a: 10 + 10 + 5 (reset) + 10 = 35 on the first host, 4 x 100 on the second; job b: 7 + 2
    assert by_job == {(("job", "a"),): (435.0, 8), (("job", "b"),): (9.0, 2)}
    assert values(queries.aggregate("jobs", "rate", START, END, group_by=("host.name",))) == {
        (("host.name", ""),): (round(44 / 210, 6), 6), (("host.name", "h2"),): (round(400 / 210, 6), 4)}
    assert values(queries.aggregate("jobs", "increase", START, END, where=(("job", "b"),))) == {(): (9.0, 2)}


def test_delta_and_non_monotonic_sums(queries: OtlpMetricService) -> None:
    assert values(queries.aggregate("sent", "increase", START, END)) == {(): (16.0, 4)}
    assert values(queries.aggregate("queue.size", "value", START, END, group_by=("service.name",))) == {
        (("service.name", "api"),): (6.0, 4)}
    with pytest.raises(InvalidQuery, match="queue.size is a non-monotonic sum .*value, not rate"):
        queries.aggregate("queue.size", "rate", START, END)


def test_gauge_aggregations_per_group(queries: OtlpMetricService) -> None:
    expected = {"last": (6, 60), "avg": (4.5, 45), "max": (6, 60), "min": (3, 30)}
    for aggregation, (a, b) in expected.items():
        found = values(queries.aggregate("depth", aggregation, START, END, group_by=("q",)))
        assert found == {(("q", "a"),): (a, 4), (("q", "b"),): (b, 4)}, aggregation
    assert values(queries.aggregate("depth", "max", START, END, where=(("q", "a"),))) == {(): (6.0, 4)}


def test_histogram_quantile_mean_and_count_rate(queries: OtlpMetricService) -> None:
    # route "/": from minute 2 to 6, +20 in (0, 10], +16 in (10, 100], +4 above; 40 observations summing 400
    p50 = values(queries.aggregate("latency", "quantile", START, END, group_by=("route",), quantile=0.5))
    assert p50[(("route", "/"),)] == (10.0, 40)  # the 20th of 40 ends the first bucket
    p90 = values(queries.aggregate("latency", "quantile", START, END, group_by=("route",), quantile=0.9))
    assert p90[(("route", "/"),)] == (100.0, 40) and p90[(("route", "/slow"),)] == (100.0, 8)  # +Inf: highest bound
    mean = values(queries.aggregate("latency", "mean", START, END, group_by=("route",)))
    assert mean == {(("route", "/"),): (10.0, 40), (("route", "/slow"),): (500.0, 8)}
    assert values(queries.aggregate("latency", "count_rate", START, END)) == {(): (round(48 / 210, 6), 48)}


def test_wrong_kind_is_an_error_and_unknown_metric_is_empty(queries: OtlpMetricService) -> None:
    with pytest.raises(InvalidQuery, match="depth is a gauge: aggregation rate reads a sum; a gauge takes last"):
        queries.aggregate("depth", "rate", START, END)
    assert queries.aggregate("no.such.metric", "last", START, END) == []
    assert queries.aggregate("depth", "last", START, END, where=(("q", "zzz"),)) == []

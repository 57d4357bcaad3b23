"""`OtlpMetricStore` on every backend (tests/contract/conftest.py), against `store.api`
only: gauge, sum and histogram points written per kind come back as per-step series of
one metric name (and service), split by and filtered on point attributes, within inclusive
time bounds, oldest step first; cumulative counters count their increase (a reset counts
from zero); the metrics seen in a window are listed with their unit, services and points."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from metric_spans import NOW

from spanwise.core.otlp_metrics import GAUGE, HISTOGRAM, POINT_SCHEMAS, SUM
from spanwise.store import Store
from spanwise.store.protocols import OtlpMetricStore

PROTOCOLS = (OtlpMetricStore,)
S = 10**9
T = NOW  # on a minute: steps of 60 s start at T, T + 60 s, ...
STEP0, STEP1 = T // S, T // S + 60
DELTA, CUMULATIVE = 1, 2
HOSTILE_NAME = "m.o'brien\\{name:String}"
HOSTILE_KEY, HOSTILE_VALUE = "k'ey\\", "v\\al' OR 1=1 --"


def _point(kind: str, name: str, at_s: float, service: str = "m-worker", start_s: float = 1,
           attributes: dict[str, str] | None = None, **values: Any) -> dict[str, Any]:
    """A point `at_s` seconds after T of a series that started `start_s` seconds after T."""
    row = {"ResourceAttributes": [("service.name", service)], "ServiceName": service, "ScopeName": "meter",
           "ScopeVersion": "", "MetricName": name, "MetricDescription": f"about {name}", "MetricUnit": "1",
           "Attributes": list((attributes or {}).items()), "StartTimeUnix": T + int(start_s * S),
           "TimeUnix": T + int(at_s * S), "Flags": 0}
    return row | values


def _gauge(name: str, at_s: float, value: float, **kwargs: Any) -> dict[str, Any]:
    return _point(GAUGE, name, at_s, Value=value, **kwargs)


def _sum(name: str, at_s: float, value: float, temporality: int = CUMULATIVE, **kwargs: Any) -> dict[str, Any]:
    return _point(SUM, name, at_s, Value=value, AggregationTemporality=temporality, IsMonotonic=True, **kwargs)


def _histogram(name: str, at_s: float, count: int, total: float, **kwargs: Any) -> dict[str, Any]:
    return _point(HISTOGRAM, name, at_s, Count=count, Sum=total, BucketCounts=[count, 0], ExplicitBounds=[1.0],
                  Min=None, Max=None, AggregationTemporality=CUMULATIVE, **kwargs)


POINTS = {
    GAUGE: [
        _gauge("m.queue_depth", 10, 1.0, attributes={"queue": "a"}),
        _gauge("m.queue_depth", 20, 3.0, attributes={"queue": "a"}),
        _gauge("m.queue_depth", 30, 10.0, attributes={"queue": "b"}),
        _gauge("m.queue_depth", 70, 5.0, attributes={"queue": "a"}),
        _gauge("m.queue_depth", -3600, 100.0, attributes={"queue": "a"}, start_s=-3600),  # before the window
        _gauge("m.queue_depth", 15, 1000.0, service="m-other", attributes={"queue": "a"}),
        _gauge(HOSTILE_NAME, 5, 7.0, attributes={HOSTILE_KEY: HOSTILE_VALUE}),
        _gauge(HOSTILE_NAME, 6, 9.0, attributes={HOSTILE_KEY: "plain"}),
    ],
    SUM: [
        # Cumulative, started inside the window: 5, +3 | +12, then a reset to 4 (counts from zero).
        _sum("m.requests", 10, 5.0), _sum("m.requests", 20, 8.0), _sum("m.requests", 70, 20.0),
        _sum("m.requests", 90, 4.0),
        # Cumulative, started an hour before: its first point only anchors the next.
        _sum("m.old_requests", 10, 1000.0, start_s=-3600), _sum("m.old_requests", 20, 1010.0, start_s=-3600),
        # Delta: every point is an increase.
        _sum("m.bytes", 10, 100.0, DELTA), _sum("m.bytes", 20, 50.0, DELTA), _sum("m.bytes", 70, 25.0, DELTA),
    ],
    HISTOGRAM: [
        _histogram("m.latency", 10, 2, 0.25, attributes={"route": "/a"}),
        _histogram("m.latency", 70, 5, 1.0, attributes={"route": "/a"}),
        _histogram("m.latency", 75, 1, 0.5, attributes={"route": "/b"}, start_s=72),
    ],
}


@pytest.fixture(scope="module", autouse=True)
def written(store: Store) -> None:
    store.write_metric_points({kind: pa.Table.from_pylist(rows, schema=POINT_SCHEMAS[kind])
                               for kind, rows in POINTS.items()})
    store.write_metric_points({GAUGE: POINT_SCHEMAS[GAUGE].empty_table()})  # nothing to write is not an error


def _series(store: Store, kind: str, name: str, service: str = "m-worker", lo_s: float = 0, hi_s: float = 119,
            columns: tuple[str, ...] = (), **kwargs: Any) -> list[tuple[Any, ...]]:
    """(step start in Unix seconds, *columns) per row, in the store's order."""
    rows = store.metric_series(kind, name, service, T + int(lo_s * S), T + int(hi_s * S), 60, **kwargs).to_pylist()
    return [(r["t"], *(r[c] for c in columns)) for r in rows]


def test_gauges_per_step_avg_min_max_last_of_one_service(store: Store) -> None:
    found = _series(store, GAUGE, "m.queue_depth", columns=("avg", "min", "max", "last", "points"))
    assert found == [(STEP0, pytest.approx(14 / 3), 1.0, 10.0, 10.0, 3), (STEP1, 5.0, 5.0, 5.0, 5.0, 1)]
    everyone = _series(store, GAUGE, "m.queue_depth", service="", columns=("max", "points"))
    assert everyone == [(STEP0, 1000.0, 4), (STEP1, 5.0, 1)], "service '' is every service"


def test_series_split_by_and_filtered_on_attributes(store: Store) -> None:
    split = _series(store, GAUGE, "m.queue_depth", columns=("g0", "avg", "last"), group_by=("queue",))
    assert split == [(STEP0, "a", 2.0, 3.0), (STEP0, "b", 10.0, 10.0), (STEP1, "a", 5.0, 5.0)]
    only_b = _series(store, GAUGE, "m.queue_depth", columns=("avg",), where=(("queue", "b"),))
    assert only_b == [(STEP0, 10.0)]
    both = _series(store, GAUGE, "m.queue_depth", columns=("g0", "g1"), group_by=("queue", "absent"),
                   where=(("queue", "a"),))
    assert both == [(STEP0, "a", ""), (STEP1, "a", "")], "a missing attribute groups as ''"
    assert _series(store, GAUGE, "m.queue_depth", where=(("queue", "c"),)) == []


def test_time_bounds_are_inclusive_and_unknown_names_are_empty(store: Store) -> None:
    assert _series(store, GAUGE, "m.queue_depth", lo_s=20, hi_s=70, columns=("points",)) == [(STEP0, 2), (STEP1, 1)]
    assert _series(store, GAUGE, "m.queue_depth", lo_s=21, hi_s=69, columns=("points",)) == [(STEP0, 1)]
    assert _series(store, GAUGE, "m.queue_depth", lo_s=-7200, hi_s=-1, columns=("last",)) == [
        ((T - 3600 * S) // S // 60 * 60, 100.0)]
    assert _series(store, GAUGE, "m.no_such_metric") == []
    assert _series(store, SUM, "m.queue_depth") == [], "a name is looked up within its kind"


def test_sums_count_their_increase(store: Store) -> None:
    assert _series(store, SUM, "m.requests", columns=("increase", "points")) == [(STEP0, 8.0, 2), (STEP1, 16.0, 2)]
    assert _series(store, SUM, "m.old_requests", columns=("increase",)) == [(STEP0, 10.0)]
    assert _series(store, SUM, "m.bytes", columns=("increase",)) == [(STEP0, 150.0), (STEP1, 25.0)]


def test_histograms_count_their_count_and_sum_increase(store: Store) -> None:
    assert _series(store, HISTOGRAM, "m.latency", columns=("count", "sum")) == [(STEP0, 2, 0.25), (STEP1, 4, 1.25)]
    by_route = _series(store, HISTOGRAM, "m.latency", columns=("g0", "count", "sum"), group_by=("route",))
    assert by_route == [(STEP0, "/a", 2, 0.25), (STEP1, "/a", 3, 0.75), (STEP1, "/b", 1, 0.5)]


def test_values_that_need_escaping_match_only_themselves(store: Store) -> None:
    split = _series(store, GAUGE, HOSTILE_NAME, columns=("g0", "last"), group_by=(HOSTILE_KEY,))
    assert split == [(STEP0, "plain", 9.0), (STEP0, HOSTILE_VALUE, 7.0)]
    where = ((HOSTILE_KEY, HOSTILE_VALUE),)
    assert _series(store, GAUGE, HOSTILE_NAME, columns=("last",), where=where) == [(STEP0, 7.0)]
    assert _series(store, GAUGE, "m.o'brien", columns=("last",)) == []


def test_metrics_seen_in_a_window_are_listed(store: Store) -> None:
    rows = store.list_metrics(T, T + 119 * S).to_pylist()
    assert [(r["name"], r["kind"]) for r in rows] == sorted((r["name"], r["kind"]) for r in rows), "one order"
    listed = {(r["name"], r["kind"]): r for r in rows}
    assert set(listed) == {("m.queue_depth", GAUGE), (HOSTILE_NAME, GAUGE), ("m.requests", SUM),
                           ("m.old_requests", SUM), ("m.bytes", SUM), ("m.latency", HISTOGRAM)}
    queue = listed[("m.queue_depth", GAUGE)]
    assert (queue["unit"], queue["description"], queue["services"], queue["points"]) == (
        "1", "about m.queue_depth", ["m-other", "m-worker"], 5)
    assert listed[("m.latency", HISTOGRAM)]["points"] == 3
    later = store.list_metrics(T + 71 * S, T + 119 * S).to_pylist()
    assert sorted((r["name"], r["kind"], r["points"]) for r in later) == [
        ("m.latency", HISTOGRAM, 1), ("m.requests", SUM, 1)]
    assert store.list_metrics(T + 120 * S, T + 3600 * S).num_rows == 0

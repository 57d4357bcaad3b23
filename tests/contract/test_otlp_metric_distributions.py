"""Exponential histograms and summaries on every backend (tests/contract/conftest.py),
through `OtlpMetricStore` and the `OtlpMetricService` that reads it: points written per
kind are listed with their kind, come back per step and per window as increases of count,
sum and buckets (exponential buckets merged at the lowest scale read, a cumulative reset
counting from zero; summaries' latest reported quantiles, the highest of a group's
series), and stay in the project they were written in, which erasure empties alone."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from metric_spans import NOW

from spanwise.core.exponential_histogram import relative_error
from spanwise.core.otlp_metrics import EXPONENTIAL_HISTOGRAM, GAUGE, POINT_SCHEMAS, SUMMARY
from spanwise.errors import InvalidQuery
from spanwise.query.otlp_metrics import OtlpMetricService
from spanwise.request_context import acting, for_project
from spanwise.store import Store
from spanwise.store.protocols import OtlpMetricStore

PROTOCOLS = (OtlpMetricStore,)
S = 10**9
T = NOW  # on a minute: steps of 60 s start at T, T + 60 s
STEP0, STEP1 = T // S, T // S + 60
DELTA, CUMULATIVE = 1, 2
#: Every read of the second minute: its window, and the anchor before it (15 minutes).
LO, HI = T + 60 * S, T + 119 * S


def _point(name: str, at_s: float, attributes: dict[str, str] | None = None, **values: Any) -> dict[str, Any]:
    return {"ResourceAttributes": [("service.name", "d-api")], "ServiceName": "d-api", "ScopeName": "meter",
            "ScopeVersion": "", "MetricName": name, "MetricDescription": "", "MetricUnit": "ms",
            "Attributes": list((attributes or {}).items()), "StartTimeUnix": T + S, "TimeUnix": T + int(at_s * S),
            "Flags": 0} | values


def _exponential(at_s: float, scale: int, zero: int, positive: tuple[int, list[int]], total: float,
                 negative: tuple[int, list[int]] = (0, []), temporality: int = CUMULATIVE,
                 **kwargs: Any) -> dict[str, Any]:
    count = zero + sum(positive[1]) + sum(negative[1])
    return _point("d.latency", at_s, Count=count, Sum=total, Scale=scale, ZeroCount=zero,
                  PositiveOffset=positive[0], PositiveBucketCounts=positive[1], NegativeOffset=negative[0],
                  NegativeBucketCounts=negative[1], Min=None, Max=None, AggregationTemporality=temporality, **kwargs)


def _summary(name: str, at_s: float, count: int, total: float, p50: float, p99: float, host: str) -> dict[str, Any]:
    return _point(name, at_s, {"host": host}, Count=count, Sum=total, **{
        "ValueAtQuantiles.Quantile": [0.5, 0.99], "ValueAtQuantiles.Value": [p50, p99]})


POINTS = {
    EXPONENTIAL_HISTOGRAM: [
        # cumulative, started at T + 1 s: scale 3, then downscaled to 2 (indexes 8, 9, 10 -> 4, 4, 5),
        # then a reset (the count went down): counted from zero
        _exponential(10, 3, 1, (8, [1, 2, 3]), 10.0),
        _exponential(70, 2, 2, (4, [5, 7]), 25.0),
        _exponential(80, 2, 0, (4, [2]), 3.0),
        # delta, another route: negative values in (-2^(1/4), -1]
        _exponential(75, 2, 0, (4, [1]), -1.0, negative=(0, [2]), temporality=DELTA, attributes={"route": "/b"}),
    ],
    SUMMARY: [
        _summary("d.rpc", 10, 10, 100.0, 1.0, 5.0, "a"), _summary("d.rpc", 70, 30, 250.0, 2.0, 9.0, "a"),
        _summary("d.rpc", 100, 40, 300.0, 3.0, 8.0, "a"),
        _summary("d.rpc", 20, 5, 50.0, 4.0, 6.0, "b"), _summary("d.rpc", 80, 8, 60.0, 1.0, 7.0, "b"),
        # Prometheus clients report NaN for a quantile without recent observations
        _summary("d.quiet", 70, 1, 2.0, float("nan"), float("nan"), "a"),
    ],
    GAUGE: [_point("d.depth", 70, Value=1.0)],
}


def _tables(points: dict[str, list[dict[str, Any]]]) -> dict[str, pa.Table]:
    return {kind: pa.Table.from_pylist(rows, schema=POINT_SCHEMAS[kind]) for kind, rows in points.items()}


@pytest.fixture(scope="module")
def queries(store: Store) -> OtlpMetricService:
    store.write_metric_points(_tables(POINTS))
    with acting(for_project("other")):  # the same names in another project, with a subject to erase
        store.write_metric_points(_tables({
            EXPONENTIAL_HISTOGRAM: [_exponential(70, 2, 0, (4, [100]), 1.0, attributes={"user.id": "u-7"})],
            SUMMARY: [_summary("d.rpc", 70, 100, 1.0, 50.0, 99.0, "c") | {"Attributes": [("user.id", "u-7")]}],
        }))
    return OtlpMetricService(store)


def _rows(table: pa.Table, *columns: str) -> list[tuple[Any, ...]]:
    return [tuple(row[c] for c in columns) for row in table.to_pylist()]


def test_both_kinds_are_listed_with_their_kind(store: Store, queries: OtlpMetricService) -> None:
    listed = {(r["name"], r["kind"]): r["points"] for r in store.list_metrics(T, HI).to_pylist()}
    assert listed == {("d.latency", EXPONENTIAL_HISTOGRAM): 4, ("d.rpc", SUMMARY): 5, ("d.quiet", SUMMARY): 1,
                      ("d.depth", GAUGE): 1}


def test_exponential_buckets_merge_at_the_lowest_scale_as_increases(store: Store, queries: OtlpMetricService) -> None:
    columns = ("t", "count", "sum", "zero_count", "scale", "positive_indexes", "positive_counts",
               "negative_indexes", "negative_counts", "points")
    found = _rows(store.metric_series(EXPONENTIAL_HISTOGRAM, "d.latency", "d-api", T, HI, 60), *columns)
    # minute 1: +7 (+1 zero, {4: 2, 5: 4}) and the reset's 2 ({4: 2}); the delta point 3
    assert found == [(STEP0, 7.0, 10.0, 1.0, 2, [4, 5], [3, 3], [], [], 1),
                     (STEP1, 12.0, 17.0, 1.0, 2, [4, 5], [5, 4], [0], [2], 3)]
    by_route = _rows(store.metric_series(EXPONENTIAL_HISTOGRAM, "d.latency", "", T, HI, 60, group_by=("route",)),
                     "t", "g0", "count", "positive_counts")
    assert by_route == [(STEP0, "", 7.0, [3, 3]), (STEP1, "", 9.0, [4, 4]), (STEP1, "/b", 3.0, [1])]


def test_exponential_series_steps_give_rate_mean_and_quantiles(queries: OtlpMetricService) -> None:
    found = queries.series("d.latency", "d-api", T, HI, 60, where=(("route", ""),))
    assert found.kind == EXPONENTIAL_HISTOGRAM
    step = dict(found.series[0].steps[1].values)
    # 9 observations: 1 zero, 4 in bucket 4 and 4 in bucket 5 of scale 2 (base 2^(1/4)); rank 4.5
    # lies 3.5/4 into bucket 4, interpolated log-linearly
    assert step == pytest.approx({
        "count": 9.0, "sum": 18.0, "count_rate": 9 / 60, "mean": 2.0, "p50": 2 ** ((4 + 3.5 / 4) / 4),
        "p90": 2 ** ((5 + 3.1 / 4) / 4), "p95": 2 ** ((5 + 3.55 / 4) / 4), "p99": 2 ** ((5 + 3.91 / 4) / 4),
        "max_relative_error": relative_error(2)})


def test_summaries_add_increases_and_take_the_highest_latest_quantile(store: Store, queries: OtlpMetricService) -> None:
    columns = ("t", "count", "sum", "quantiles", "quantile_values", "points")
    assert _rows(store.metric_series(SUMMARY, "d.rpc", "", T, HI, 60), *columns) == [
        (STEP0, 15.0, 150.0, [0.5, 0.99], [4.0, 6.0], 2), (STEP1, 33.0, 210.0, [0.5, 0.99], [3.0, 8.0], 3)]
    step = dict(queries.series("d.rpc", "", T, HI, 60).series[0].steps[1].values)
    assert step == pytest.approx({"count": 33.0, "sum": 210.0, "count_rate": 0.55, "mean": 210 / 33, "p50": 3.0,
                                  "p99": 8.0})
    quiet = dict(queries.series("d.quiet", "", T, HI, 60).series[0].steps[0].values)
    assert (quiet["p50"], quiet["p99"]) == (None, None), "a NaN reported is no value"


def test_window_aggregations_of_exponential_histograms(queries: OtlpMetricService) -> None:
    def value(aggregation: str, **kwargs: Any) -> dict[Any, tuple[float, int]]:
        return {g.attributes: (g.value, g.count) for g in queries.aggregate("d.latency", aggregation, LO, HI, **kwargs)}

    assert value("count_rate") == {(): (pytest.approx(12 / 59), 12)}
    assert value("mean", group_by=("route",)) == {(("route", ""),): (2.0, 9),
                                                  (("route", "/b"),): (pytest.approx(-1 / 3), 3)}
    # 12 observations: 2 negative, 1 zero, then 5 in bucket 4: rank 6 lies 3/5 into it
    assert value("quantile", quantile=0.5) == {(): (pytest.approx(2 ** ((4 + 3 / 5) / 4)), 12)}
    assert value("quantile", quantile=0.1)[()][0] == pytest.approx(-(2 ** ((1 - 1.2 / 2) / 4)))


def test_window_aggregations_of_summaries(queries: OtlpMetricService) -> None:
    def value(name: str, aggregation: str, quantile: float = 0.95) -> list[tuple[float, int]]:
        return [(g.value, g.count) for g in queries.aggregate(name, aggregation, LO, HI, quantile=quantile)]

    assert value("d.rpc", "quantile", 0.99) == [(8.0, 33)]  # host a's latest, above host b's 7
    assert value("d.rpc", "mean") == [(pytest.approx(210 / 33), 33)]
    assert value("d.rpc", "count_rate") == [(pytest.approx(33 / 59), 33)]
    assert value("d.quiet", "quantile", 0.5) == [], "a NaN quantile is no value"
    with pytest.raises(InvalidQuery, match=r"d.rpc is a summary reporting quantiles 0.5, 0.99: quantile 0.95 is not"):
        value("d.rpc", "quantile")


def test_aggregations_of_another_kind_are_errors_naming_the_kinds(queries: OtlpMetricService) -> None:
    with pytest.raises(InvalidQuery, match="d.latency is an exponential_histogram: aggregation last reads a gauge; "
                                           "an exponential_histogram takes quantile, mean, count_rate"):
        queries.aggregate("d.latency", "last", LO, HI)
    with pytest.raises(InvalidQuery, match="d.depth is a gauge: aggregation quantile reads a histogram, an "
                                           "exponential_histogram or a summary; a gauge takes last"):
        queries.aggregate("d.depth", "quantile", LO, HI)


def test_points_stay_in_their_project_and_erasure_removes_only_its_own(store: Store,
                                                                       queries: OtlpMetricService) -> None:
    def counts() -> dict[str, int]:
        listed = store.list_metrics(T, HI).to_pylist()
        return {r["kind"]: r["points"] for r in listed if r["name"] in ("d.latency", "d.rpc")}

    assert counts() == {EXPONENTIAL_HISTOGRAM: 4, SUMMARY: 5}
    with acting(for_project("other")):
        assert counts() == {EXPONENTIAL_HISTOGRAM: 1, SUMMARY: 1}
        assert [g.value for g in queries.aggregate("d.rpc", "quantile", LO, HI, quantile=0.99)] == [99.0]
    removed = store.erase_subject("other", "user.id", ["u-7"])
    assert (removed["otel_metrics_exponential_histogram"], removed["otel_metrics_summary"]) == (1, 1)
    with acting(for_project("other")):
        assert counts() == {}
    assert counts() == {EXPONENTIAL_HISTOGRAM: 4, SUMMARY: 5}

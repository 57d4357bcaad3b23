"""Explicit-bucket histogram series on every backend (tests/contract/conftest.py), through
`OtlpMetricStore` and the `OtlpMetricService` that reads it: each step gives its bucket
increases merged by upper bound (per point since the previous point of its series, a
cumulative reset counting from zero, a series started before the window only anchoring)
with every bucket layout it saw, and the service turns them into count_rate, mean and
p50/p90/p95/p99 interpolated linearly in the bucket (the +Inf bucket answering the
highest finite bound); points of different layouts in one step merge by bound."""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa
import pytest
from metric_spans import NOW

from spanwise.core.otlp_metrics import HISTOGRAM, POINT_SCHEMAS
from spanwise.query.otlp_metrics import OtlpMetricService
from spanwise.store import Store
from spanwise.store.protocols import OtlpMetricStore

PROTOCOLS = (OtlpMetricStore,)
S = 10**9
T = NOW  # on a minute: steps of 60 s start at T, T + 60 s, T + 120 s
STEP0, STEP1, STEP2 = T // S, T // S + 60, T // S + 120
DELTA, CUMULATIVE = 1, 2
BOUNDS = [5.0, 10.0, 25.0]


def _histogram(at_s: float, buckets: list[int], total: float, bounds: list[float] | None = None,
               temporality: int = CUMULATIVE, start_s: float = 1, route: str = "/a") -> dict[str, Any]:
    return {"ResourceAttributes": [("service.name", "h-api")], "ServiceName": "h-api", "ScopeName": "meter",
            "ScopeVersion": "", "MetricName": "h.duration", "MetricDescription": "", "MetricUnit": "ms",
            "Attributes": [("route", route)], "StartTimeUnix": T + int(start_s * S), "TimeUnix": T + int(at_s * S),
            "Flags": 0, "Count": sum(buckets), "Sum": total, "BucketCounts": buckets,
            "ExplicitBounds": BOUNDS if bounds is None else bounds, "Min": None, "Max": None,
            "AggregationTemporality": temporality}


POINTS = [
    # cumulative, started inside the window: [1, 2, 0, 0], then +[1, 3, 3, 1], then a reset to [0, 1, 0, 0]
    _histogram(10, [1, 2, 0, 0], 12.5), _histogram(70, [2, 5, 3, 1], 150.0), _histogram(130, [0, 1, 0, 0], 7.0),
    # delta, another layout: 4 observations above 100 in the second minute
    _histogram(75, [0, 0, 4], 600.0, bounds=[1.0, 100.0], temporality=DELTA, route="/b"),
    # cumulative, started an hour before: its first point only anchors the next (+1 in (5, 10])
    _histogram(20, [3, 3, 0, 0], 20.0, start_s=-3600, route="/c"),
    _histogram(80, [3, 4, 0, 0], 27.0, start_s=-3600, route="/c"),
]


@pytest.fixture(scope="module")
def queries(store: Store) -> OtlpMetricService:
    store.write_metric_points({HISTOGRAM: pa.Table.from_pylist(POINTS, schema=POINT_SCHEMAS[HISTOGRAM])})
    return OtlpMetricService(store)


def _steps(queries: OtlpMetricService, **kwargs: Any) -> list[dict[str, float | None]]:
    found = queries.series("h.duration", "h-api", T, T + 179 * S, 60, **kwargs)
    return [dict(step.values) for series in found.series for step in series.steps]


def test_a_step_merges_bucket_increases_by_bound_with_its_layouts(store: Store, queries: OtlpMetricService) -> None:
    rows = store.metric_series(HISTOGRAM, "h.duration", "h-api", T, T + 179 * S, 60).to_pylist()
    increases = [(r["t"], dict(zip(r["bucket_bounds"], r["bucket_counts"])), sorted(r["layouts"])) for r in rows]
    assert increases == [
        (STEP0, {5.0: 1, 10.0: 2}, [BOUNDS]),  # the anchor of /c adds nothing
        (STEP1, {5.0: 1, 10.0: 4, 25.0: 3, math.inf: 5}, [[1.0, 100.0], BOUNDS]),
        (STEP2, {10.0: 1}, [BOUNDS]),  # the reset counts from zero
    ]
    assert [(r["count"], r["sum"], r["points"]) for r in rows] == [(3, 12.5, 2), (13, 744.5, 3), (1, 7.0, 1)]


def test_histogram_steps_give_rate_mean_and_quantiles_in_the_bucket(queries: OtlpMetricService) -> None:
    first, second, third = _steps(queries)
    assert list(first) == ["count", "sum", "count_rate", "mean", "p50", "p90", "p95", "p99"]
    assert (first["count"], first["sum"], first["count_rate"]) == (3, 12.5, pytest.approx(3 / 60))
    assert first["mean"] == pytest.approx(12.5 / 3)
    # rank 1.5 of 3: half of the 2 in (5, 10]; rank 2.85: 1.85 of them
    assert (first["p50"], first["p95"]) == (pytest.approx(6.25), pytest.approx(5 + 5 * 1.85 / 2))
    # merged by bound: (0, 5] 1 | (5, 10] 4 | (10, 25] 3 | (25, 100] 0 | +Inf 5; rank 6.5 of 13 is 1.5 of the 3 in (10, 25]
    assert second["p50"] == pytest.approx(10 + 15 * 1.5 / 3)
    # ranks beyond 8 fall in +Inf: the highest finite bound of the merged layouts
    assert (second["p90"], second["p99"]) == (100.0, 100.0)
    assert third["p50"] == pytest.approx(7.5)


def test_a_step_without_observations_has_no_mean_or_quantiles(queries: OtlpMetricService) -> None:
    quiet = _steps(queries, where=(("route", "/c"),))
    assert quiet[0] == {"count": 0, "sum": 0, "count_rate": 0, "mean": None, "p50": None, "p90": None,
                        "p95": None, "p99": None}
    assert quiet[1]["p50"] == pytest.approx(7.5)


def test_series_split_by_attribute_keep_their_own_buckets(queries: OtlpMetricService) -> None:
    found = queries.series("h.duration", "h-api", T, T + 179 * S, 60, group_by=("route",))
    by_route = {series.attributes: [dict(step.values) for step in series.steps] for series in found.series}
    assert [step["p50"] for step in by_route[(("route", "/b"),)]] == [100.0]
    assert [step["p99"] for step in by_route[(("route", "/a"),)]] == [
        pytest.approx(5 + 5 * 1.97 / 2), 25.0, pytest.approx(9.95)]

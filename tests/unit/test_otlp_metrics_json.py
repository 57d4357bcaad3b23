"""The OTLP metric renderers: key order and shapes are the API's (a series answers
`points` when not grouped, `series` [{attributes, points}] when grouped)."""

from __future__ import annotations

from spanwise.query.otlp_metrics import MetricSeries, ReceivedMetric, Series, Step
from spanwise.serve.otlp_metrics_json import metric_json, series_json

GAUGE_STEP = Step(60 * 10**9, (("avg", 2.0), ("min", 1.0), ("max", 3.0), ("last", 3.0)), 2)


def test_a_received_metric_lists_its_services() -> None:
    metric = ReceivedMetric("jobs", "sum", "{job}", "jobs run", ("worker", "api"), 14)
    assert metric_json(metric) == {"name": "jobs", "kind": "sum", "unit": "{job}", "description": "jobs run",
                                   "services": ["worker", "api"], "points": 14}


def test_an_ungrouped_series_answers_points_with_the_kinds_figures_in_order() -> None:
    found = series_json(MetricSeries("depth", "gauge", "", 60, (), (), (Series((), (GAUGE_STEP,)),)))
    assert found == {"name": "depth", "kind": "gauge", "service": None, "step_seconds": 60, "points": [
        {"start_unix_nano": 60 * 10**9, "avg": 2.0, "min": 1.0, "max": 3.0, "last": 3.0, "points": 2}]}
    assert list(found["points"][0]) == ["start_unix_nano", "avg", "min", "max", "last", "points"]
    assert series_json(MetricSeries("depth", "gauge", "api", 60, (), (), ()))["points"] == []


def test_a_grouped_series_answers_one_series_per_group_after_its_filter() -> None:
    step = Step(0, (("increase", 5.0),), 1)
    found = series_json(MetricSeries("jobs", "sum", "worker", 120, (("env", "prod"),), ("job",), (
        Series((("job", "a"),), (step,)), Series((("job", "b"),), ()))))
    assert list(found) == ["name", "kind", "service", "step_seconds", "attributes", "group_by", "series"]
    assert found["attributes"] == {"env": "prod"} and found["group_by"] == ["job"]
    assert found["series"] == [
        {"attributes": {"job": "a"}, "points": [{"start_unix_nano": 0, "increase": 5.0, "points": 1}]},
        {"attributes": {"job": "b"}, "points": []},
    ]

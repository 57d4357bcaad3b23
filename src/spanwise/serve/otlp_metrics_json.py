"""OTLP metrics as the native API's JSON (`/api/v1/otlp/metrics`, `/api/v1/otlp/metrics/{name}`)."""

from __future__ import annotations

from typing import Any

from spanwise.query.otlp_metrics import MetricSeries, ReceivedMetric, Step

JsonDict = dict[str, Any]


def metric_json(metric: ReceivedMetric) -> JsonDict:
    return {"name": metric.name, "kind": metric.kind, "unit": metric.unit, "description": metric.description,
            "services": list(metric.services), "points": metric.points}


def series_json(found: MetricSeries) -> JsonDict:
    """The metric, `attributes` when filtered by them, then its one series as `points`, or
    with `group_by` the series as `series` [{attributes, points}]."""
    answer: JsonDict = {"name": found.name, "kind": found.kind, "service": found.service or None,
                        "step_seconds": found.step_s}
    if found.where:
        answer["attributes"] = dict(found.where)
    if not found.group_by:
        return answer | {"points": [_step(step) for series in found.series for step in series.steps]}
    return answer | {"group_by": list(found.group_by), "series": [
        {"attributes": dict(series.attributes), "points": [_step(step) for step in series.steps]}
        for series in found.series
    ]}


def _step(step: Step) -> JsonDict:
    return {"start_unix_nano": step.start_ns, **dict(step.values), "points": step.points}

"""OTLP metrics from SDKs in the native API: which metrics exist, and a metric's series."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from spanwise.query.otlp_metrics import OtlpMetricService
from spanwise.serve.native_api import endpoint
from spanwise.serve.otlp_metrics_json import metric_json, series_json
from spanwise.serve.params import Param, parse_int, parse_tags, time_params, time_range


_SERIES = (
    Param("service"), Param("step", "seconds (default 60)", "integer"), *time_params(),
    Param("attribute", "key:value; only points with that attribute value", repeated=True),
    Param("group_by", "a point attribute key: one series per value", repeated=True),
)


def otlp_metrics_routes(queries: OtlpMetricService) -> list[Route]:
    def names(request: Request) -> dict[str, Any]:
        """
        ---
        summary: OTLP metrics received from SDKs (name, kind, unit, description, services, points).
        description: Query parameters start/end (Unix ns) or lookback (default 1h).
        responses: {200: {description: metrics}}
        """
        return {"metrics": [metric_json(m) for m in queries.metrics(*time_range(request.query_params))]}

    def series(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Per-step values of one OTLP metric; gauges avg/min/max/last, sums their increase, histograms count and sum,
          exponential histograms and summaries count, sum, count_rate, mean and quantiles.
        description: >
          Query parameters service, step (seconds, default 60), start/end (Unix ns) or lookback
          (default 1h), attribute (key:value, repeatable: only points with those attribute
          values) and group_by (a point attribute key, repeatable, at most 3: one series per
          combination of values, e.g. group_by=ml.model.name&group_by=ml.model.version for
          spanwise.predictions; answered as `series` [{attributes, points}], at most 100).
          Exponential histograms give p50, p90, p95 and p99 from their merged buckets and
          max_relative_error, the most those can be off; summaries the quantiles they report
          (p50, p99.9...), each series' latest in the step, the highest of the series.
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: time series}, 404: {description: no such metric in the window}}
        """
        step = parse_int(request.query_params.get("step"), "step", 60)
        assert step is not None
        start, end = time_range(request.query_params)
        params = request.query_params
        found = queries.series(request.path_params["name"], params.get("service", ""), start, end, step,
                               tuple(params.getlist("group_by")), parse_tags(None, params.getlist("attribute")))
        return series_json(found)

    return [
        Route("/api/v1/otlp/metrics", endpoint(names, query=time_params())),
        Route("/api/v1/otlp/metrics/{name}", endpoint(series, query=_SERIES)),
    ]

"""Data quality, aggregated explanations and version comparison under `/api/v1/models/`,
documented in the native API's OpenAPI description."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from spanwise.analyze.model_analytics import ModelAnalyticsService
from spanwise.serve.model_analytics_json import comparison_json, data_quality_json, explanations_json
from spanwise.serve.models_api import _step
from spanwise.serve.native_api import endpoint
from spanwise.serve.params import REFERENCE, STEP, VERSION, Param, parse_time, time_params, time_range
from spanwise.store.protocols import WindowQuery

_WINDOWED = """
        description: >
          Query parameters version, start/end (Unix ns) or lookback (default 1h), step
          (seconds or e.g. 5m; default: the whole range is one window). Windows start at
          start; each is compared with the preceding window of equal length, or with the
          fixed reference range reference_start/reference_end (Unix ns) when given.
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
"""


_WINDOW_PARAMS = (
    VERSION, STEP, *time_params(), *REFERENCE,
)


def _window_query(request: Request) -> WindowQuery:
    params = request.query_params
    start, end = time_range(request.query_params, "1h")
    return WindowQuery(
        model=request.path_params["name"], version=params.get("version") or None, start_ns=start, end_ns=end,
        step_s=_step(params.get("step"), 0),
        reference_start_ns=parse_time(params.get("reference_start"), "reference_start"),
        reference_end_ns=parse_time(params.get("reference_end"), "reference_end"),
    )


def model_analytics_routes(analytics: ModelAnalyticsService) -> list[Route]:
    def data_quality(request: Request) -> Any:
        return data_quality_json(analytics.data_quality(_window_query(request)))

    data_quality.__doc__ = f"""
        ---
        summary: Per window and feature, missing rate, type changes, appeared/vanished features, share of values outside the reference range and new categories, with the issues raised.
        {_WINDOWED}
        responses: {{200: {{description: data quality windows}}, 400: {{description: bad parameters}}, 404: {{description: unknown model or version}}}}
        """

    def explanations(request: Request) -> Any:
        return explanations_json(analytics.explanations(_window_query(request)))

    explanations.__doc__ = f"""
        ---
        summary: Per window, global importance (mean |attribution|) per feature and attribution drift against the reference (change and two-sample KS test).
        {_WINDOWED}
        responses: {{200: {{description: explanation windows}}, 400: {{description: bad parameters}}, 404: {{description: unknown model or version}}}}
        """

    def compare(request: Request) -> Any:
        """
        ---
        summary: Two versions side by side (A/B) with a test for each difference.
        description: >
          Query parameters a and b (versions), start/end (Unix ns) or lookback (default 1h).
          Latency p50/p95/p99 (ms) with a Mann-Whitney U test, error rate (two-proportion
          chi-squared), prediction values (KS) and labels (chi-squared), confidence (KS) and
          accuracy of labelled predictions (two-proportion chi-squared); significant at p < 0.05.
          Distribution tests run on samples of at most 10,000 predictions per version.
        parameters: [{name: name, in: path, required: true, schema: {type: string}},
                     {name: a, in: query, required: true, schema: {type: string}},
                     {name: b, in: query, required: true, schema: {type: string}}]
        responses: {200: {description: the comparison}, 400: {description: bad parameters}, 404: {description: unknown model or version}}
        """
        start, end = time_range(request.query_params, "1h")
        params = request.query_params
        found = analytics.compare(request.path_params["name"], params.get("a", ""), params.get("b", ""), start, end)
        return comparison_json(found)

    return [
        Route("/api/v1/models/{name}/data-quality", endpoint(data_quality, query=_WINDOW_PARAMS)),
        Route("/api/v1/models/{name}/explanations", endpoint(explanations, query=_WINDOW_PARAMS)),
        Route("/api/v1/models/{name}/compare", endpoint(compare, query=(Param("a"), Param("b"), *time_params()))),
    ]

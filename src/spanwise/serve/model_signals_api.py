"""Stored model signals under `/api/v1/models/{name}/signals` (spanwise.analyze.model_signals).
Documented in the native API's OpenAPI description."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from spanwise.analyze.model_signals import ModelSignalService
from spanwise.core.ml_tasks import CLASSIFICATION, TASKS
from spanwise.errors import InvalidQuery
from spanwise.serve.models_api import TASK
from spanwise.serve.native_api import endpoint
from spanwise.serve.params import LIMIT, Param, parse_duration_ns, parse_limit, time_params, time_range


_SIGNALS = (Param("signal"), Param("feature"), *time_params("24h"), LIMIT)
_COMPUTE = (Param("window", "e.g. 1h (default)"), TASK)


def model_signals_routes(computer: ModelSignalService) -> list[Route]:
    def signals(request: Request) -> Any:
        """
        ---
        summary: Stored signal time series of a model (drift, missing_rate, accuracy, mae, label_coverage).
        description: Query parameters signal, feature, start/end (Unix ns) or lookback (default 24h), limit.
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: "signal rows, oldest window first"}}
        """
        params = request.query_params
        start, end = time_range(params, "24h")
        rows = computer.read_signals(request.path_params["name"], start, end, params.get("signal"),
                                  params.get("feature"), parse_limit(params.get("limit"), 10_000))
        return {"name": request.path_params["name"], "signals": rows.to_pylist()}

    def compute(request: Request) -> Any:
        """
        ---
        summary: Compute and store the model's signals now, for the last `window` (default 1h).
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: rows written}, 400: {description: bad window or task}, 404: {description: unknown model}}
        """
        window_ns = parse_duration_ns(request.query_params.get("window") or "1h", "window")
        task = request.query_params.get("task") or CLASSIFICATION
        if window_ns <= 0 or task not in TASKS:  # each signal would fail alone, unseen
            raise InvalidQuery("window must be positive and task classification or regression")
        written = computer.compute(request.path_params["name"], time.time_ns(), window_ns / 1e9, task)
        return {"name": request.path_params["name"], "rows_written": written}

    return [
        Route("/api/v1/models/{name}/signals", endpoint(signals, query=_SIGNALS)),
        Route("/api/v1/models/{name}/signals/compute", endpoint(compute, query=_COMPUTE), methods=["POST"]),
    ]

"""Logs in the native API: a trace's logs (the trace view's "Logs" panel) and log search."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from spanwise.query.logs import LogQueryService, severity_number
from spanwise.serve.logs_json import log_json
from spanwise.serve.native_api import endpoint
from spanwise.serve.params import LIMIT, Param, parse_limit, time_params, time_range
from spanwise.store.protocols import LogQuery


_SEARCH = (
    Param("service"), Param("severity", "minimum, e.g. WARN or 13"), Param("q", "text in the body"),
    Param("trace_id"), *time_params(), LIMIT,
)


def logs_routes(logs: LogQueryService) -> list[Route]:
    def trace_logs(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Log records correlated with a trace (OTLP logs carrying its trace id), oldest first.
        parameters: [{name: trace_id, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: log records}, 400: {description: malformed trace id}}
        """
        limit = parse_limit(request.query_params.get("limit"), 1_000)
        return {"logs": [log_json(r) for r in logs.trace_logs(request.path_params["trace_id"], limit)]}

    def search(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Search log records, newest first.
        description: Query parameters service, severity (minimum, e.g. WARN or 13), q (text in the body), trace_id, start/end (Unix ns) or lookback (default 1h), limit (default 100).
        responses: {200: {description: log records}}
        """
        params = request.query_params
        start, end = time_range(request.query_params)
        query = LogQuery(start, end, trace_id=params.get("trace_id", "").lower(), service=params.get("service", ""),
                         min_severity=severity_number(params.get("severity")), text=params.get("q", ""),
                         limit=parse_limit(params.get("limit"), 100))
        return {"logs": [log_json(r) for r in logs.search(query)]}

    return [
        Route("/api/v1/traces/{trace_id}/logs", endpoint(trace_logs, query=(LIMIT,))),
        Route("/api/v1/logs", endpoint(search, query=_SEARCH)),
    ]

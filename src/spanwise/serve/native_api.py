"""Spanwise's native REST API under `/api/v1/`, described by OpenAPI at `/api/v1/openapi.json`.

Each endpoint's docstring carries its OpenAPI operation (YAML after `---`), so the
description lives next to the code it describes.
"""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable, Sequence

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.schemas import SchemaGenerator

from spanwise import __version__
from spanwise.core.time_range import check_time_range
from spanwise.errors import InvalidQuery, SpanwiseError
from spanwise.query.service import QueryService
from spanwise.serve.access import PUBLIC, RULES, UNRULED
from spanwise.serve.json_response import FiniteJSONResponse
from spanwise.serve.native_json import summary_to_native, trace_page_to_native
from spanwise.serve.params import (
    LIMIT, Param, check_params, parse_duration_ns, parse_float, parse_int, parse_limit, parse_tags, time_params,
    time_range,
)
from spanwise.serve.request_scope import sees_platform
from spanwise.serve.status import http_status, retry_headers
from spanwise.store.protocols import TraceQuery

#: The attribute of a handler holding its declared query parameters (`endpoint(query=...)`).
PARAMS_ATTR = "spanwise_query_params"


class _Schemas(SchemaGenerator):
    """Starlette's generator, plus each handler's declared query parameters, so the
    OpenAPI description lists exactly what the 400 check accepts, and what every
    operation shares (`complete`)."""

    def parse_docstring(self, func_or_method: Callable[..., Any]) -> dict[str, Any]:
        parsed = super().parse_docstring(func_or_method)
        declared: Sequence[Param] = getattr(func_or_method, PARAMS_ATTR, ())
        if parsed and declared:
            listed = parsed.setdefault("parameters", [])
            named = {p.get("name") for p in listed if isinstance(p, dict) and p.get("in") == "query"}
            listed.extend(p.openapi() for p in declared if p.name not in named)
        return parsed

    def get_schema(self, routes: list[BaseRoute]) -> dict[str, Any]:
        schema = super().get_schema(routes)
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                complete(path, method, operation)
        return {**schema, "components": COMPONENTS}


#: `{"error": {"status", "message"}}`: the body of every error answer.
ERROR_SCHEMA: dict[str, Any] = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["status", "message"],
    "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
}}}
COMPONENTS: dict[str, Any] = {
    "schemas": {"Error": ERROR_SCHEMA},
    "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "description": "a token (`POST /api/v1/tokens`); with auth on"},
        "session": {"type": "apiKey", "in": "cookie", "name": "spanwise_session",
                    "description": "the web UI's sign-in (`POST /api/v1/session`); writes also need X-Spanwise-CSRF"},
    },
}


def component(name: str, schema: dict[str, Any]) -> None:
    """Describe a body shape once, for docstrings to refer to as `#/components/schemas/<name>`."""
    COMPONENTS["schemas"][name] = schema


_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
#: Answers any operation may give, declared here once instead of in every docstring.
_ANY = {
    "400": "an unknown, repeated or malformed parameter (the message names it), or a Host the server does not answer",
    "503": "the store is busy or shutting down, or a query hit its time or memory limit: retry after Retry-After",
}
_PRIVATE = {
    "401": "no credential, or an invalid, expired or revoked token (auth on)",
    "403": "the token's role may not call this operation, or a cross-origin or CSRF-less write (auth on)",
}
_WRITE = {"415": "a body whose Content-Type the operation does not read"}
_BODY = {"413": "the body is larger than the operation accepts"}


def complete(path: str, method: str, operation: dict[str, Any]) -> None:
    """Add to one operation what the server does for every route, so no docstring has to
    repeat it: the path's parameters, the credential it needs (`serve.access`), the common
    error answers (JSON `Error` bodies) and JSON as the default content of a success."""
    listed = operation.setdefault("parameters", [])
    declared = {(p.get("name"), p.get("in")) for p in listed}
    listed[:0] = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in re.findall(r"{(\w+)}", path) if (name, "path") not in declared]
    public = RULES.get(f"{method.upper()} {path}", UNRULED) == PUBLIC
    operation["security"] = [] if public else [{"bearer": []}, {"session": []}]
    common = {**_ANY, **({} if public else _PRIVATE), **(_WRITE if method != "get" else {}),
              **(_BODY if "requestBody" in operation else {})}
    responses = {str(code): dict(answer) for code, answer in operation.get("responses", {}).items()}
    for code, description in common.items():
        responses.setdefault(code, {"description": description})
    for code, answer in responses.items():
        answer.setdefault("content", _ERROR_CONTENT if code >= "400" else {"application/json": {}})
    operation["responses"] = dict(sorted(responses.items()))


SCHEMAS = _Schemas({"openapi": "3.0.3", "info": {"title": "Spanwise API", "version": __version__}})


def error_response(exc: SpanwiseError) -> JSONResponse:
    """`{"error": {"status", "message"}}` with the error's HTTP status (and `Retry-After`
    when a retry helps, e.g. 503 while the store is busy)."""
    status = http_status(exc)
    return JSONResponse(
        {"error": {"status": status, "message": str(exc)}}, status_code=status, headers=retry_headers(exc)
    )


def declare(handler: Callable[..., Any], query: Sequence[Param]) -> None:
    """Attach `query` to `handler` for the OpenAPI description."""
    setattr(handler, PARAMS_ATTR, tuple(query))


def endpoint(
    work: Callable[..., Any],
    read: Callable[[Request], Awaitable[tuple[Any, ...]]] | None = None,
    query: Sequence[Param] = (),
) -> Callable[[Request], Any]:
    """Run `work` and render its JSON in a thread, so a big answer never holds the event
    loop; errors become `{"error": {"status", "message"}}`. With `read`, the body is read
    first (in the event loop) and passed on: `work(request, *read(request))`. `query` is
    every query parameter the route accepts: any other is a 400 naming it and the allowed
    ones, before the body is read or the store asked."""
    allowed = tuple(query)

    def respond(request: Request, *extra: Any) -> Response:
        return FiniteJSONResponse(work(request, *extra))

    async def handler(request: Request) -> Response:
        try:
            check_params(request.query_params, allowed)
            extra = await read(request) if read else ()
            return await run_in_threadpool(respond, request, *extra)
        except SpanwiseError as exc:
            return error_response(exc)

    handler.__doc__ = work.__doc__
    declare(handler, allowed)
    return handler


def native_routes(
    queries: QueryService, status_extra: Callable[[], dict[str, Any]], documented: list[Route] | None = None
) -> list[Route]:
    """The native routes and `/api/v1/openapi.json`, which also describes `documented`
    (routes of other native-API modules, e.g. `serve.models_api`)."""
    def health(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Liveness; 200 once the store is open and receivers are listening.
        responses: {200: {description: ok}}
        """
        return {"status": "ok", "version": __version__}

    def status(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Stored spans and predictions of the caller's project; for admins also bytes on disk and the platform's counters.
        description: >
          The platform's figures add up every project (ingest counters, queues, bytes on
          disk), so only admins (or anyone, with auth off) see them.
        responses: {200: {description: counters}}
        """
        stats = queries.stats()
        counts = {"spans": stats.spans, "predictions": stats.predictions}
        if not sees_platform(request.scope):
            return counts
        return {**counts, "bytes_on_disk": stats.bytes_on_disk, "tables_bytes": stats.tables, **status_extra()}

    def trace(request: Request) -> dict[str, Any]:
        """
        ---
        summary: One trace by id, a page of spans at a time, with typed attributes and AI fields.
        description: >
          Spans come in start-time order, at most `limit` per page (default and maximum:
          the server's `server.max_trace_spans`, 10,000 unless configured). `totalSpans` is
          the trace's span count and `nextOffset` the `offset` of the next page (null on the
          last page), so a client shows "N of M spans" and reads on.
        parameters:
          - {name: trace_id, in: path, required: true, schema: {type: string}}
          - {name: offset, in: query, required: false, schema: {type: integer, minimum: 0, default: 0}}
          - {name: limit, in: query, required: false, schema: {type: integer, minimum: 1}}
        responses:
          200: {description: "the page: traceId, spans, totalSpans, offset, limit, nextOffset"}
          400: {description: bad offset or limit (above the server's maximum)}
          404: {description: unknown trace id}
        """
        params = request.query_params
        offset = parse_int(params.get("offset"), "offset", 0)
        assert offset is not None
        page = queries.trace_page(request.path_params["trace_id"], offset, parse_int(params.get("limit"), "limit"))
        return trace_page_to_native(page)

    def search(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Search traces; newest first.
        description: >
          Query parameters: service, operation, attribute (repeated key:value, any span or
          resource attribute including ml.* fields), attributes (JSON object), min_duration
          and max_duration (e.g. 100ms), status (Ok|Error|Unset), min_confidence,
          max_confidence, start and end (Unix ns), lookback (e.g. 1h; default 1h), limit.
        responses: {200: {description: trace summaries}}
        """
        return {"traces": [summary_to_native(s) for s in queries.summaries(_native_query(request))]}

    def services(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Every service name seen.
        responses: {200: {description: service names}}
        """
        return {"services": queries.services()}

    def operations(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Span names seen for a service, with their kinds.
        parameters: [{name: service, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: operations}}
        """
        ops = queries.operations(request.path_params["service"], request.query_params.get("span_kind"))
        return {"operations": [{"name": o.name, "spanKind": o.span_kind} for o in ops]}

    def dependencies(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Service dependency edges (parent service -> child service) with call and error counts.
        description: Between start and end (Unix ns), or in the lookback (default 24h) before end.
        responses: {200: {description: edges}, 400: {description: bad parameter}}
        """
        start, end = time_range(request.query_params, "24h")
        check_time_range(start, end, empty_ok=False)
        links = queries.dependencies(end, end - start)
        return {"dependencies": [vars(d) for d in links]}

    def red(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Rate (spans/s), error rate and p50/p95/p99 duration (ms) per service, or per operation of `service`.
        description: Query parameters service (optional), start/end (Unix ns) or lookback (default 1h).
        responses: {200: {description: one row per service or operation}}
        """
        start, end = time_range(request.query_params)
        service = request.query_params.get("service") or None
        seconds = (end - start) / 1e9
        return {
            "service": service,
            "window_seconds": seconds,
            "rows": [
                {"name": r.name, "count": r.count, "rate_per_s": r.count / seconds,
                 "error_count": r.error_count, "error_rate": r.error_count / r.count if r.count else 0.0,
                 "p50_ms": r.p50_ns / 1e6, "p95_ms": r.p95_ns / 1e6, "p99_ms": r.p99_ns / 1e6}
                for r in queries.red_summary(start, end, service)
            ],
        }

    def latency(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Per-step span count and p50/p95/p99 duration (ms) of a service's spans.
        description: Query parameters service (required), operation, step (seconds, default 60), start/end (Unix ns) or lookback (default 1h).
        responses: {200: {description: time series}}
        """
        params = request.query_params
        start, end = time_range(request.query_params)
        step = parse_int(params.get("step"), "step", 60)
        assert step is not None
        points = queries.latency_series(params.get("service", ""), start, end, step, params.get("operation"))
        return {
            "service": params.get("service"),
            "step_seconds": step,
            "points": [
                {"start_unix_nano": p.start_ns, "count": p.count,
                 "p50_ms": p.p50_ns / 1e6, "p95_ms": p.p95_ns / 1e6, "p99_ms": p.p99_ns / 1e6,
                 "error_count": p.error_count}
                for p in points
            ],
        }

    routes = [
        Route("/api/v1/health", endpoint(health)),
        Route("/api/v1/status", endpoint(status)),
        Route("/api/v1/traces/{trace_id}", endpoint(trace, query=_TRACE_PAGE)),
        Route("/api/v1/traces", endpoint(search, query=SEARCH_PARAMS)),
        Route("/api/v1/services", endpoint(services)),
        Route("/api/v1/services/{service}/operations", endpoint(operations, query=_SPAN_KIND)),
        Route("/api/v1/dependencies", endpoint(dependencies, query=time_params("24h"))),
        Route("/api/v1/metrics/latency", endpoint(latency, query=_LATENCY)),
        Route("/api/v1/metrics/red", endpoint(red, query=(_SERVICE, *time_params()))),
    ]

    async def openapi(request: Request) -> Response:
        return JSONResponse(SCHEMAS.get_schema(routes=list[BaseRoute](routes + (documented or []))))

    return routes + [Route("/api/v1/openapi.json", openapi, include_in_schema=False)]


_SERVICE = Param("service", "a service name")
_TRACE_PAGE = (Param("offset", "first span of the page", "integer"), Param("limit", "spans per page", "integer"))
_SPAN_KIND = (Param("span_kind", "e.g. SERVER"),)
_LATENCY = (_SERVICE, Param("operation"), Param("step", "seconds (default 60)", "integer"), *time_params())
#: The trace search's parameters (`GET /api/v1/traces`).
SEARCH_PARAMS = (
    _SERVICE, Param("operation"), Param("attribute", "key:value, any span or resource attribute", repeated=True),
    Param("attributes", "JSON object of attributes"), Param("min_duration", "e.g. 100ms"),
    Param("max_duration", "e.g. 2s"), Param("status", "Ok, Error or Unset"),
    Param("min_confidence", "lowest ml.prediction.confidence", "number"),
    Param("max_confidence", "highest ml.prediction.confidence", "number"), *time_params(), LIMIT,
)


def _status(text: str | None) -> str | None:
    """A span status the store can hold (any case); another is a 400, not a search that
    quietly finds nothing."""
    if text and text.lower() not in ("ok", "error", "unset"):
        raise InvalidQuery(f"status: expected Ok, Error or Unset, got {text!r}")
    return text or None


def _native_query(request: Request) -> TraceQuery:
    params = request.query_params
    start, end = time_range(params)
    min_duration, max_duration = params.get("min_duration"), params.get("max_duration")
    return TraceQuery(
        start_ns=start,
        end_ns=end,
        service=params.get("service") or None,
        operation=params.get("operation") or None,
        attributes=parse_tags(params.get("attributes"), params.getlist("attribute")),
        min_duration_ns=parse_duration_ns(min_duration, "min_duration") if min_duration else None,
        max_duration_ns=parse_duration_ns(max_duration, "max_duration") if max_duration else None,
        status=_status(params.get("status")),
        min_confidence=parse_float(params.get("min_confidence"), "min_confidence"),
        max_confidence=parse_float(params.get("max_confidence"), "max_confidence"),
        limit=parse_limit(params.get("limit")),
    )

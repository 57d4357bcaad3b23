"""The Jaeger HTTP JSON query API, as Grafana's Jaeger data source and the Jaeger UI call it.

Routes: `/api/services`, `/api/services/{service}/operations`, `/api/operations`,
`/api/traces`, `/api/traces/{id}`, `/api/dependencies`. Responses use Jaeger's envelope
(`data`, `total`, `limit`, `offset`, `errors`), errors included. Jaeger has no paging of
a trace's spans: each trace holds at most `server.max_trace_spans` (its earliest spans)
and a cut trace says so in its `warnings`; the native API pages through the rest.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from spanwise.errors import InvalidQuery, NotFound, SpanwiseError
from spanwise.query.service import QueryService
from spanwise.serve.json_response import FiniteJSONResponse
from spanwise.serve.jaeger_json import jaeger_envelope, jaeger_error, traces_to_jaeger
from spanwise.serve.params import Param, check_params, parse_duration_ns, parse_int, parse_limit, parse_tags
from spanwise.serve.status import http_status
from spanwise.store.protocols import TraceQuery

DEFAULT_LOOKBACK_NS = 3600 * 10**9

#: Every query parameter of Jaeger's HTTP query API (jaeger-query's query parser and
#: handler), accepted on any Jaeger route: clients such as Grafana's Jaeger data source
#: send the time range (`start`, `end`, `lookback=custom`) to routes that do not use it,
#: so only a name Jaeger itself would not know is refused. `prettyPrint` and `raw` are
#: accepted and ignored.
JAEGER_PARAMS = tuple(Param(name, repeated=True) for name in (
    "service", "operation", "tag", "tags", "start", "end", "lookback", "limit", "minDuration", "maxDuration",
    "traceID", "spanKind", "endTs", "prettyPrint", "raw",
))


def _handler(work: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """Run `work` in a thread (the store blocks) and wrap errors in Jaeger's envelope; a
    parameter Jaeger does not document is a 400 naming it."""

    async def endpoint(request: Request) -> Response:
        try:
            check_params(request.query_params, JAEGER_PARAMS, strict=False)
            return await run_in_threadpool(work, request)
        except SpanwiseError as exc:
            status = http_status(exc)
            return JSONResponse(jaeger_error(status, str(exc)), status_code=status)

    return endpoint


def jaeger_routes(queries: QueryService) -> list[Route]:
    def services(request: Request) -> Response:
        names = queries.services()
        return FiniteJSONResponse(jaeger_envelope(names, total=len(names)))

    def service_operations(request: Request) -> Response:
        names = sorted({op.name for op in queries.operations(request.path_params["service"])})
        return FiniteJSONResponse(jaeger_envelope(names, total=len(names)))

    def operations(request: Request) -> Response:
        service = request.query_params.get("service")
        if not service:
            raise InvalidQuery("parameter 'service' is required")
        kind = request.query_params.get("spanKind") or None
        ops = [{"name": op.name, "spanKind": op.span_kind.lower()} for op in queries.operations(service, kind)]
        return FiniteJSONResponse(jaeger_envelope(ops, total=len(ops)))

    def trace(request: Request) -> Response:
        found = queries.traces([request.path_params["trace_id"]], ai_fields=False)
        data = traces_to_jaeger(found.spans, found.totals)
        if not data:
            raise NotFound(f"trace {request.path_params['trace_id']} not found")
        return FiniteJSONResponse(jaeger_envelope(data))

    def search(request: Request) -> Response:
        trace_ids = request.query_params.getlist("traceID")
        if trace_ids:
            found = queries.traces(trace_ids, ai_fields=False)
            return FiniteJSONResponse(jaeger_envelope(traces_to_jaeger(found.spans, found.totals)))
        ids, found = queries.search(_trace_query(request), ai_fields=False)
        data = traces_to_jaeger(found.spans, found.totals)
        order = {t: i for i, t in enumerate(ids)}
        data.sort(key=lambda t: order.get(t["traceID"], len(order)))
        return FiniteJSONResponse(jaeger_envelope(data))

    def dependencies(request: Request) -> Response:
        params = request.query_params
        end_ms = parse_int(params.get("endTs"), "endTs", time.time_ns() // 10**6)
        lookback_ms = parse_int(params.get("lookback"), "lookback", 86_400_000)
        assert end_ms is not None and lookback_ms is not None
        links = queries.dependencies(end_ms * 10**6, lookback_ms * 10**6)
        data = [{"parent": d.parent, "child": d.child, "callCount": d.call_count} for d in links]
        return FiniteJSONResponse(jaeger_envelope(data))

    return [
        Route("/api/services", _handler(services)),
        Route("/api/services/{service}/operations", _handler(service_operations)),
        Route("/api/operations", _handler(operations)),
        Route("/api/traces/{trace_id}", _handler(trace)),
        Route("/api/traces", _handler(search)),
        Route("/api/dependencies", _handler(dependencies)),
    ]


def _trace_query(request: Request) -> TraceQuery:
    """Jaeger's search parameters as a TraceQuery (times in microseconds)."""
    params = request.query_params
    service = params.get("service")
    if not service:
        raise InvalidQuery("parameter 'service' is required")
    end_us = parse_int(params.get("end"), "end")
    start_us = parse_int(params.get("start"), "start")
    end_ns = end_us * 1000 if end_us is not None else time.time_ns()
    lookback = params.get("lookback")
    if start_us is not None:
        start_ns = start_us * 1000
    elif lookback and lookback != "custom":
        start_ns = end_ns - parse_duration_ns(lookback, "lookback")
    else:
        start_ns = end_ns - DEFAULT_LOOKBACK_NS
    min_duration, max_duration = params.get("minDuration"), params.get("maxDuration")
    operation = params.get("operation")
    return TraceQuery(
        start_ns=start_ns,
        end_ns=end_ns,
        service=service,
        operation=operation if operation and operation != "all" else None,
        attributes=parse_tags(params.get("tags"), params.getlist("tag")),
        min_duration_ns=parse_duration_ns(min_duration, "minDuration") if min_duration else None,
        max_duration_ns=parse_duration_ns(max_duration, "maxDuration") if max_duration else None,
        limit=parse_limit(params.get("limit")),
    )

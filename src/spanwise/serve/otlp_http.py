"""OTLP/HTTP receiver: `POST /v1/traces` and `POST /v1/logs`, protobuf or JSON, optionally
gzip, on :4318.

Answers follow the OTLP specification: 200 with the signal's export response (with
`partial_success` when spans were rejected) in the request's encoding; 400 with a
`google.rpc.Status` for malformed bodies; 413 over the body limit (checked on the
declared length, while streaming, and after decompression; see `serve.body`); 415 for
other content types or encodings; 429/503 with `Retry-After` when the pipeline is full,
too many request bytes are in flight (`server.max_inflight_bytes`) or the store failed.
Decompression, decoding and processing run off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from google.protobuf import json_format
from google.rpc import status_pb2
from google.protobuf.message import Message
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from spanwise.errors import SpanwiseError, UnsupportedContentType
from spanwise.receive.ingest import ExportOutcome
from spanwise.receive.signals import OtlpSignal
from spanwise.serve.access import RouteTable
from spanwise.serve.auth import Authority
from spanwise.serve.auth_http import AccessControl
from spanwise.serve.request_scope import RequestScope
from spanwise.serve.body import InflightBytes, Take, gunzip, read_body
from spanwise.serve.status import http_status, retry_headers

log = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def otlp_http_app(signals: list[OtlpSignal], max_body_bytes: int, inflight: InflightBytes,
                  authority: Authority | None = None) -> Starlette:
    """The ASGI app serving OTLP/HTTP: one POST route per signal. `inflight` is shared
    with the gRPC receiver. With an `authority`, every request needs an ingest token
    (`Authorization: Bearer`), checked before the body is read."""
    routes = [Route(s.http_path, _receiver(s, max_body_bytes, inflight), methods=["POST"]) for s in signals]
    if authority is None:
        return Starlette(routes=routes, middleware=[Middleware(RequestScope)])
    table = RouteTable(routes)
    return Starlette(routes=routes, middleware=[
        Middleware(AccessControl, authority=authority, table=lambda: table, render=_auth_error),
        Middleware(RequestScope, authority=authority, render=_auth_error)])


#: HTTP status -> google.rpc.Code: UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND.
_RPC_CODES = {401: 16, 403: 7, 404: 5}


def _auth_error(status: int, message: str, headers: Headers) -> Response:
    """401/403/404 as OTLP answers errors: a google.rpc.Status in the request's encoding."""
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    body = status_pb2.Status(code=_RPC_CODES[status], message=message)
    extra = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if content_type == PROTOBUF:
        return Response(body.SerializeToString(), status, extra, media_type=PROTOBUF)
    return Response(json_format.MessageToJson(body, indent=None), status, extra, media_type=JSON)


def _receiver(signal: OtlpSignal, limit: int, inflight: InflightBytes) -> Callable[[Request], Awaitable[Response]]:
    async def receive(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if content_type not in (PROTOBUF, JSON):
                raise UnsupportedContentType(
                    f"unsupported content type {content_type or '(none)'!r}: use {PROTOBUF} or {JSON}"
                )
            gzipped = _gzipped(request)
            with inflight.hold() as take:
                body = await read_body(request, limit, take)
                outcome = await _export(signal, body, content_type, gzipped, limit, take)
        except SpanwiseError as exc:
            return _error(exc, content_type)
        except ClientDisconnect:
            return Response(status_code=400)
        return _success(signal.response(outcome), content_type)

    return receive


def _gzipped(request: Request) -> bool:
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("gzip", "identity", ""):
        raise UnsupportedContentType(f"unsupported content encoding {encoding!r}: use gzip or none")
    return encoding == "gzip"


async def _export(signal: OtlpSignal, body: bytes, content_type: str, gzipped: bool, limit: int,
                  take: Take) -> ExportOutcome:
    """Decompression and JSON parsing run in a worker thread, never on the event loop
    that serves every port; the decompressed bytes count against the in-flight budget."""
    if gzipped:
        body = await asyncio.to_thread(gunzip, body, limit)
        take(len(body))
    if content_type == JSON:
        parsed = await asyncio.to_thread(signal.from_json, body)
        return await signal.exporter.export_protobuf(parsed.protobuf, parsed.rejected, parsed.message)
    return await signal.exporter.export_protobuf(body)


def _success(response: Message, content_type: str) -> Response:
    if content_type == JSON:
        return Response(json_format.MessageToJson(response, indent=None), media_type=JSON)
    return Response(response.SerializeToString(), media_type=PROTOBUF)


def _error(error: SpanwiseError, content_type: str) -> Response:
    status = http_status(error)
    if status >= 500 or status == 429:
        log.warning("OTLP/HTTP export refused (%d): %s", status, error)
    message = status_pb2.Status(code=_rpc_code(status), message=str(error))
    headers = retry_headers(error)
    if content_type == PROTOBUF:
        return Response(message.SerializeToString(), status, headers, media_type=PROTOBUF)
    return Response(json_format.MessageToJson(message, indent=None), status, headers, media_type=JSON)


def _rpc_code(http_status_code: int) -> int:
    """google.rpc.Code matching the HTTP status (INVALID_ARGUMENT, UNAVAILABLE, ...)."""
    return {400: 3, 413: 8, 415: 3, 429: 8, 503: 14}.get(http_status_code, 2)

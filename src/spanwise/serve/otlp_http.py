"""OTLP/HTTP receiver: `POST /v1/traces` and `POST /v1/logs`, protobuf or JSON, optionally
gzip, on :4318.

Answers follow the OTLP specification: 200 with the signal's export response (with
`partial_success` when spans were rejected) in the request's encoding; 400 with a
`google.rpc.Status` for malformed bodies; 413 over the body limit (checked on the
declared length, while streaming, and after decompression); 415 for other content types
or encodings; 429/503 with `Retry-After` when the pipeline is full or the store failed.
"""

from __future__ import annotations

import logging
import zlib
from typing import Awaitable, Callable

from google.protobuf import json_format
from google.rpc import status_pb2
from google.protobuf.message import Message
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from spanwise.errors import MalformedPayload, PayloadTooLarge, SpanwiseError, UnsupportedContentType
from spanwise.receive.ingest import ExportOutcome
from spanwise.receive.signals import OtlpSignal
from spanwise.serve.status import http_status, retry_headers

log = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def otlp_http_app(signals: list[OtlpSignal], max_body_bytes: int) -> Starlette:
    """The ASGI app serving OTLP/HTTP: one POST route per signal."""
    return Starlette(routes=[Route(s.http_path, _receiver(s, max_body_bytes), methods=["POST"]) for s in signals])


def _receiver(signal: OtlpSignal, max_body_bytes: int) -> Callable[[Request], Awaitable[Response]]:
    async def receive(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if content_type not in (PROTOBUF, JSON):
                raise UnsupportedContentType(
                    f"unsupported content type {content_type or '(none)'!r}: use {PROTOBUF} or {JSON}"
                )
            body = await _read_body(request, max_body_bytes)
            outcome = await _export(signal, body, content_type)
        except SpanwiseError as exc:
            return _error(exc, content_type)
        except ClientDisconnect:
            return Response(status_code=400)
        return _success(signal.response(outcome), content_type)

    return receive


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        return _gunzip(body, limit)
    if encoding not in ("identity", ""):
        raise UnsupportedContentType(f"unsupported content encoding {encoding!r}: use gzip or none")
    return body


def _gunzip(body: bytes, limit: int) -> bytes:
    """Decompress every gzip member (RFC 1952 allows several), refusing to expand past
    the limit in total (gzip bombs) and rejecting anything that is not gzip."""
    parts: list[bytes] = []
    total, rest = 0, body
    while True:
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            data = decompressor.decompress(rest, limit + 1 - total)
        except zlib.error as exc:
            raise MalformedPayload(f"invalid gzip body: {exc}") from exc
        total += len(data)
        if total > limit or decompressor.unconsumed_tail:
            raise PayloadTooLarge(f"decompressed body exceeds the limit of {limit} bytes")
        if not decompressor.eof:
            raise MalformedPayload("invalid gzip body: truncated")
        parts.append(data)
        rest = decompressor.unused_data
        if not rest:
            return b"".join(parts)


async def _export(signal: OtlpSignal, body: bytes, content_type: str) -> ExportOutcome:
    if content_type == JSON:
        parsed = signal.from_json(body)
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

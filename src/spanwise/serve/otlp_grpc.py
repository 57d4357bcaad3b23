"""OTLP/gRPC receiver on :4317: `TraceService/Export` and `LogsService/Export` (grpc.aio).

Requests arrive as raw bytes (no protobuf object is built) and go straight to the
columnar decoders. gzip is negotiated by gRPC itself. Retryable failures (including too many request bytes in
flight, `serve.body.InflightBytes`) answer UNAVAILABLE with `retry-after` trailing metadata,
which OTLP exporters retry with back-off. Decoding and processing run off the event loop
(in the ingest services).
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

import grpc

from spanwise.errors import SpanwiseError
from spanwise.receive.signals import OtlpSignal
from spanwise.serve.auth import Authority
from spanwise.request_context import acting
from spanwise.serve.auth_http import grpc_principal
from spanwise.serve.request_scope import PROJECT_HEADER, context_for, unknown_project
from spanwise.serve.body import InflightBytes
from spanwise.serve.status import grpc_status, retry_headers

log = logging.getLogger(__name__)


def otlp_grpc_server(signals: list[OtlpSignal], max_body_bytes: int, inflight: InflightBytes,
                     authority: Authority | None = None) -> grpc.aio.Server:
    """A grpc.aio server with each signal's OTLP service registered (not yet bound);
    `inflight` is the budget shared with the OTLP/HTTP receiver. With an `authority`, every
    call needs an ingest token in its `authorization` metadata (`serve.auth_http`)."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_body_bytes),
            ("grpc.so_reuseport", 0),
        ]
    )
    server.add_generic_rpc_handlers(tuple(
        grpc.method_handlers_generic_handler(s.grpc_service, {"Export": grpc.unary_unary_rpc_method_handler(_default_project(_export(s, inflight)))})
        for s in signals
    ) if authority is None else tuple(
        grpc.method_handlers_generic_handler(s.grpc_service, {"Export": grpc.unary_unary_rpc_method_handler(
            _checked(authority, _export(s, inflight)))})
        for s in signals
    ))
    return server


Export = Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]]


def _checked(authority: Authority, export: Export) -> Export:
    """`export`, after the call's credential passed (else UNAUTHENTICATED / PERMISSION_DENIED)."""
    async def checked(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        metadata = context.invocation_metadata()
        principal, refusal = grpc_principal(authority, metadata)
        if refusal:
            await context.abort(*refusal)
        requested = next((str(v) for k, v in metadata or () if k == PROJECT_HEADER), None)
        unknown = unknown_project(authority, principal, requested)
        if unknown:
            await context.abort(grpc.StatusCode.NOT_FOUND, unknown)
        with acting(context_for(principal, requested)):
            return await export(request, context)

    return checked


def _default_project(export: Export) -> Export:
    """`export` in the default project (auth off)."""
    async def in_default(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        with acting(context_for(None)):
            return await export(request, context)

    return in_default


def _export(signal: OtlpSignal, inflight: InflightBytes) -> Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]]:
    async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            with inflight.hold() as take:
                take(len(request))
                outcome = await signal.exporter.export_protobuf(request)
        except SpanwiseError as exc:
            code = grpc_status(exc)
            if code == grpc.StatusCode.UNAVAILABLE:
                log.warning("OTLP/gRPC export refused: %s", exc)
            retry = retry_headers(exc)
            await context.abort(code, str(exc), tuple((k.lower(), v) for k, v in retry.items()))
        return bytes(signal.response(outcome).SerializeToString())

    return export

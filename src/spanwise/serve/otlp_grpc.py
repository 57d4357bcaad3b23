"""OTLP/gRPC receiver: `TraceService/Export` on :4317 (grpc.aio).

The request arrives as raw bytes (no protobuf object is built) and goes straight to the
columnar decoder. gzip is negotiated by gRPC itself. Retryable failures answer
UNAVAILABLE, which OTLP exporters retry with back-off.
"""

from __future__ import annotations

import logging

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from spanwise.errors import SpanwiseError
from spanwise.receive.ingest import IngestService
from spanwise.serve.status import grpc_status

log = logging.getLogger(__name__)

TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


def otlp_grpc_server(ingest: IngestService, max_body_bytes: int) -> grpc.aio.Server:
    """A grpc.aio server with the OTLP trace service registered (not yet bound)."""

    async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            outcome = await ingest.export_protobuf(request)
        except SpanwiseError as exc:
            code = grpc_status(exc)
            if code == grpc.StatusCode.UNAVAILABLE:
                log.warning("OTLP/gRPC export refused: %s", exc)
            await context.abort(code, str(exc))
        response = ExportTraceServiceResponse()
        if outcome.rejected:
            response.partial_success.rejected_spans = outcome.rejected
            response.partial_success.error_message = outcome.message
        return response.SerializeToString()

    handler = grpc.method_handlers_generic_handler(
        TRACE_SERVICE, {"Export": grpc.unary_unary_rpc_method_handler(export)}
    )
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_body_bytes),
            ("grpc.so_reuseport", 0),
        ]
    )
    server.add_generic_rpc_handlers((handler,))
    return server

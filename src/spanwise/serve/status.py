"""The one place Spanwise errors become HTTP and gRPC status codes.

Retryable errors map to codes OTLP clients retry (429/503, UNAVAILABLE), never to
500/INTERNAL, which they drop.
"""

from __future__ import annotations

import math

import grpc

from spanwise.errors import (
    InvalidQuery,
    MalformedPayload,
    NotFound,
    PayloadTooLarge,
    PipelineFull,
    RetryableError,
    SpanwiseError,
    UnsupportedContentType,
)

_HTTP_CODES: tuple[tuple[type[SpanwiseError], int], ...] = (
    (PipelineFull, 429),
    (RetryableError, 503),
    (PayloadTooLarge, 413),
    (UnsupportedContentType, 415),
    (NotFound, 404),
    (MalformedPayload, 400),
    (InvalidQuery, 400),
)

_GRPC_CODES: tuple[tuple[type[SpanwiseError], grpc.StatusCode], ...] = (
    (RetryableError, grpc.StatusCode.UNAVAILABLE),
    (PayloadTooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (NotFound, grpc.StatusCode.NOT_FOUND),
)


def http_status(error: SpanwiseError) -> int:
    for kind, code in _HTTP_CODES:
        if isinstance(error, kind):
            return code
    return 400


def grpc_status(error: SpanwiseError) -> grpc.StatusCode:
    for kind, code in _GRPC_CODES:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INVALID_ARGUMENT


def retry_headers(error: SpanwiseError) -> dict[str, str]:
    """`Retry-After` for errors a client should retry."""
    if isinstance(error, RetryableError):
        return {"Retry-After": str(max(1, math.ceil(error.retry_after_seconds)))}
    return {}

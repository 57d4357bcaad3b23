"""One root error type; whether a retry can help is part of the type.

Only `spanwise.serve` and the receivers' edges turn these into HTTP or gRPC status codes
(see `spanwise.serve.status`).
"""

from __future__ import annotations


class SpanwiseError(Exception):
    """Root of every error Spanwise raises on purpose."""


class PermanentError(SpanwiseError):
    """Retrying the same request will fail the same way."""


class RetryableError(SpanwiseError):
    """The request may succeed later; clients should back off and retry."""

    retry_after_seconds: float = 1.0


class MalformedPayload(PermanentError):
    """The body cannot be decoded (bad protobuf, bad JSON, bad gzip)."""


class PayloadTooLarge(PermanentError):
    """The body (compressed or not) exceeds the configured limit."""


class UnsupportedContentType(PermanentError):
    """The content type is not one OTLP/HTTP defines."""


class InvalidQuery(PermanentError):
    """A query parameter is missing or has the wrong form."""


class NotFound(PermanentError):
    """The requested object (trace, prediction, ...) does not exist."""


class StoreRejected(PermanentError):
    """The store refused a write for a reason a retry cannot fix (something in the data
    itself): the ingest log quarantines such a batch instead of retrying it forever."""


class ConfigError(PermanentError):
    """The configuration is invalid; the message says where."""


class PipelineFull(RetryableError):
    """Too much data is waiting to be stored; back-pressure instead of unbounded memory."""


class StoreUnavailable(RetryableError):
    """The store failed to commit or answer (disk full, engine error, shutting down)."""


class QueryLimitExceeded(StoreUnavailable):
    """A read query ran past the store's time or memory limit; narrowing it (shorter
    range, more filters) or retrying when the machine is less busy can help."""

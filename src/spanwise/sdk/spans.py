"""Ending the spans the SDK's context managers open."""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import Span, Status, StatusCode


def end_span(span: Span, token: Any, error: BaseException | None) -> None:
    """Record `error` (if any) as the span's exception and error status, end the span and
    restore the context that was current before it (`token` from `context.attach`)."""
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    span.end()
    if token is not None:
        otel_context.detach(token)

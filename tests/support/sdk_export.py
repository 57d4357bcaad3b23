"""One span through a real OpenTelemetry SDK exporter, with its result: how the auth, OIDC
and TLS tests see what an SDK sees (accepted, refused, unreachable)."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult


def send_one_span(exporter: SpanExporter, service: str) -> SpanExportResult:
    """Export one span of `service` through `exporter` (then shut it down); its result."""
    results: list[SpanExportResult] = []

    class Recording(SimpleSpanProcessor):
        def on_end(self, span: Any) -> None:
            results.append(exporter.export([span]))

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(Recording(exporter))
    with provider.get_tracer("spanwise-tests").start_as_current_span("work"):
        pass
    exporter.shutdown()
    return results[0]

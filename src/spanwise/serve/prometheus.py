"""`GET /metrics`: span metrics in the Prometheus text exposition format 0.0.4.

A small writer instead of a client library: the families are computed per scrape from
the store (`spanwise.query.metrics`), so there is no registry to keep, only text to
write: HELP and TYPE lines, then samples with escaped label values.
"""

from __future__ import annotations

import logging
import math
from typing import Iterable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from spanwise.errors import SpanwiseError
from spanwise.query.metrics import MetricFamily, SpanMetricsService
from spanwise.serve.status import http_status, retry_headers

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render(families: Iterable[MetricFamily]) -> str:
    """The exposition text of `families`, one sample per line."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape(family.help, quote=False)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for sample in family.samples:
            labels = ",".join(f'{name}="{_escape(value, quote=True)}"' for name, value in sample.labels)
            lines.append(f"{sample.name}{{{labels}}} {_number(sample.value)}" if labels else f"{sample.name} {_number(sample.value)}")
    return "\n".join(lines) + "\n" if lines else ""


def metrics_routes(service: SpanMetricsService | None) -> list[Route]:
    """The `/metrics` route, or none when metrics are off."""
    if service is None:
        return []
    metrics = service

    async def scrape(request: Request) -> Response:
        try:
            text = render(await run_in_threadpool(metrics.families))
        except SpanwiseError as exc:
            log.warning("metrics scrape failed: %s", exc)
            return PlainTextResponse(f"{exc}\n", status_code=http_status(exc), headers=retry_headers(exc))
        return Response(text, media_type=CONTENT_TYPE)

    return [Route("/metrics", scrape, include_in_schema=False)]


def _escape(text: str, quote: bool) -> str:
    """Backslash and newline are escaped in HELP text; label values escape `"` too."""
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    return text.replace('"', '\\"') if quote else text


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))

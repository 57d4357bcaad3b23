"""Export health, so that flushing stays bounded when the platform is down.

OpenTelemetry's `BatchSpanProcessor.force_flush` ignores its timeout and exports the whole
queue, each request waiting up to the exporter's timeout, and reports success either way.
`TrackedExporter` remembers how the last export went; `bounded_flush` runs the flush in a
helper thread, waits at most `timeout_s`, and skips flushing while exports are failing.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

#: After a failed export, flushes are skipped this long (the queue still drains in the background).
FAILURE_HOLD_S = 30.0


class TrackedExporter(SpanExporter):
    """Passes spans on; remembers when an export last failed and counts exported spans."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner
        self.failed_at = 0.0
        self.exported = 0
        self.failed = 0

    @property
    def failing(self) -> bool:
        return time.monotonic() - self.failed_at < FAILURE_HOLD_S

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._inner.export(spans)
        except Exception:
            self.failed_at, self.failed = time.monotonic(), self.failed + len(spans)
            raise
        if result is SpanExportResult.SUCCESS:
            self.exported += len(spans)
            self.failed_at = 0.0
        else:
            self.failed_at, self.failed = time.monotonic(), self.failed + len(spans)
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def bounded_flush(flush: Callable[[], Any], tracked: TrackedExporter | None, timeout_s: float) -> bool:
    """Run `flush` for at most `timeout_s`; True when it finished and exports succeed."""
    if tracked is not None and tracked.failing:
        return False
    done = threading.Event()

    def run() -> None:
        try:
            flush()
        finally:
            done.set()

    threading.Thread(target=run, name="spanwise-flush", daemon=True).start()
    finished = done.wait(timeout_s)
    return finished and not (tracked is not None and tracked.failing)

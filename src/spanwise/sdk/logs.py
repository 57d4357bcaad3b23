"""OTLP logs: a logger provider exporting in batches, and a `logging` handler that turns
Python log records into OTLP log records carrying the current span's trace and span ids
(so the trace view shows them under the waterfall).

The handler leaves out records logged by OpenTelemetry itself and by the threads that
export telemetry (the SDK's own diagnostics about a down platform would otherwise be
exported, fail, and be logged again), and its `flush()` is bounded like the SDK's.
"""

from __future__ import annotations

import logging

from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.resources import Resource

from spanwise.sdk.config import SdkConfig
from spanwise.sdk.export import TrackedLogExporter, bounded_flush, otlp_exporter
from spanwise.sdk.redaction import RedactingLogExporter, Redactor

MAX_QUEUE_RECORDS = 10_000
#: Threads whose log records never become OTLP logs: OpenTelemetry's exporting workers
#: and the SDK's own background threads.
EXPORT_THREAD_PREFIXES = ("OtelBatch", "OtelPeriodic", "spanwise-")
#: Where the handler goes: True, "" or "root" for the root logger, a logger's name, or a logger.
HandlerTarget = bool | str | logging.Logger | None


def logger_provider(
    config: SdkConfig, resource: Resource, exporter: LogRecordExporter | None, schedule_delay_s: float,
    redactor: Redactor | None = None,
) -> tuple[LoggerProvider, TrackedLogExporter | None]:
    """A logger provider on `resource`; with logs on, batches go to the OTLP endpoint (or
    `exporter`), through `redactor` when given."""
    provider = LoggerProvider(resource=resource, shutdown_on_exit=False)  # `Spanwise` shuts it down at exit
    if config.disabled or not config.logs:
        return provider, None
    inner = exporter or otlp_exporter(config, "logs")
    tracked = TrackedLogExporter(RedactingLogExporter(inner, redactor) if redactor else inner)
    provider.add_log_record_processor(BatchLogRecordProcessor(
        tracked, schedule_delay_millis=schedule_delay_s * 1000, max_queue_size=MAX_QUEUE_RECORDS,
        export_timeout_millis=config.export_timeout_s * 1000))
    return provider, tracked


class CorrelatedLogHandler(LoggingHandler):
    """OpenTelemetry's logging handler, minus the telemetry pipeline's own records, with
    a flush that waits at most `flush_timeout_s`."""

    def __init__(self, provider: LoggerProvider, tracked: TrackedLogExporter | None, level: int = logging.NOTSET,
                 flush_timeout_s: float = 2.0) -> None:
        super().__init__(level=level, logger_provider=provider)
        self._provider, self._tracked, self._flush_timeout_s = provider, tracked, flush_timeout_s

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("opentelemetry") or (record.threadName or "").startswith(EXPORT_THREAD_PREFIXES):
            # Without handlers, Python prints such warnings (export failures) on stderr;
            # as the root logger's only handler, keep it so.
            if record.levelno >= logging.WARNING and logging.lastResort and logging.getLogger().handlers == [self]:
                logging.lastResort.handle(record)
            return
        super().emit(record)

    def flush(self) -> None:
        bounded_flush(self._provider.force_flush, self._tracked, self._flush_timeout_s)


def attach(target: HandlerTarget, handler: logging.Handler) -> logging.Logger | None:
    """Add `handler` to the logger `target` names; returns that logger (None: no target)."""
    if target is None or target is False:
        return None
    logger = target if isinstance(target, logging.Logger) else logging.getLogger(
        None if target is True or target in ("", "root") else str(target))
    logger.addHandler(handler)
    return logger


def detach(logger: logging.Logger | None, handler: logging.Handler | None) -> None:
    if logger is not None and handler is not None:
        logger.removeHandler(handler)

"""OTLP exporters for the three signals, and export health so that flushing stays
bounded when the platform is down.

OpenTelemetry's batch processors' `force_flush` ignores its timeout and exports the whole
queue, each request waiting up to the exporter's timeout, and reports success either way.
The tracked exporters remember how the last export went; `bounded_flush` runs a flush in a
helper thread, waits at most `timeout_s`, and skips flushing while exports are failing.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Protocol, Sequence

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from spanwise.sdk.config import SdkConfig

log = logging.getLogger(__name__)

#: After a failed export, flushes are skipped this long (the queue still drains in the background).
FAILURE_HOLD_S = 30.0


class Health(Protocol):
    """What `bounded_flush` asks of an exporter: whether exports are failing lately."""

    @property
    def failing(self) -> bool: ...


class _Tracked:
    """Export outcomes of one exporter: items exported and failed, time of the last failure."""

    def __init__(self) -> None:
        self.failed_at = 0.0
        self.exported = 0
        self.failed = 0

    @property
    def failing(self) -> bool:
        return time.monotonic() - self.failed_at < FAILURE_HOLD_S

    def _outcome(self, ok: bool, count: int) -> None:
        if ok:
            self.exported += count
            self.failed_at = 0.0
        else:
            self.failed_at, self.failed = time.monotonic(), self.failed + count

    def _run(self, export: Callable[[], Any], success: Any, count: int) -> Any:
        try:
            result = export()
        except Exception:
            self._outcome(False, count)
            raise
        self._outcome(result is success, count)
        return result


class TrackedExporter(_Tracked, SpanExporter):
    """Passes spans on; remembers when an export last failed and counts exported spans.
    `where` ("<protocol> to <endpoint>") names the target in the one warning logged when
    exports first fail, with the protocol hint a wrong guess needs."""

    def __init__(self, inner: SpanExporter, where: str = "") -> None:
        super().__init__()
        self._inner = inner
        self._where = where
        self._warned = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._run(lambda: self._inner.export(spans), SpanExportResult.SUCCESS, len(spans))
        except Exception:
            self._warn_once()
            raise
        if result is not SpanExportResult.SUCCESS:
            self._warn_once()
        return result  # type: ignore[no-any-return]

    def _warn_once(self) -> None:
        if self._where and not self._warned:
            self._warned = True
            log.warning("spanwise: exporting spans (%s) failed; check the endpoint, and that its protocol is "
                        "the one configured (protocol= or OTEL_EXPORTER_OTLP_PROTOCOL)", self._where)

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class TrackedLogExporter(_Tracked, LogRecordExporter):
    """Passes log records on, tracking export health like `TrackedExporter`."""

    def __init__(self, inner: LogRecordExporter) -> None:
        super().__init__()
        self._inner = inner

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return self._run(lambda: self._inner.export(batch), LogRecordExportResult.SUCCESS, len(batch))  # type: ignore[no-any-return]

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class TrackedMetricExporter(_Tracked, MetricExporter):
    """Passes metrics on (keeping the inner exporter's temporality and aggregation
    preferences), tracking export health like `TrackedExporter`."""

    def __init__(self, inner: MetricExporter) -> None:
        _Tracked.__init__(self)
        MetricExporter.__init__(self, inner._preferred_temporality, inner._preferred_aggregation)
        self._inner = inner

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        count = sum(len(scope.metrics) for resource in metrics_data.resource_metrics
                    for scope in resource.scope_metrics)
        return self._run(  # type: ignore[no-any-return]
            lambda: self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
            MetricExportResult.SUCCESS, count)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)


def bounded_flush(flush: Callable[[], Any], tracked: Health | None, timeout_s: float) -> bool:
    """Run `flush` for at most `timeout_s`; True when it finished and exports succeed."""
    if tracked is not None and tracked.failing:
        return False
    done = threading.Event()

    def run() -> None:
        try:
            flush()
        except Exception:  # OTel's shutdowns raise when a reader failed; the caller goes on
            log.warning("telemetry flush or shutdown failed", exc_info=True)
        finally:
            done.set()

    threading.Thread(target=run, name="spanwise-flush", daemon=True).start()
    finished = done.wait(timeout_s)
    return finished and not (tracked is not None and tracked.failing)


def otlp_exporter(config: SdkConfig, signal: str) -> Any:
    """The OTLP exporter of `signal` (traces, logs, metrics) for the configured protocol,
    endpoint, headers and timeout (each exporter module imported only when used, so
    OTLP/HTTP never imports gRPC)."""
    if config.protocol == "grpc":
        target, insecure = config.grpc_target
        grpc_options: dict[str, Any] = {"endpoint": target, "insecure": insecure, "headers": dict(config.headers),
                        "timeout": config.export_timeout_s}
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans

            return GrpcSpans(**grpc_options)
        if signal == "logs":
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs

            return GrpcLogs(**grpc_options)
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetrics

        return GrpcMetrics(**grpc_options)
    http_options: dict[str, Any] = {"endpoint": config.signal_url(signal), "headers": dict(config.headers),
                    "timeout": config.export_timeout_s}
    if signal == "traces":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans

        return HttpSpans(**http_options)
    if signal == "logs":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs

        return HttpLogs(**http_options)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetrics

    return HttpMetrics(**http_options)

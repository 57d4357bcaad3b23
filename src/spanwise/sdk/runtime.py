"""`Spanwise`: one configured telemetry pipeline (tracer, logger and meter providers with
their OTLP exporters, an optional `logging` handler, the feedback sender) and the SDK's
operations on it. `spanwise.sdk.init()` makes the process-wide one;
several can live side by side (the demo runs one per simulated service).

Never crashes the user's program when the platform is down: spans and logs are exported
from background threads by OpenTelemetry's batch processors (which log and drop on
failure, after `export_timeout_s`), metrics by its periodic reader, feedback from another
thread, and `flush()`/`shutdown()` are bounded by their timeouts.
"""

from __future__ import annotations

import atexit
import logging
import time
from typing import Any, Callable, Mapping, Sequence, TypeVar

from opentelemetry import _logs as otel_logs
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics.export import MetricExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Tracer

from spanwise import __version__
from spanwise.sdk import feature_store, pipelines, predictions, propagation
from spanwise.sdk import logs as logs_module
from spanwise.sdk import metrics as metrics_module
from spanwise.sdk.config import SdkConfig, resolve
from spanwise.sdk.explain import Explainer
from spanwise.sdk.export import Health, TrackedExporter, bounded_flush, otlp_exporter
from spanwise.sdk.feedback import FeedbackSender
from spanwise.sdk.predictions import Prediction
from spanwise.sdk.redaction import RedactingExporter, Redactor
from spanwise.sdk.sklearn import InstrumentedModel
from spanwise.sdk.training import TrainingRun

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

#: Spans the batch processor may hold; batch predictions flush every `pace_rows` rows so
#: a large batch never overflows it (an overflow drops spans, with a warning from OTel).
MAX_QUEUE_SPANS = 50_000
EXPORT_BATCH_SPANS = 2_048


class Spanwise:
    """Tracer, logger and meter providers exporting over OTLP, plus feedback and baseline
    calls to the API.

    `logs` / `metrics` (default on unless `OTEL_LOGS_EXPORTER` / `OTEL_METRICS_EXPORTER`
    is `none`) export OTLP logs and metrics to the same endpoint; `log_handler` (True or
    "root" for the root logger, a logger name, or a logger) attaches a `logging` handler
    there, so records logged inside spans become logs correlated with their trace;
    `log_level` is its level. `exporter`, `log_exporter` and `metric_exporter` replace
    the OTLP exporters (tests). With `tracer_provider` given, the global logger and meter
    providers are used instead of new ones.
    """

    def __init__(
        self, service_name: str | None = None, endpoint: str | None = None, *, protocol: str | None = None,
        api_url: str | None = None, resource_attributes: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None, redactor: Redactor | None = None,
        export_timeout_s: float | None = None, schedule_delay_s: float = 1.0, set_global: bool = False,
        exporter: SpanExporter | None = None, feedback_interval_s: float = 1.0,
        tracer_provider: Any = None, logs: bool | None = None, metrics: bool | None = None,
        log_handler: logs_module.HandlerTarget = None, log_level: int = logging.NOTSET,
        metric_interval_s: float | None = None, log_exporter: LogRecordExporter | None = None,
        metric_exporter: MetricExporter | None = None,
    ) -> None:
        self.config: SdkConfig = resolve(service_name, endpoint, protocol, api_url, headers, export_timeout_s,
                                         logs=logs, metrics=metrics, metric_interval_s=metric_interval_s)
        for note in (self.config.protocol_note if exporter is None else "", self.config.api_url_note):
            if note and not self.config.disabled:
                log.warning("spanwise: %s", note)
        self._owns_provider = tracer_provider is None
        self.exporter: TrackedExporter | None = None
        self.log_exporter: Health | None = None
        self.metric_exporter: Health | None = None
        if tracer_provider is None:
            resource = Resource.create({"service.name": self.config.service_name, "spanwise.sdk.version": __version__,
                                        **dict(resource_attributes or {})})
            self.provider: Any = self._provider(resource, exporter, redactor, schedule_delay_s)
            self.logger_provider: Any
            self.meter_provider: Any
            self.logger_provider, self.log_exporter = logs_module.logger_provider(
                self.config, resource, log_exporter, schedule_delay_s, redactor)
            self.meter_provider, self.metric_exporter = metrics_module.meter_provider(
                self.config, resource, metric_exporter)
        else:
            self.provider = tracer_provider
            self.logger_provider = otel_logs.get_logger_provider()
            self.meter_provider = otel_metrics.get_meter_provider()
        if set_global and self._owns_provider:
            trace.set_tracer_provider(self.provider)
            if self.log_exporter is not None:
                otel_logs.set_logger_provider(self.logger_provider)
            if self.metric_exporter is not None:
                otel_metrics.set_meter_provider(self.meter_provider)
        self.tracer: Tracer = self.provider.get_tracer("spanwise.sdk", __version__)
        self.prediction_metrics = metrics_module.PredictionMetrics(
            self.meter_provider.get_meter("spanwise.sdk", __version__))
        self.log_handler: logging.Handler | None = None
        self._handler_logger: logging.Logger | None = None
        if log_handler not in (None, False) and (self.log_exporter is not None or not self._owns_provider):
            self.log_handler = logs_module.CorrelatedLogHandler(
                self.logger_provider, self.log_exporter, log_level, min(2.0, self.config.export_timeout_s))
            self._handler_logger = logs_module.attach(log_handler, self.log_handler)
        if self._owns_provider:  # before OTel's own exit handlers, whose waits are unbounded
            atexit.register(self._at_exit)
        self.feedback_sender = FeedbackSender(self.config.api_url, interval_s=feedback_interval_s,
                                              timeout_s=min(5.0, self.config.export_timeout_s),
                                              missing_url_note=self.config.api_url_note)
        self.pace_rows = EXPORT_BATCH_SPANS * 4
        self._shut = False

    def _provider(self, resource: Resource, exporter: SpanExporter | None, redactor: Redactor | None,
                  schedule_delay_s: float) -> TracerProvider:
        provider = TracerProvider(resource=resource)
        if not self.config.disabled and (exporter or self.config.traces):
            inner = exporter or otlp_exporter(self.config, "traces")
            where = "" if exporter else f"{self.config.protocol} to {self.config.traces_url if self.config.protocol != 'grpc' else self.config.grpc_target[0]}"
            self.exporter = TrackedExporter(RedactingExporter(inner, redactor) if redactor else inner, where)
            provider.add_span_processor(BatchSpanProcessor(
                self.exporter, max_queue_size=MAX_QUEUE_SPANS,
                max_export_batch_size=EXPORT_BATCH_SPANS, schedule_delay_millis=schedule_delay_s * 1000,
                export_timeout_millis=self.config.export_timeout_s * 1000))
        return provider

    # -- predictions --

    def record_prediction(self, model: str, version: str = "", **fields: Any) -> str:
        """Record a finished prediction (see `predictions.record`); returns its id."""
        return predictions.record(self.tracer, model, version, **fields)

    def prediction(self, model: str, version: str = "", **fields: Any) -> Prediction:
        """A context manager timing a prediction: `with sdk.prediction(...) as p: p.set_output(...)`."""
        return Prediction(self.tracer, model, version, **fields)

    def predicts(self, model: str, version: str = "", features_arg: int | str | None = 0) -> Callable[[F], F]:
        """Decorator: every call of the function is a prediction."""
        return predictions.predicts(lambda: self.tracer, model, version, features_arg)

    def wrap(self, estimator: Any, model: str, version: str = "", *, feature_names: Sequence[str] | None = None,
             explainer: Explainer | None = None, explain_sample_rate: float = 0.1,
             record_proba: bool = True) -> InstrumentedModel:
        """A scikit-learn estimator or pipeline whose predictions are recorded row by row."""
        return InstrumentedModel(self, estimator, model, version, feature_names=feature_names, explainer=explainer,
                                 explain_sample_rate=explain_sample_rate, record_proba=record_proba)

    # -- ground truth, training, pipelines, features --

    def feedback(self, prediction_id: str, label: Any, timestamp: float | None = None) -> None:
        """Queue a ground-truth label (sent in batches from a background thread; never raises)."""
        self.feedback_sender.send(prediction_id, label, timestamp)

    def training_run(self, model: str, version: str = "", **options: Any) -> TrainingRun:
        """A context manager tracing a training run that uploads its data's profile as baseline."""
        return TrainingRun(self.tracer, self.config.api_url, model, version, **options)

    def pipeline_run(self, name: str, **attributes: Any) -> pipelines.PipelineStep:
        """A pipeline run: the root span of a new trace that predictions can link to (`.ref`)."""
        return pipelines.PipelineStep(self.tracer, name, "run", attributes)

    def pipeline_step(self, name: str, **attributes: Any) -> pipelines.PipelineStep:
        """A pipeline step (context manager); `.record(data)` adds rows, schema, nulls."""
        return pipelines.PipelineStep(self.tracer, name, "step", attributes)

    def step(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator form of `pipeline_step` describing the function's input and output."""
        return pipelines.step_decorator(lambda: self.tracer, name)

    def feature_lookup(self, store: str, entity_id: Any, max_age_s: float | None = None) -> feature_store.FeatureLookup:
        """A context manager tracing a feature fetch with values and ages (`.record(...)`)."""
        return feature_store.FeatureLookup(self.tracer, store, entity_id, max_age_s)

    # -- queues --

    def produce(self, name: str, headers: propagation.Headers, **attributes: Any) -> Any:
        """A PRODUCER span whose context is injected into `headers` (use as a context manager)."""
        return _ProducerSpan(self.tracer, name, headers, attributes)

    def consume(self, name: str, headers: propagation.Headers | None, **attributes: Any) -> Any:
        """A CONSUMER span continuing the trace carried by `headers` (a context manager)."""
        return self.tracer.start_as_current_span(name, context=propagation.extract(headers), kind=SpanKind.CONSUMER,
                                                 attributes=attributes)

    # -- lifecycle --

    def pace(self) -> None:
        """Let the exporter catch up during a large batch, so the span queue never
        overflows (skipped while exports fail: a down platform must not slow the caller)."""
        self._force_flush(self.config.export_timeout_s)

    def _force_flush(self, timeout_s: float) -> bool:
        flush = getattr(self.provider, "force_flush", None)
        return bounded_flush(flush, self.exporter, timeout_s) if flush else True

    def _signals(self) -> list[tuple[Any, Health | None]]:
        """The providers this instance exports through, with their exporters' health."""
        if not self._owns_provider:
            return [(self.provider, None)]
        return [(self.provider, self.exporter), (self.logger_provider, self.log_exporter),
                (self.meter_provider, self.metric_exporter)]

    def _flush_all(self, deadline: float) -> bool:
        """Flush spans, logs and metrics (each skipped while its exports fail), one after
        the other, by `deadline` (monotonic)."""
        ok = True
        for provider, health in self._signals():
            flush = getattr(provider, "force_flush", None)
            if flush is not None and (health is not None or provider is self.provider):
                ok = bounded_flush(flush, health, max(0.0, deadline - time.monotonic())) and ok
        return ok

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Export buffered spans, logs and metrics, then deliver queued feedback, within
        about `timeout_s`. True when everything went out."""
        deadline = time.monotonic() + timeout_s
        exported = self._flush_all(deadline)
        feedback_ok = self.feedback_sender.flush(max(0.0, deadline - time.monotonic()))
        return exported and feedback_ok

    def _at_exit(self) -> None:
        self.shutdown(self.config.export_timeout_s + 1.0)

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Flush and stop; the `logging` handler is removed first (safe to call twice).
        Runs at interpreter exit unless called before."""
        if self._shut:
            return
        self._shut = True
        atexit.unregister(self._at_exit)
        deadline = time.monotonic() + timeout_s
        logs_module.detach(self._handler_logger, self.log_handler)
        self._flush_all(deadline)
        self.feedback_sender.shutdown(max(0.5, deadline - time.monotonic()))
        if self._owns_provider:  # bounded: OTel's own shutdown may wait 30 s on a down platform
            for provider, health in self._signals():
                wait = max(0.5, deadline - time.monotonic())
                bounded_flush(provider.shutdown, None, min(wait, 0.5) if health is not None and health.failing else wait)


class _ProducerSpan:
    def __init__(self, tracer: Tracer, name: str, headers: propagation.Headers, attributes: Mapping[str, Any]) -> None:
        self._manager = tracer.start_as_current_span(name, kind=SpanKind.PRODUCER, attributes=attributes)
        self._headers = headers

    def __enter__(self) -> Span:
        span = self._manager.__enter__()
        propagation.inject(self._headers)
        return span

    def __exit__(self, *exc: Any) -> Any:
        return self._manager.__exit__(*exc)

"""SDK logs and metrics on the real OpenTelemetry SDK (in-memory exporters): `logging`
records inside a wrapped model's predict carry its span, the pipeline's own records stay
out, the redactor sees log records, wrapped models count predictions and time calls, and
`OTEL_LOGS_EXPORTER` / `OTEL_METRICS_EXPORTER` turn the signals off."""

from __future__ import annotations

import logging
import threading
from typing import Any, Iterator

import numpy as np
import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from spanwise.sdk import Spanwise, mask_values
from spanwise.sdk.config import resolve

LOGGER = "unit.model"


class Collected(MetricExporter):
    """Keeps every exported batch."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[MetricsData] = []

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        self.batches.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass

    def points(self, name: str) -> list[Any]:
        """The data points of `name` in the latest batch (none when nothing was recorded)."""
        if not self.batches:
            return []
        return [point for resource in self.batches[-1].resource_metrics for scope in resource.scope_metrics
                for metric in scope.metrics if metric.name == name for point in metric.data.data_points]


class LoggingModel:
    """A model that logs while it predicts, and fails on negative input."""

    def predict(self, X: Any) -> Any:
        logging.getLogger(LOGGER).info("scoring %d rows", len(X))
        if np.asarray(X).min() < 0:
            raise ValueError("negative input")
        return np.asarray(X).sum(axis=1)


@pytest.fixture()
def memory() -> Iterator[tuple[Spanwise, InMemorySpanExporter, InMemoryLogRecordExporter, Collected]]:
    spans, logs, metrics = InMemorySpanExporter(), InMemoryLogRecordExporter(), Collected()
    logging.getLogger(LOGGER).setLevel(logging.INFO)
    instance = Spanwise("unit", "http://127.0.0.1:9", exporter=spans, log_exporter=logs, metric_exporter=metrics,
                        log_handler=LOGGER, feedback_interval_s=60, metric_interval_s=3600,
                        redactor=mask_values(r"secret-\w+"))
    yield instance, spans, logs, metrics
    instance.shutdown(1)


def test_logs_inside_a_wrapped_predict_carry_its_span(memory: Any) -> None:
    sw, spans, logs, _ = memory
    model = sw.wrap(LoggingModel(), "summer", "v1", feature_names=["a", "b"])
    model.predict(np.array([[1.0, 2.0], [3.0, 4.0]]))
    model.predict(np.array([[5.0, 6.0]]))
    logging.getLogger(f"opentelemetry.{LOGGER}").warning("the pipeline's own")  # left out
    thread = threading.Thread(target=lambda: logging.getLogger(LOGGER).info("export thread"), name="spanwise-x")
    thread.start()
    thread.join()
    assert sw.flush(5)
    finished = {s.name: s for s in spans.get_finished_spans()}
    batch, single = [record.log_record for record in logs.get_finished_logs()]
    assert (batch.body, single.body) == ("scoring 2 rows", "scoring 1 rows")
    assert (batch.trace_id, batch.span_id) == (finished["predict_batch"].context.trace_id,
                                               finished["predict_batch"].context.span_id)
    row = next(s for s in spans.get_finished_spans() if s.name == "predict" and s.parent is None)
    assert (single.trace_id, single.span_id) == (row.context.trace_id, row.context.span_id)
    assert row.attributes and row.attributes["ml.prediction.value"] == 11.0
    assert single.severity_text == "INFO"
    sw.shutdown(1)
    assert sw.log_handler not in logging.getLogger(LOGGER).handlers


def test_an_estimator_error_ends_the_call_span_as_an_error(memory: Any) -> None:
    sw, spans, logs, metrics = memory
    model = sw.wrap(LoggingModel(), "summer", "v1")
    with pytest.raises(ValueError, match="negative input"):
        model.predict(np.array([[1.0, -2.0]]))
    sw.flush(5)
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR and span.events[0].name == "exception"
    assert [r.log_record.span_id for r in logs.get_finished_logs()] == [span.context.span_id]
    assert not metrics.points("spanwise.predictions")


def test_wrapped_models_count_predictions_and_time_calls(memory: Any) -> None:
    sw, _, _, metrics = memory
    model = sw.wrap(LoggingModel(), "summer", "v1")
    model.predict(np.ones((3, 2)))
    model.predict(np.ones((1, 2)))
    sw.wrap(LoggingModel(), "summer", "v2").predict(np.ones((5, 2)))
    assert sw.flush(5)
    counts = {(dict(p.attributes)["ml.model.name"], dict(p.attributes)["ml.model.version"]): p.value
              for p in metrics.points("spanwise.predictions")}
    assert counts == {("summer", "v1"): 4, ("summer", "v2"): 5}
    latency = {dict(p.attributes)["ml.model.version"]: p for p in metrics.points("spanwise.prediction.latency")}
    assert (latency["v1"].count, latency["v2"].count) == (2, 1) and latency["v1"].sum > 0


def test_the_redactor_sees_log_attributes_and_bodies(memory: Any) -> None:
    sw, _, logs, _ = memory
    logging.getLogger(LOGGER).info("token secret-abc used", extra={"token": "secret-def", "n": 3})
    sw.flush(5)
    (record,) = [r.log_record for r in logs.get_finished_logs()]
    assert record.body == "token [REDACTED] used"
    assert record.attributes and (record.attributes["token"], record.attributes["n"]) == ("[REDACTED]", 3)


def test_environment_turns_logs_and_metrics_off_and_arguments_win() -> None:
    off = {"OTEL_LOGS_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "None", "OTEL_METRIC_EXPORT_INTERVAL": "5000"}
    config = resolve(environ=off)
    assert (config.logs, config.metrics, config.metric_interval_s) == (False, False, 5.0)
    assert resolve(environ={"OTEL_LOGS_EXPORTER": "otlp"}).logs
    assert resolve(environ=off, logs=True, metrics=True).metrics
    sw = Spanwise("off", "http://127.0.0.1:9", logs=False, metrics=False, log_handler=LOGGER,
                  exporter=InMemorySpanExporter())
    assert (sw.log_exporter, sw.metric_exporter, sw.log_handler) == (None, None, None)
    sw.wrap(LoggingModel(), "summer", "v1").predict(np.ones((2, 2)))  # a no-op meter: nothing breaks
    assert sw.flush(2)
    sw.shutdown(1)


@pytest.mark.parametrize(("endpoint", "logs", "traces"), [
    ("http://h:4318", "http://h:4318/v1/logs", "http://h:4318/v1/traces"),
    ("http://h:4318/", "http://h:4318/v1/logs", "http://h:4318/v1/traces"),
    ("http://h:4318/v1/traces", "http://h:4318/v1/logs", "http://h:4318/v1/traces"),
    ("https://h/otlp", "https://h/otlp/v1/logs", "https://h/otlp/v1/traces"),
])
def test_signal_urls(endpoint: str, logs: str, traces: str) -> None:
    config = resolve(endpoint=endpoint, environ={})
    assert (config.signal_url("logs"), config.traces_url) == (logs, traces)
    assert config.signal_url("metrics") == logs.replace("/v1/logs", "/v1/metrics")
    from_env = resolve(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
    assert (from_env.signal_url("logs"), from_env.traces_url) == (logs, traces)


def test_a_traces_endpoint_variable_is_used_exactly() -> None:
    """OTel: signal-specific endpoint variables are full URLs, used as given."""
    config = resolve(environ={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://h/ingest/spans",
                              "OTEL_EXPORTER_OTLP_ENDPOINT": "https://h/otlp"})
    assert (config.traces_url, config.signal_url("logs")) == ("https://h/ingest/spans", "https://h/otlp/v1/logs")
    only = resolve(environ={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://h/otlp/v1/traces"})
    assert (only.traces_url, only.signal_url("metrics")) == ("https://h/otlp/v1/traces", "https://h/otlp/v1/metrics")
    assert resolve(endpoint="http://c:4318", environ={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://x/y"}).traces_url \
        == "http://c:4318/v1/traces"  # an explicit argument wins over the environment


def test_otel_traces_exporter_none_turns_span_export_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert resolve().traces is False
    sw = Spanwise("quiet", "http://127.0.0.1:9", logs=False, metrics=False)
    assert sw.exporter is None  # no OTLP span exporter was built
    assert sw.record_prediction("m", "v1", value=1.0)  # recording still works (spans are just not sent)
    assert sw.flush(2)
    sw.shutdown(1)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    assert resolve().traces is True

"""OTLP metrics: a meter provider read periodically (and on `flush()`), and the few
instruments the SDK records for wrapped models.

Instruments (attributes `ml.model.name`, `ml.model.version`):
- `spanwise.predictions` (counter, `{prediction}`): rows predicted;
- `spanwise.prediction.latency` (histogram, `ms`): duration of each predict call.
"""

from __future__ import annotations

from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from spanwise.core import ml_attributes as ml
from spanwise.sdk.config import SdkConfig
from spanwise.sdk.export import TrackedMetricExporter, otlp_exporter

PREDICTIONS = "spanwise.predictions"
LATENCY = "spanwise.prediction.latency"


def meter_provider(config: SdkConfig, resource: Resource,
                   exporter: MetricExporter | None) -> tuple[MeterProvider, TrackedMetricExporter | None]:
    """A meter provider on `resource`; with metrics on, read every `metric_interval_s`
    and exported to the OTLP endpoint (or `exporter`). `Spanwise` shuts it down at exit."""
    if config.disabled or not config.metrics:
        return MeterProvider(resource=resource, shutdown_on_exit=False), None
    tracked = TrackedMetricExporter(exporter or otlp_exporter(config, "metrics"))
    reader = PeriodicExportingMetricReader(tracked, export_interval_millis=config.metric_interval_s * 1000,
                                           export_timeout_millis=config.export_timeout_s * 1000)
    return MeterProvider(resource=resource, metric_readers=[reader], shutdown_on_exit=False), tracked


class PredictionMetrics:
    """The SDK's instruments on one meter."""

    def __init__(self, meter: Meter) -> None:
        self._predictions = meter.create_counter(
            PREDICTIONS, unit="{prediction}", description="Predictions made by wrapped models, one per row")
        self._latency = meter.create_histogram(
            LATENCY, unit="ms", description="Duration of a wrapped model's predict call")

    def record(self, model: str, version: str, rows: int, seconds: float) -> None:
        """One predict call of `rows` rows that took `seconds`."""
        attributes = {ml.MODEL_NAME: model, ml.MODEL_VERSION: version}
        self._predictions.add(rows, attributes)
        self._latency.record(seconds * 1000, attributes)

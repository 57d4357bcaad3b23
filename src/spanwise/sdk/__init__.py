"""Spanwise SDK: instrument a model in one line, on top of OpenTelemetry.

    from spanwise import sdk
    sdk.init(service_name="churn-api", endpoint="http://localhost:4318")
    model = sdk.wrap(trained_classifier, "churn", version="v2")   # predict() records every row
    y = model.predict(X); ids = model.last_prediction_ids
    sdk.feedback(ids[0], "churned")                                # ground truth, later

Imports only OpenTelemetry (API, SDK, exporters, logging handler) and the standard library: none of the server's
dependencies. The module-level functions act on the instance `init()` made; without
`init()` they fall back to an instance on the global tracer provider (so an application
that configured OpenTelemetry itself still gets the ml attributes) with settings from the
environment.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

from opentelemetry import trace

from spanwise.sdk.explain import shap_explainer
from spanwise.sdk.pipelines import LineageRef, current_lineage
from spanwise.sdk.predictions import last_prediction_id
from spanwise.sdk.propagation import extract, inject
from spanwise.sdk.redaction import chain, drop_keys, mask_values
from spanwise.sdk.runtime import Spanwise

__all__ = [
    "Spanwise", "LineageRef", "init", "get", "record_prediction", "prediction", "predicts", "wrap", "feedback",
    "training_run", "pipeline_run", "pipeline_step", "step", "feature_lookup", "produce", "consume", "inject",
    "extract", "flush", "shutdown", "last_prediction_id", "current_lineage", "shap_explainer", "drop_keys",
    "mask_values", "chain",
]

F = TypeVar("F", bound=Callable[..., Any])
_default: Spanwise | None = None
_lock = threading.Lock()


def init(service_name: str | None = None, endpoint: str | None = None, **options: Any) -> Spanwise:
    """Configure tracing, OTLP logs and metrics for this process (the global tracer, logger
    and meter providers) and return the SDK instance. Options: protocol ("grpc" |
    "http/protobuf"), api_url, resource_attributes, headers, redactor, export_timeout_s,
    schedule_delay_s, logs / metrics (default on), log_handler (True or a logger name:
    `logging` records there become OTLP logs correlated with the current span), log_level,
    metric_interval_s. The protocol is never guessed from a custom port (only 4317 means
    gRPC when none is given), and api_url is needed when the endpoint is not on 4317/4318.
    Arguments win over the OTel environment variables
    (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT/PROTOCOL/HEADERS, OTEL_RESOURCE_ATTRIBUTES,
    OTEL_SDK_DISABLED, OTEL_LOGS_EXPORTER / OTEL_METRICS_EXPORTER=none,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_METRIC_EXPORT_INTERVAL) and SPANWISE_API_URL."""
    global _default
    with _lock:
        if _default is not None:
            _default.shutdown(timeout_s=2.0)
        _default = Spanwise(service_name, endpoint, set_global=_default is None, **options)
        return _default


def get() -> Spanwise:
    """The instance `init()` made, else one on the global tracer provider (spans go
    wherever the application configured OpenTelemetry to send them)."""
    global _default
    with _lock:
        if _default is None:
            _default = Spanwise(tracer_provider=trace.get_tracer_provider())
        return _default


def record_prediction(model: str, version: str = "", **fields: Any) -> str:
    return get().record_prediction(model, version, **fields)


def prediction(model: str, version: str = "", **fields: Any) -> Any:
    return get().prediction(model, version, **fields)


def predicts(model: str, version: str = "", features_arg: int | str | None = 0) -> Callable[[F], F]:
    return get().predicts(model, version, features_arg)


def wrap(estimator: Any, model: str, version: str = "", **options: Any) -> Any:
    return get().wrap(estimator, model, version, **options)


def feedback(prediction_id: str, label: Any, timestamp: float | None = None) -> None:
    get().feedback(prediction_id, label, timestamp)


def training_run(model: str, version: str = "", **options: Any) -> Any:
    return get().training_run(model, version, **options)


def pipeline_run(name: str, **attributes: Any) -> Any:
    return get().pipeline_run(name, **attributes)


def pipeline_step(name: str, **attributes: Any) -> Any:
    return get().pipeline_step(name, **attributes)


def step(name: str | None = None) -> Callable[[F], F]:
    return get().step(name)


def feature_lookup(store: str, entity_id: Any, max_age_s: float | None = None) -> Any:
    return get().feature_lookup(store, entity_id, max_age_s)


def produce(name: str, headers: Any, **attributes: Any) -> Any:
    return get().produce(name, headers, **attributes)


def consume(name: str, headers: Any, **attributes: Any) -> Any:
    return get().consume(name, headers, **attributes)


def flush(timeout_s: float = 10.0) -> bool:
    return get().flush(timeout_s)


def shutdown(timeout_s: float = 10.0) -> None:
    global _default
    with _lock:
        if _default is not None:
            _default.shutdown(timeout_s)
            _default = None

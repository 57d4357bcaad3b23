"""The composition root: every service built once, in one place, from one Config and one
store, and the running components in one lifecycle list.

Routes and background jobs read through `Services`, never the store; what runs (the store,
the ingest log, the forwarder, the tail decider, the feedback resolver, the signal
scheduler, the alert engine, auth's key refresh) is started through `Lifecycle`, which
shuts it down in reverse order, each once, also when a later start failed, so a bad
start never leaves a thread keeping the process alive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Protocol, TypeVar

from spanwise.analyze.drift import DriftService
from spanwise.analyze.erasure import ErasureService
from spanwise.analyze.labelled import LabelledService
from spanwise.analyze.model_analytics import ModelAnalyticsService
from spanwise.analyze.models import ModelService
from spanwise.analyze.performance_estimation import PerformanceEstimationService
from spanwise.analyze.model_signals import ModelSignalService
from spanwise.alerts.engine import AlertEngine
from spanwise.alerts.sources import Sources
from spanwise.config import Config
from spanwise.process.redaction import HashedSearch
from spanwise.query.custom_metrics import CustomMetricQueries
from spanwise.query.logs import LogQueryService
from spanwise.query.metrics import SpanMetricsService, metrics_service
from spanwise.query.otlp_metrics import OtlpMetricService
from spanwise.query.service import QueryService
from spanwise.query.span_groups import SpanGroupQueries
from spanwise.request_context import DEFAULT_PROJECT
from spanwise.store import Store

log = logging.getLogger(__name__)


class Component(Protocol):
    """Something that runs: `start` and `shutdown` are each safe to call twice."""

    def start(self) -> None: ...

    def shutdown(self) -> None: ...


C = TypeVar("C", bound=Component)


class Lifecycle:
    """Components in the order they started; `shutdown` stops them in reverse."""

    def __init__(self) -> None:
        self._running: list[Component] = []

    def start(self, component: C) -> C:
        component.start()
        self._running.append(component)
        return component

    def shutdown(self) -> None:
        """Stop every started component, last first; one failing does not keep the rest running."""
        while self._running:
            component = self._running.pop()
            try:
                component.shutdown()
            except Exception:  # noqa: BLE001 - shutting down must reach the store
                log.exception("shutting down %s failed", type(component).__name__)


@dataclass(frozen=True)
class Services:
    """The query and analysis services over the store, each built once."""

    queries: QueryService
    span_metrics: SpanMetricsService | None
    models: ModelService
    analytics: ModelAnalyticsService
    drift: DriftService
    labelled: LabelledService
    estimator: PerformanceEstimationService
    signals: ModelSignalService
    logs: LogQueryService
    otlp_metrics: OtlpMetricService
    erasure: ErasureService


def build_services(config: Config, store: Store) -> Services:
    models = ModelService(store)
    analytics = ModelAnalyticsService(store)
    drift = DriftService(store)
    estimator = PerformanceEstimationService(store, models)
    hashed = HashedSearch.from_config(config)
    return Services(
        queries=QueryService(store, hashed, config.server.max_trace_spans),
        span_metrics=metrics_service(store, config.metrics.spec()),
        models=models,
        analytics=analytics,
        drift=drift,
        labelled=LabelledService(store),
        estimator=estimator,
        signals=ModelSignalService(models, drift, analytics, store, estimator),
        logs=LogQueryService(store),
        otlp_metrics=OtlpMetricService(store),
        erasure=ErasureService(store, hashed, _projects(config, store)),
    )


def _projects(config: Config, store: Store) -> Callable[[], list[str]]:
    """The projects that exist: with auth, those in the store's project table (which
    `serve.auth.Authority` writes through to); without, only the default project."""
    if config.auth.enabled:
        return lambda: [p.name for p in store.auth_projects()]
    return lambda: [DEFAULT_PROJECT]


def build_alert_engine(config: Config, store: Store, services: Services) -> AlertEngine:
    """The alert engine (not started): its state in the store, its samples read through the services."""
    spec = config.metrics.spec()
    sources = Sources(services.queries, services.models, services.signals, services.logs, store,
                      span_groups=SpanGroupQueries(store, spec.dimensions) if spec.enabled else None,
                      otlp=services.otlp_metrics, custom=CustomMetricQueries(store, spec.custom) if spec.enabled else None)
    return AlertEngine(config.alerts, store, sources)

"""The running platform: store, ingest pipeline and the three listeners in one process.

One process owns the store directory (chDB's rule), so receivers, the query API and the
writer thread live together: OTLP/gRPC on :4317, OTLP/HTTP on :4318, query API and UI
on :16686. SIGTERM or SIGINT stops the listeners, drains every accepted request into
the store, closes it and returns normally (exit status 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
from dataclasses import dataclass
from typing import Any, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

from spanwise.config import Config
from spanwise.errors import ConfigError
from spanwise.analyze.drift import DriftService
from spanwise.analyze.feedback import PendingFeedbackResolver
from spanwise.analyze.labelled import LabelledService
from spanwise.analyze.model_analytics import ModelAnalyticsService
from spanwise.analyze.models import ModelService
from spanwise.analyze.performance_estimation import PerformanceEstimator
from spanwise.analyze.signals import SignalComputer, SignalScheduler
from spanwise.process.factory import Pipelines, build_pipelines
from spanwise.process.forward import ForwardProcessor
from spanwise.process.redaction import HashedSearch
from spanwise.process.tail_sampling import TailDecider
from spanwise.query.metrics import metrics_service
from spanwise.query.logs import LogQueryService
from spanwise.query.otlp_metrics import OtlpMetricQueries
from spanwise.query.service import QueryService
from spanwise.receive.ingest import IngestService
from spanwise.receive.logs_ingest import LogIngestService
from spanwise.receive.metrics_ingest import MetricIngestService
from spanwise.receive.signals import OtlpSignal, logs_signal, metrics_signal, traces_signal
from spanwise.serve.access import RouteTable, check_exposure
from spanwise.serve.auth_wiring import AuthParts, auth_middleware, auth_routes, build_auth
from spanwise.serve.alerts_api import AlertEngine, alerts_routes, build_alert_engine
from spanwise.serve.body import InflightBytes
from spanwise.serve.host_check import request_guard
from spanwise.serve.jaeger_api import jaeger_routes
from spanwise.serve.drift_api import drift_routes
from spanwise.serve.estimation_api import estimation_routes
from spanwise.serve.ingest_api import ingest_routes
from spanwise.serve.labelled_api import labelled_routes
from spanwise.serve.logs_api import logs_routes
from spanwise.serve.otlp_metrics_api import otlp_metrics_routes
from spanwise.serve.model_analytics_api import model_analytics_routes
from spanwise.serve.models_api import model_routes
from spanwise.serve.native_api import native_routes
from spanwise.serve.otlp_grpc import otlp_grpc_server
from spanwise.serve.otlp_http import otlp_http_app
from spanwise.serve.request_scope import RequestScope
from spanwise.request_context import SYSTEM, acting
from spanwise.serve.signals_api import signals_routes
from spanwise.serve.prometheus import metrics_routes
from spanwise.serve.ui import ui_routes
from spanwise.store import open_store
from spanwise.store.query_limits import QueryLimits
from spanwise.store.api import (
    BaselineStore,
    DriftReader,
    FeedbackWriter,
    LogStore,
    OtlpMetricStore,
    ModelReader,
    SignalStore,
    TailSamplingStore,
    TraceStore,
)
from spanwise.store.analytics_api import ModelAnalyticsReader
from spanwise.store.ingest_log import IngestLog
from spanwise.store.labelled_api import ConceptDriftReader, PendingFeedbackStore, PredictionExporter, ScoreReader

log = logging.getLogger(__name__)
GRACE_SECONDS = 10.0


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runtime owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(host: str, port: int, what: str) -> socket.socket:
    """A listening TCP socket, or a one-line ConfigError naming the taken port."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen for {what} on {host}:{port}: {exc.strerror} (is another server running?)") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def check_data_dir(path: str) -> None:
    """Fail early, in one line, when the data directory cannot be created or written."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".spanwise-write-test")
        with open(probe, "w", encoding="utf-8") as handle:
            handle.write("ok")
        os.remove(probe)
    except OSError as exc:
        raise ConfigError(f"data directory {path} is not writable: {exc.strerror}") from exc


@dataclass
class _Components:
    """Everything behind the listeners; `shutdown` stops them in the safe order."""

    store: TraceStore
    committer: IngestLog
    pipelines: Pipelines
    forwarder: ForwardProcessor | None
    decider: TailDecider | None
    ingest: IngestService
    logs: LogIngestService | None = None
    metrics: MetricIngestService | None = None
    scheduler: SignalScheduler | None = None
    resolver: PendingFeedbackResolver | None = None
    alerts: AlertEngine | None = None
    auth: AuthParts | None = None

    def otlp_signals(self) -> list[OtlpSignal]:
        """What the OTLP receivers accept: traces, and logs and metrics when the store keeps them."""
        signals = [traces_signal(self.ingest)]
        if self.logs:
            signals.append(logs_signal(self.logs))
        if self.metrics:
            signals.append(metrics_signal(self.metrics))
        return signals

    def status(self) -> dict[str, Any]:
        """Counters for /api/v1/status."""
        return {
            "ingest": dict(self.ingest.stats) | dict(self.logs.stats if self.logs else {})
            | dict(self.metrics.stats if self.metrics else {}),
            "processors": self.pipelines.traces.all_stats(),
            "log_processors": self.pipelines.logs.all_stats(),
            "metric_processors": self.pipelines.metrics.all_stats(),
            "tail_sampling": dict(self.decider.stats) if self.decider else {},
            "model_signals": dict(self.scheduler.stats) if self.scheduler else {},
            "flushed_rows": self.committer.flushed_rows,
            "pending_rows": self.committer.pending_rows,
            "replayed_rows": self.committer.replayed_rows,
            "pending_bytes": self.committer.pending_bytes,
            "quarantine": dataclasses.asdict(self.committer.quarantined),
            "feedback": self.resolver.status() if self.resolver else {},
            "alerts": self.alerts.status() if self.alerts else {},
        }

    def shutdown(self) -> None:
        """After the receivers stopped: forward what is queued, store everything
        acknowledged, stop deciding, close the store."""
        if self.forwarder:
            self.forwarder.shutdown()
        self.committer.shutdown()
        if self.decider:
            self.decider.shutdown()
        if self.scheduler:
            self.scheduler.shutdown()
        if self.resolver:
            self.resolver.shutdown()
        if self.alerts:
            self.alerts.shutdown()
        self.store.shutdown()


class SpanwiseServer:
    """Builds every component from one Config and runs them until told to stop."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        server = self.config.server
        check_exposure(self.config)
        http_sock = bind_socket(server.host, server.http_port, "OTLP/HTTP")
        query_sock = bind_socket(server.host, server.query_port, "the query API")
        bind_socket(server.host, server.grpc_port, "OTLP/gRPC").close()
        with acting(SYSTEM):  # start-up reads (replay, auth, alert state) span every project
            parts = self._start_components()
        inflight = InflightBytes(server.inflight_limit)
        authority = parts.auth.authority if parts.auth else None
        grpc_server = otlp_grpc_server(parts.otlp_signals(), server.max_body_bytes, inflight, authority)
        if grpc_server.add_insecure_port(f"{server.host}:{server.grpc_port}") == 0:
            raise ConfigError(f"cannot listen for OTLP/gRPC on {server.host}:{server.grpc_port}")
        servers = [
            (self._uvicorn(otlp_http_app(parts.otlp_signals(), server.max_body_bytes, inflight, authority)), http_sock),
            (self._uvicorn(self._query_app(parts)), query_sock),
        ]
        await grpc_server.start()
        tasks = [asyncio.create_task(uv.serve(sockets=[sock])) for uv, sock in servers]
        self._install_signal_handlers()
        log.info(
            "Spanwise listening: OTLP/gRPC :%d, OTLP/HTTP :%d, query :%d; store %s",
            server.grpc_port, server.http_port, server.query_port, server.store_url,
        )
        await self._stop.wait()
        log.info("stopping: draining accepted data")
        for uv, _ in servers:
            uv.should_exit = True
        await grpc_server.stop(GRACE_SECONDS)
        await asyncio.gather(*tasks, return_exceptions=True)
        with acting(SYSTEM):
            parts.shutdown()
        log.info("stopped cleanly")

    def _start_components(self) -> "_Components":
        """Open the store and start everything behind the listeners, in dependency order."""
        server, ingest_cfg = self.config.server, self.config.ingest
        if server.store_url.startswith("chdb://"):
            check_data_dir(os.path.abspath(server.data_dir if not server.store else server.store_url[7:]))
        store_config = self.config.store
        limits = QueryLimits(store_config.query_timeout_s, store_config.query_max_memory_mb)
        store = open_store(server.store_url, store_config.retention_days or None, self.config.metrics.spec(), limits,
                           fsync=ingest_cfg.fsync)
        store.start()
        committer = IngestLog(
            os.path.join(os.path.abspath(server.data_dir), "ingest-log"),
            store,
            flush_interval_s=ingest_cfg.flush_interval_ms / 1000,
            flush_rows=ingest_cfg.flush_rows,
            max_pending_rows=ingest_cfg.max_pending_rows,
            max_pending_bytes=ingest_cfg.max_pending_bytes,
            fsync=ingest_cfg.fsync,
        )
        committer.start()
        pipelines = build_pipelines(self.config)
        forwarder = next((p for p in pipelines.traces.processors if isinstance(p, ForwardProcessor)), None)
        if forwarder:
            forwarder.start()
        decider = self._tail_decider(store)
        window = ingest_cfg.time_window
        logs = LogIngestService(store, pipelines.logs, window) if isinstance(store, LogStore) else None
        metrics = MetricIngestService(store, pipelines.metrics, window) if isinstance(store, OtlpMetricStore) else None
        ingest = IngestService(pipelines.traces, committer, window)
        resolver = None
        if isinstance(store, FeedbackWriter) and isinstance(store, PendingFeedbackStore):
            resolver = PendingFeedbackResolver(store, self.config.models.feedback_expiry_s)
            resolver.start()
        return _Components(store, committer, pipelines, forwarder, decider, ingest, logs, metrics, resolver=resolver,
                           alerts=build_alert_engine(self.config, store),
                           auth=build_auth(self.config, store) if self.config.auth.enabled else None)

    def _query_app(self, parts: "_Components") -> Starlette:
        """Port 16686: the Jaeger API, the native API, Prometheus metrics and the web UI."""
        queries = QueryService(parts.store, HashedSearch.from_config(self.config), self.config.server.max_trace_spans)
        metrics = metrics_service(parts.store, self.config.metrics.spec())
        store = parts.store
        has_models = isinstance(store, ModelReader) and isinstance(store, FeedbackWriter)
        models = model_routes(ModelService(store)) if has_models else []  # type: ignore[arg-type]
        if has_models and isinstance(store, ModelAnalyticsReader):
            models += model_analytics_routes(ModelAnalyticsService(store))  # type: ignore[arg-type]
        if has_models and isinstance(store, ScoreReader):
            models += estimation_routes(PerformanceEstimator(store, ModelService(store)))  # type: ignore[arg-type]
        if has_models and isinstance(store, ConceptDriftReader) and isinstance(store, PredictionExporter):
            models += labelled_routes(LabelledService(store))  # type: ignore[arg-type]
        if isinstance(store, DriftReader) and isinstance(store, BaselineStore):
            models += drift_routes(DriftService(store))  # type: ignore[arg-type]
            if has_models and isinstance(store, ModelAnalyticsReader) and isinstance(store, SignalStore):
                models += self._signals(parts, store)
        if isinstance(store, LogStore):
            models += logs_routes(LogQueryService(store))
        if isinstance(store, OtlpMetricStore):
            models += otlp_metrics_routes(OtlpMetricQueries(store))
        models += ingest_routes(parts.committer.requeue_quarantined)
        models += alerts_routes(parts.alerts) if parts.alerts else []
        models += auth_routes(parts.auth, lambda: table)
        routes = jaeger_routes(queries) + native_routes(queries, parts.status, models) + models + metrics_routes(metrics)
        table = RouteTable(routes + ui_routes())
        # gzip: the UI's charting library is ~1.1 MB, ~0.35 MB compressed; API JSON shrinks too.
        return Starlette(routes=routes + ui_routes(), middleware=[
            request_guard(self.config.server), *auth_middleware(parts.auth, table), Middleware(RequestScope),
            Middleware(GZipMiddleware, minimum_size=1024),
        ])

    def _signals(self, parts: "_Components", store: Any) -> list[Any]:
        """Scheduled model signals: start the scheduler, serve the stored series."""
        model_service = ModelService(store)
        estimator = PerformanceEstimator(store, model_service) if isinstance(store, ScoreReader) else None
        computer = SignalComputer(model_service, DriftService(store), ModelAnalyticsService(store), store, estimator)
        parts.scheduler = SignalScheduler(computer, model_service, self.config.models, store.data_projects)
        parts.scheduler.start()
        return signals_routes(store, computer)

    def _tail_decider(self, store: object) -> TailDecider | None:
        """Start deciding pending traces when tail sampling is configured."""
        settings = self.config.sampling.tail
        if not settings.enabled:
            return None
        if not isinstance(store, TailSamplingStore):
            raise ConfigError("this store backend does not support tail sampling")
        store.tail_sampling = True
        decider = TailDecider(store, settings)
        decider.start()
        return decider

    def _uvicorn(self, app: Starlette) -> uvicorn.Server:
        config = uvicorn.Config(
            app,
            log_level=self.config.server.log_level.lower(),
            access_log=False,
            lifespan="off",
            http="httptools",
            timeout_graceful_shutdown=int(GRACE_SECONDS),
        )
        return _QuietServer(config)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)

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
import ssl
from dataclasses import dataclass
from typing import Any, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

from spanwise.config import Config
from spanwise.errors import ConfigError
from spanwise.analyze.feedback import PendingFeedbackResolver, ResolverStatus
from spanwise.analyze.model_signals import ModelSignalScheduler
from spanwise.process.factory import Pipelines, build_pipelines
from spanwise.process.forward import ForwardProcessor
from spanwise.process.tail_sampling import TailDecider
from spanwise.receive.ingest import IngestService
from spanwise.receive.logs_ingest import LogIngestService
from spanwise.receive.metrics_ingest import MetricIngestService
from spanwise.receive.signals import OtlpSignal, logs_signal, metrics_signal, traces_signal
from spanwise.serve.access import RouteTable, check_exposure
from spanwise.serve.auth_wiring import AuthParts, auth_middleware, auth_routes, build_auth, check_auth
from spanwise.serve.alerts_api import AlertEngine, alerts_routes
from spanwise.serve.body import InflightBytes
from spanwise.serve.components import Lifecycle, Services, build_alert_engine, build_services
from spanwise.serve.host_check import request_guard
from spanwise.serve.jaeger_api import jaeger_routes
from spanwise.serve.drift_api import drift_routes
from spanwise.serve.erasure_api import compliance_routes
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
from spanwise.serve.model_signals_api import model_signals_routes
from spanwise.serve.tls import server_tls
from spanwise.serve.prometheus import metrics_routes
from spanwise.serve.ui import ui_routes
from spanwise.store import check_writable, open_store
from spanwise.store.clickhouse.query_limits import QueryLimits
from spanwise.store.ingest_log import IngestLog

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


@dataclass
class _Components:
    """Everything behind the listeners, built once; `lifecycle` stops what runs, in reverse."""

    services: Services
    lifecycle: Lifecycle
    committer: IngestLog
    pipelines: Pipelines
    ingest: IngestService
    logs: LogIngestService
    metrics: MetricIngestService
    decider: TailDecider | None = None
    scheduler: ModelSignalScheduler | None = None
    resolver: PendingFeedbackResolver | None = None
    alerts: AlertEngine | None = None
    auth: AuthParts | None = None

    def otlp_signals(self) -> list[OtlpSignal]:
        """What the OTLP receivers accept: traces, logs and metrics."""
        return [traces_signal(self.ingest), logs_signal(self.logs), metrics_signal(self.metrics)]

    def status(self) -> dict[str, Any]:
        """Counters for /api/v1/status."""
        return {
            "ingest": dict(self.ingest.stats) | dict(self.logs.stats) | dict(self.metrics.stats),
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
            "feedback": _feedback_json(self.resolver.status()) if self.resolver else {},
            "alerts": self.alerts.status() if self.alerts else {},
        }


def _feedback_json(s: ResolverStatus) -> dict[str, Any]:
    return {"pending": s.pending, "oldest_pending_age_s": s.oldest_pending_age_s, **s.counters}


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
        check_auth(self.config)
        tls = server_tls(self.config.tls)
        http_sock = bind_socket(server.host, server.http_port, "OTLP/HTTP")
        query_sock = bind_socket(server.host, server.query_port, "the query API")
        bind_socket(server.host, server.grpc_port, "OTLP/gRPC").close()
        with acting(SYSTEM):  # start-up reads (replay, auth, alert state) span every project
            parts = self._start_components()
        inflight = InflightBytes(server.inflight_limit)
        authority = parts.auth.authority if parts.auth else None
        grpc_server = otlp_grpc_server(parts.otlp_signals(), server.max_body_bytes, inflight, authority)
        grpc_address = f"{server.host}:{server.grpc_port}"
        if (grpc_server.add_secure_port(grpc_address, tls.grpc_credentials()) if tls
                else grpc_server.add_insecure_port(grpc_address)) == 0:
            raise ConfigError(f"cannot listen for OTLP/gRPC on {server.host}:{server.grpc_port}")
        servers = [
            (self._uvicorn(otlp_http_app(parts.otlp_signals(), server.max_body_bytes, inflight, authority),
                           tls.ingest_context if tls else None), http_sock),
            (self._uvicorn(self._query_app(parts), tls.query_context if tls else None), query_sock),
        ]
        await grpc_server.start()
        if tls:
            tls.start()
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
        if tls:
            tls.shutdown()
        with acting(SYSTEM):
            parts.lifecycle.shutdown()
        log.info("stopped cleanly")

    def _start_components(self) -> _Components:
        """Open the store and start everything behind the listeners, in dependency order;
        if any start fails, what already runs is stopped (in reverse) before the error goes on."""
        lifecycle = Lifecycle()
        try:
            return self._build(lifecycle)
        except BaseException:
            lifecycle.shutdown()
            raise

    def _build(self, lifecycle: Lifecycle) -> _Components:
        config, server, ingest_cfg = self.config, self.config.server, self.config.ingest
        check_writable(os.path.abspath(server.data_dir))
        limits = QueryLimits(config.store.query_timeout_s, config.store.query_max_memory_mb)
        store = lifecycle.start(open_store(
            server.store_url, config.store.retention_days or None, config.metrics.spec(), limits,
            fsync=ingest_cfg.fsync, tail_sampling=config.sampling.tail.enabled,
        ))
        store.apply_retention(config.retention_policy())
        services = build_services(config, store)
        committer = lifecycle.start(IngestLog(
            os.path.join(os.path.abspath(server.data_dir), "ingest-log"), store,
            flush_interval_s=ingest_cfg.flush_interval_ms / 1000, flush_rows=ingest_cfg.flush_rows,
            max_pending_rows=ingest_cfg.max_pending_rows, max_pending_bytes=ingest_cfg.max_pending_bytes,
            fsync=ingest_cfg.fsync,
        ))
        pipelines = build_pipelines(config)
        for forwarder in [p for p in pipelines.traces.processors if isinstance(p, ForwardProcessor)]:
            lifecycle.start(forwarder)
        window = ingest_cfg.time_window
        parts = _Components(
            services, lifecycle, committer, pipelines, IngestService(pipelines.traces, committer, window),
            LogIngestService(store, pipelines.logs, window), MetricIngestService(store, pipelines.metrics, window),
        )
        if config.sampling.tail.enabled:
            parts.decider = lifecycle.start(TailDecider(store, config.sampling.tail))
        parts.resolver = lifecycle.start(PendingFeedbackResolver(store, config.models.feedback_expiry_s))
        if config.alerts.enabled:
            parts.alerts = lifecycle.start(build_alert_engine(config, store, services))
        if config.auth.enabled:
            parts.auth = lifecycle.start(build_auth(config, store))
        parts.scheduler = lifecycle.start(
            ModelSignalScheduler(services.signals, services.models, config.models, store.data_projects))
        return parts

    def _query_app(self, parts: _Components) -> Starlette:
        """Port 16686: the Jaeger API, the native API, Prometheus metrics and the web UI."""
        services = parts.services
        areas = (
            model_routes(services.models) + model_analytics_routes(services.analytics)
            + estimation_routes(services.estimator) + labelled_routes(services.labelled) + drift_routes(services.drift)
            + model_signals_routes(services.signals) + logs_routes(services.logs) + otlp_metrics_routes(services.otlp_metrics)
            + ingest_routes(parts.committer.requeue_quarantined)
            + (alerts_routes(parts.alerts) if parts.alerts else [])
            + auth_routes(parts.auth, lambda: table)
            + compliance_routes(self.config, services.erasure, parts.auth.audit if parts.auth else None)
        )
        routes = (jaeger_routes(services.queries) + native_routes(services.queries, parts.status, areas) + areas
                  + metrics_routes(services.span_metrics))
        table = RouteTable(routes + ui_routes())
        # gzip: the UI's charting library is ~1.1 MB, ~0.35 MB compressed; API JSON shrinks too.
        return Starlette(routes=routes + ui_routes(), middleware=[
            request_guard(self.config.server), *auth_middleware(parts.auth, table),
            Middleware(RequestScope, authority=parts.auth.authority if parts.auth else None),
            Middleware(GZipMiddleware, minimum_size=1024),
        ])

    def _uvicorn(self, app: Starlette, tls: ssl.SSLContext | None = None) -> uvicorn.Server:
        config = uvicorn.Config(
            app,
            log_level=self.config.server.log_level.lower(),
            access_log=False,
            lifespan="off",
            http="httptools",
            timeout_graceful_shutdown=int(GRACE_SECONDS),
            ssl_context_factory=(lambda _config, _default: tls) if tls else None,
        )
        return _QuietServer(config)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)

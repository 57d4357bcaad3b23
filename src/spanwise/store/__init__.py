"""Trace storage: backends chosen by URL behind the Protocols in `store.api`."""

from __future__ import annotations

from urllib.parse import urlparse

import os
from typing import Protocol

from spanwise.errors import ConfigError
from spanwise.model.metrics import MetricsSpec
from spanwise.store.alerts_api import AlertStore, SpanWindowReader
from spanwise.store.analytics_api import ModelAnalyticsReader
from spanwise.store.api import (
    BaselineStore,
    DriftReader,
    FeedbackWriter,
    LogStore,
    MetricsReader,
    ModelReader,
    OtlpMetricStore,
    SignalStore,
    TailSamplingStore,
    TraceStore,
)
from spanwise.store.compliance_api import RetentionStore, SubjectEraser
from spanwise.store.labelled_api import ConceptDriftReader, PendingFeedbackStore, PredictionExporter, ScoreReader
from spanwise.store.query_limits import QueryLimits
from spanwise.store.sql_tokens import TokenStore


class Store(
    TraceStore, MetricsReader, TailSamplingStore, ModelReader, FeedbackWriter, PendingFeedbackStore, DriftReader,
    BaselineStore, SignalStore, LogStore, OtlpMetricStore, ModelAnalyticsReader, ConceptDriftReader,
    PredictionExporter, ScoreReader, AlertStore, SpanWindowReader, SubjectEraser, RetentionStore, TokenStore, Protocol,
):
    """Everything the platform asks of a store. Every backend answers all of it (the SQL is
    shared, `store.sql_store`), so the composition root needs no capability checks; the
    narrow Protocols stay what each service depends on."""

    def data_projects(self) -> list[str]:
        """Every project that has sent spans (the platform's jobs run per project)."""
        ...


def check_writable(path: str) -> None:
    """Fail at start, in one line, when the directory cannot be created or written."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".spanwise-write-test")
        with open(probe, "w", encoding="utf-8") as handle:
            handle.write("ok")
        os.remove(probe)
    except OSError as exc:
        raise ConfigError(f"data directory {path} is not writable: {exc.strerror}") from exc


def open_store(
    url: str, retention_days: int | None = None, metrics: MetricsSpec | None = None, limits: QueryLimits | None = None,
    fsync: bool = False, tail_sampling: bool = False,
) -> Store:
    """The store a URL names: `chdb:///abs/path` or `chdb://relative/path` (embedded).
    `metrics` chooses the span metrics it computes (default: the built-in ones);
    `limits` bound every read query (default: QueryLimits()); `fsync` makes every insert
    sync its parts to disk before it returns; with `tail_sampling`, reads include spans
    waiting for a tail-sampling decision."""
    parsed = urlparse(url)
    if parsed.scheme == "chdb":
        from spanwise.store.chdb_store import ChdbTraceStore

        path = (parsed.netloc + parsed.path) or "spanwise-data"
        return ChdbTraceStore(path, retention_days, metrics, limits, fsync, tail_sampling)
    raise ConfigError(f"unsupported store URL {url!r}: use chdb:///path/to/dir")

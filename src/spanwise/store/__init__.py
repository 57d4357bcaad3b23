"""Trace storage: backends chosen by URL behind the Protocols in `store.api`."""

from __future__ import annotations

from urllib.parse import urlparse

from spanwise.errors import ConfigError
from spanwise.model.metrics import MetricsSpec
from spanwise.store.api import TraceStore
from spanwise.store.query_limits import QueryLimits


def open_store(
    url: str, retention_days: int | None = None, metrics: MetricsSpec | None = None, limits: QueryLimits | None = None,
    fsync: bool = False,
) -> TraceStore:
    """The store a URL names: `chdb:///abs/path` or `chdb://relative/path` (embedded).
    `metrics` chooses the span metrics it computes (default: the built-in ones);
    `limits` bound every read query (default: QueryLimits()); `fsync` makes every insert
    sync its parts to disk before it returns."""
    parsed = urlparse(url)
    if parsed.scheme == "chdb":
        from spanwise.store.chdb_store import ChdbTraceStore

        path = (parsed.netloc + parsed.path) or "spanwise-data"
        return ChdbTraceStore(path, retention_days, metrics, limits, fsync)
    raise ConfigError(f"unsupported store URL {url!r}: use chdb:///path/to/dir")

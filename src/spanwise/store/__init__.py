"""Trace storage: backends chosen by URL behind the Protocols in `store.protocols`."""

from __future__ import annotations

from urllib.parse import urlparse

import os
from typing import Protocol

from spanwise.errors import ConfigError
from spanwise.core.metrics import MetricsSpec
from spanwise.store.clickhouse.query_limits import QueryLimits
from spanwise.store.protocols import Store



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
        from spanwise.store.clickhouse.chdb import ChdbTraceStore

        path = (parsed.netloc + parsed.path) or "spanwise-data"
        return ChdbTraceStore(path, retention_days, metrics, limits, fsync, tail_sampling)
    raise ConfigError(f"unsupported store URL {url!r}: use chdb:///path/to/dir")

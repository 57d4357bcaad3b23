"""QueryService: what the APIs ask of stored traces, independent of any wire format.

Routes call this; it calls the store's `TraceReader`. It validates ids and ranges and
raises `NotFound`/`InvalidQuery` so every API reports them the same way.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Callable

import pyarrow as pa

from spanwise.errors import InvalidQuery, NotFound
from spanwise.store.api import (
    DependencyLink,
    LatencyPoint,
    Operation,
    RedSummary,
    StoreStats,
    TraceQuery,
    TraceReader,
)

_TRACE_ID = re.compile(r"^[0-9a-fA-F]{1,32}$")
MAX_SEARCH_LIMIT = 1500
MAX_SERIES_POINTS = 11_000
#: (attribute key, searched value) -> the value as stored (see `QueryService.__init__`).
StoredValue = Callable[[str, str], str]


def normalize_trace_id(trace_id: str) -> str:
    """Lower-case, left-padded 32-hex-digit id (Jaeger clients may drop leading zeros)."""
    if not _TRACE_ID.match(trace_id or ""):
        raise InvalidQuery(f"malformed trace id {trace_id!r}: expected up to 32 hex digits")
    return trace_id.lower().rjust(32, "0")


class QueryService:
    """Trace lookup, search, services, operations and the service graph."""

    def __init__(self, reader: TraceReader, stored_value: StoredValue | None = None) -> None:
        """`stored_value(key, value)`, when given, turns a searched attribute value into
        the form ingest stored it in (a keyed hash when redaction hashes PII)."""
        self._reader = reader
        self._stored_value = stored_value

    def trace(self, trace_id: str, ai_fields: bool = True) -> pa.Table:
        """Every span of one trace; `NotFound` when no span of it is stored."""
        spans = self._reader.get_traces([normalize_trace_id(trace_id)], ai_fields)
        if spans.num_rows == 0:
            raise NotFound(f"trace {trace_id} not found")
        return spans

    def traces(self, trace_ids: list[str], ai_fields: bool = True) -> pa.Table:
        """Spans of the traces that exist among `trace_ids` (unknown ids are skipped)."""
        return self._reader.get_traces([normalize_trace_id(t) for t in trace_ids], ai_fields)

    def search(self, query: TraceQuery, ai_fields: bool = True) -> tuple[list[str], pa.Table]:
        """Matching trace ids (newest first) and all spans of those traces."""
        if query.end_ns < query.start_ns:
            raise InvalidQuery("the end of the time range is before its start")
        if not 0 < query.limit <= MAX_SEARCH_LIMIT:
            raise InvalidQuery(f"limit must be between 1 and {MAX_SEARCH_LIMIT}")
        if self._stored_value is not None and query.attributes:
            rewrite = self._stored_value
            query = replace(query, attributes=tuple((k, rewrite(k, v)) for k, v in query.attributes))
        ids = self._reader.find_trace_ids(query)
        return ids, self._reader.get_traces(ids, ai_fields) if ids else pa.table({})

    def services(self) -> list[str]:
        return self._reader.services()

    def operations(self, service: str, span_kind: str | None = None) -> list[Operation]:
        return self._reader.operations(service, span_kind)

    def dependencies(self, end_ns: int | None = None, lookback_ns: int = 86_400 * 10**9) -> list[DependencyLink]:
        end = end_ns if end_ns is not None else time.time_ns()
        if lookback_ns <= 0:
            raise InvalidQuery("lookback must be positive")
        return self._reader.dependencies(end - lookback_ns, end)

    def red_summary(self, start_ns: int, end_ns: int, service: str | None = None) -> list[RedSummary]:
        """Rate, errors and duration per service (or per operation of `service`)."""
        if end_ns <= start_ns:
            raise InvalidQuery("the window must end after it starts")
        return self._reader.red_summary(start_ns, end_ns, service)

    def latency_series(
        self, service: str, start_ns: int, end_ns: int, step_s: int = 60, operation: str | None = None
    ) -> list[LatencyPoint]:
        """Per-step p50/p95/p99 span duration of a service, computed in the store."""
        if not service:
            raise InvalidQuery("parameter 'service' is required")
        if step_s <= 0 or (end_ns - start_ns) // (step_s * 10**9) > MAX_SERIES_POINTS:
            raise InvalidQuery(f"step must be positive and give at most {MAX_SERIES_POINTS} points")
        return self._reader.latency_series(service, start_ns, end_ns, step_s, operation)

    def stats(self) -> StoreStats:
        return self._reader.stats()

"""QueryService: what the APIs ask of stored traces, independent of any wire format.

Routes call this; it calls the store's `TraceReader`. It validates ids and ranges and
raises `NotFound`/`InvalidQuery` so every API reports them the same way.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Callable

import pyarrow as pa

from spanwise.core.ids import parse_trace_id
from spanwise.core.time_range import MAX_SERIES_POINTS, check_time_range
from spanwise.errors import InvalidQuery, NotFound
from spanwise.store.protocols import (
    DependencyLink,
    LatencyPoint,
    Operation,
    RedSummary,
    StoreStats,
    TraceQuery,
    TraceReader,
    TraceSummary,
)

MAX_SEARCH_LIMIT = 1500
DEFAULT_MAX_TRACE_SPANS = 10_000
#: (attribute key, searched value) -> the value as stored (see `QueryService.__init__`).
StoredValue = Callable[[str, str], str]


@dataclass(frozen=True)
class TracePage:
    """One page of a trace: `spans` (None past the end), and `total` distinct spans stored."""

    trace_id: str
    spans: pa.Table | None
    total: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        """Where the next page starts; None on the last page."""
        return self.offset + self.limit if self.offset + self.limit < self.total else None


@dataclass(frozen=True)
class CappedTraces:
    """Spans of some traces, at most `max_trace_spans` each, and every trace's total
    span count (more than it has rows in `spans` when the trace was cut)."""

    spans: pa.Table
    totals: dict[str, int]


class QueryService:
    """Trace lookup, search, services, operations and the service graph."""

    def __init__(
        self, reader: TraceReader, stored_value: StoredValue | None = None, max_trace_spans: int = DEFAULT_MAX_TRACE_SPANS
    ) -> None:
        """`stored_value(key, value)`, when given, turns a searched attribute value into
        the form ingest stored it in (a keyed hash when redaction hashes PII).
        `max_trace_spans` bounds the spans of one trace in any answer (config
        `server.max_trace_spans`): one huge trace must not cost the server its memory."""
        self._reader = reader
        self._stored_value = stored_value
        self.max_trace_spans = max_trace_spans

    def trace_page(self, trace_id: str, offset: int = 0, limit: int | None = None, ai_fields: bool = True) -> TracePage:
        """Spans `offset` .. `offset + limit` of one trace in start-time order (limit at most,
        and by default, `max_trace_spans`); `NotFound` when no span of it is stored."""
        limit = self.max_trace_spans if limit is None else limit
        if not 0 < limit <= self.max_trace_spans:
            raise InvalidQuery(f"limit must be between 1 and {self.max_trace_spans}")
        if offset < 0:
            raise InvalidQuery("offset must not be negative")
        trace_id = parse_trace_id(trace_id)
        spans = self._reader.get_traces([trace_id], ai_fields, offset, limit)
        if offset == 0 and spans.num_rows < limit:
            total = spans.num_rows  # the whole trace fit in the page: no count needed
        else:
            total = self._reader.span_counts([trace_id]).get(trace_id, 0)
        if not total:
            raise NotFound(f"trace {trace_id} not found")
        return TracePage(trace_id, spans if offset < total else None, total, offset, limit)

    def traces(self, trace_ids: list[str], ai_fields: bool = True) -> CappedTraces:
        """The first `max_trace_spans` spans of each trace that exists among `trace_ids`
        (unknown ids are skipped), with every trace's total span count."""
        ids = [parse_trace_id(t) for t in trace_ids]
        if not ids:
            return CappedTraces(pa.table({}), {})
        spans = self._reader.get_traces(ids, ai_fields, 0, self.max_trace_spans)
        counts = dict(Counter(spans.column("TraceId").to_pylist())) if spans.num_rows else {}
        cut = [t for t, n in counts.items() if n >= self.max_trace_spans]  # only these can hold more
        if cut:
            counts.update(self._reader.span_counts(cut))
        return CappedTraces(spans, counts)

    def trace_ids(self, query: TraceQuery) -> list[str]:
        """Ids of the matching traces, newest first."""
        check_time_range(query.start_ns, query.end_ns)
        if not 0 < query.limit <= MAX_SEARCH_LIMIT:
            raise InvalidQuery(f"limit must be between 1 and {MAX_SEARCH_LIMIT}")
        if self._stored_value is not None and query.attributes:
            rewrite = self._stored_value
            query = replace(query, attributes=tuple((k, rewrite(k, v)) for k, v in query.attributes))
        return self._reader.find_trace_ids(query)

    def search(self, query: TraceQuery, ai_fields: bool = True) -> tuple[list[str], CappedTraces]:
        """Matching trace ids (newest first) and each trace's first `max_trace_spans` spans."""
        ids = self.trace_ids(query)
        return ids, self.traces(ids, ai_fields)

    def summaries(self, query: TraceQuery) -> list[TraceSummary]:
        """One summary per matching trace, newest first, aggregated by the store."""
        ids = self.trace_ids(query)
        return self._reader.trace_summaries(ids) if ids else []

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
        check_time_range(start_ns, end_ns, empty_ok=False)  # a rate divides by the width
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

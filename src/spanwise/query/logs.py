"""Log queries: validation, and the stored records as `LogRecord` values."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from spanwise.core.ids import parse_trace_id
from spanwise.core.logs import SEVERITY_RANGES
from spanwise.core.time_range import check_time_range
from spanwise.errors import InvalidQuery
from spanwise.store.protocols import LogQuery, LogStore

MAX_LOGS = 5_000
Attributes = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LogRecord:
    """One stored log record; attribute maps keep the order they were stored in."""

    time_ns: int
    trace_id: str
    span_id: str
    severity_text: str
    severity_number: int
    service: str
    body: str
    attributes: Attributes
    resource: Attributes
    scope_name: str
    scope_version: str


class LogQueryService:
    def __init__(self, store: LogStore) -> None:
        self._store = store

    def trace_logs(self, trace_id: str, limit: int = 1_000) -> list[LogRecord]:
        """Every log record of one trace, oldest first, whenever it was written (the
        TraceId bloom filter skips the granules of other traces)."""
        trace = parse_trace_id(trace_id, short_ok=False)
        return self.search(LogQuery(0, 2**63 - 1, trace_id=trace, limit=limit))

    def search(self, query: LogQuery) -> list[LogRecord]:
        if not 1 <= query.limit <= MAX_LOGS:
            raise InvalidQuery(f"limit must be between 1 and {MAX_LOGS}")
        check_time_range(query.start_ns, query.end_ns, empty_ok=False)
        return _records(self._store.search_logs(query))


def severity_number(text: str | None) -> int:
    """A minimum severity given as a name (WARN, error) or an OTLP number (1-24)."""
    if not text:
        return 0
    if text.isdigit() and 1 <= int(text) <= 24:
        return int(text)
    found = SEVERITY_RANGES.get(text.upper())
    if found is None:
        raise InvalidQuery(f"unknown severity {text!r}: use {', '.join(SEVERITY_RANGES)} or 1-24")
    return found


def _records(logs: pa.Table) -> list[LogRecord]:
    """Timestamps are read as integer nanoseconds: datetimes would drop the nanoseconds."""
    times = logs.column("Timestamp").cast(pa.int64()).to_pylist()
    return [
        LogRecord(
            time_ns=at, trace_id=row["TraceId"], span_id=row["SpanId"], severity_text=row["SeverityText"],
            severity_number=row["SeverityNumber"], service=row["ServiceName"], body=row["Body"],
            attributes=tuple(row["LogAttributes"]), resource=tuple(row["ResourceAttributes"]),
            scope_name=row["ScopeName"], scope_version=row["ScopeVersion"],
        )
        for at, row in zip(times, logs.drop_columns(["Timestamp"]).to_pylist())
    ]

"""Log queries: validation and the native JSON of log records (`/api/v1/logs`)."""

from __future__ import annotations

from typing import Any

from spanwise.core.ids import parse_trace_id
from spanwise.core.logs import SEVERITY_RANGES
from spanwise.core.time_range import check_time_range
from spanwise.errors import InvalidQuery
from spanwise.store.protocols import LogQuery, LogStore

MAX_LOGS = 5_000


class LogQueryService:
    def __init__(self, store: LogStore) -> None:
        self._store = store

    def trace_logs(self, trace_id: str, limit: int = 1_000) -> list[dict[str, Any]]:
        """Every log record of one trace, oldest first, whenever it was written (the
        TraceId bloom filter skips the granules of other traces)."""
        trace = parse_trace_id(trace_id, short_ok=False)
        return self.search(LogQuery(0, 2**63 - 1, trace_id=trace, limit=limit))

    def search(self, query: LogQuery) -> list[dict[str, Any]]:
        if not 1 <= query.limit <= MAX_LOGS:
            raise InvalidQuery(f"limit must be between 1 and {MAX_LOGS}")
        check_time_range(query.start_ns, query.end_ns, empty_ok=False)
        return [_native(row) for row in self._store.search_logs(query).to_pylist()]


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


def _native(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "timeUnixNano": int(row["Timestamp"].value),
        "traceId": row["TraceId"],
        "spanId": row["SpanId"],
        "severityText": row["SeverityText"],
        "severityNumber": row["SeverityNumber"],
        "serviceName": row["ServiceName"],
        "body": row["Body"],
        "attributes": dict(row["LogAttributes"]),
        "resource": dict(row["ResourceAttributes"]),
        "scope": {"name": row["ScopeName"], "version": row["ScopeVersion"]},
    }

"""Bounds on read queries, and what an engine error means for the caller.

Reads run on connections whose session carries `max_execution_time` and
`max_memory_usage`, so one request cannot hold a core or the memory for minutes;
inserts run on separate, unlimited connections (losing a committed batch to a
timeout would be worse than a slow write).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spanwise.errors import InvalidQuery, QueryLimitExceeded, SpanwiseError, StoreRejected, StoreUnavailable

_CODE = re.compile(r"Code: (\d+)\.")
#: TIMEOUT_EXCEEDED, TOO_SLOW, MEMORY_LIMIT_EXCEEDED (query and server-wide), QUERY_WAS_CANCELLED.
_OVER_LIMIT = {159, 160, 241, 173, 394}
#: The engine could not read a bound parameter as its declared type.
_BAD_PARAMETER = {6, 25, 26, 27, 38, 41, 69, 72, 321, 457}


@dataclass(frozen=True)
class QueryLimits:
    """Per-query bounds for reads; 0 lifts a bound."""

    timeout_s: float = 30.0
    max_memory_mb: int = 2048

    def set_statement(self) -> str:
        """The `SET` that gives a connection's session these bounds."""
        return (
            f"SET max_execution_time = {float(self.timeout_s)!r}, "
            f"max_memory_usage = {int(self.max_memory_mb) * 2**20}"
        )


def classify(message: str, limits: QueryLimits | None = None) -> SpanwiseError:
    """The Spanwise error for an engine failure: a bad parameter value is the caller's
    (400), a limit hit says which limit (503), anything else is the store's (503)."""
    found = _CODE.search(message)
    code = int(found.group(1)) if found else None
    detail = message.split("DB::Exception: ", 1)[-1].strip()
    if code in _BAD_PARAMETER and "query parameter" in message:
        return InvalidQuery(f"invalid parameter value: {detail}")
    if code in _OVER_LIMIT:
        bounds = limits or QueryLimits()
        return QueryLimitExceeded(
            f"the query was stopped: {detail} (limits: store.query_timeout_s={bounds.timeout_s:g}, "
            f"store.query_max_memory_mb={bounds.max_memory_mb}); narrow the time range or add filters"
        )
    return StoreUnavailable(f"store query failed: {detail}")


#: Write failures that pass: out of memory or disk, too many parts waiting for merges,
#: timeouts, cancellations, I/O and network errors.
_TRANSIENT_WRITE = {74, 75, 76, 159, 173, 202, 209, 210, 236, 241, 243, 252, 394, 425, 1001}
_TRANSIENT_WORDS = ("No space left", "Cannot allocate", "Cannot reserve", "Memory limit", "shut down")


def classify_write(message: str) -> SpanwiseError:
    """A failed insert: `StoreUnavailable` when retrying later can succeed (resources),
    `StoreRejected` when the batch itself cannot be stored (the ingest log quarantines it)."""
    found = _CODE.search(message)
    code = int(found.group(1)) if found else None
    detail = message.split("DB::Exception: ", 1)[-1].strip()
    too_many_partitions = "Too many partitions" in message  # code 252 too, but about the batch
    if not too_many_partitions and (code in _TRANSIENT_WRITE or any(w in message for w in _TRANSIENT_WORDS)):
        return StoreUnavailable(f"store write failed: {detail}")
    return StoreRejected(f"the store refused the batch: {detail}")

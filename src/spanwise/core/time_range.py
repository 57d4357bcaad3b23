"""The one check that a queried time range is in order, and its one message.

Every read takes a [start, end] range in Unix ns: from `serve.params.time_range` at the
HTTP edge, and from alert sources and the scheduler inside. Most reads accept an empty
range (start == end: nothing matches); those that divide by its width (rates) or profile
it (a baseline window) need it non-empty and say so with `empty_ok=False`.
"""

from __future__ import annotations

from spanwise.errors import InvalidQuery

#: The most points one time series (one per step over the range) may answer: Prometheus's
#: `query_range` limit, so a range and step Grafana accepts there work here too.
MAX_SERIES_POINTS = 11_000


def check_time_range(start_ns: int, end_ns: int, *, what: str = "time range", empty_ok: bool = True) -> None:
    """Raise `InvalidQuery` when the range ends before it starts (or, without
    `empty_ok`, when it is empty); `what` names the range in the message."""
    if end_ns < start_ns or (end_ns == start_ns and not empty_ok):
        raise InvalidQuery(f"the {what} must end after it starts (start {start_ns}, end {end_ns})")

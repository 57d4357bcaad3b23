"""`LogStore` on every backend (tests/contract/conftest.py), against `store.api` only:
records come back whole, a trace's oldest first and any other search newest first, within
inclusive time bounds, filtered by trace, service, minimum severity and body text (all
together), cut at `limit`, and values SQL text could mangle match only themselves."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pytest

from spanwise.core.logs import LOG_SCHEMA
from spanwise.store import Store
from spanwise.store.protocols import LogQuery, LogStore

PROTOCOLS = (LogStore,)
S = 10**9
NOW = time.time_ns() - 60 * S
TRACE_A, TRACE_B = f"{0xA1:032x}", f"{0xB2:032x}"
HOSTILE_SERVICE = "l-o'brien\\svc"
#: A body with LIKE wildcards, quotes, a backslash, a query-parameter lookalike, non-ASCII.
HOSTILE_BODY = "50% off_now: it's {text:String} \\ é漢字\nnext line"
HOSTILE_ATTRIBUTES = [("user.id", "a'b\\'c"), ("k=v", "{x:String}"), ("emoji", "🙂\x00")]
INFO, WARN, ERROR, DEBUG, FATAL = 9, 13, 17, 5, 21


def _record(at: int, service: str, severity: int, body: str, trace: str = "", span: str = "",
            attributes: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    return {"Timestamp": at, "TraceId": trace, "SpanId": span, "TraceFlags": 1 if trace else 0,
            "SeverityText": {5: "DEBUG", 9: "INFO", 13: "WARN", 17: "ERROR", 21: "FATAL"}[severity],
            "SeverityNumber": severity, "ServiceName": service, "Body": body,
            "ResourceAttributes": [("service.name", service), ("host.name", "h'1")], "ScopeName": "app",
            "ScopeVersion": "1.0", "LogAttributes": attributes or []}


#: Newest last; `_search` answers are compared with slices of it.
RECORDS = [
    _record(NOW - 600 * S, "l-checkout", INFO, "order placed id=0"),
    _record(NOW - 3 * S, "l-checkout", INFO, "order placed id=1", TRACE_A, "01", [("order.id", "1")]),
    _record(NOW - int(2.5 * S), "l-search", DEBUG, "query took 3ms", TRACE_B, "02"),
    _record(NOW - 2 * S, "l-checkout", WARN, "Payment RETRY for order 1", TRACE_A, "03"),
    _record(NOW - 1 * S, "l-checkout", ERROR, "payment failed: card declined", TRACE_A, "04"),
    _record(NOW - S // 2, HOSTILE_SERVICE, FATAL, HOSTILE_BODY, attributes=HOSTILE_ATTRIBUTES),
    _record(NOW, "l-search", INFO, "50 percent of queries cached"),
]


@pytest.fixture(scope="module", autouse=True)
def written(store: Store) -> None:
    store.write_logs(pa.Table.from_pylist(RECORDS[:4], schema=LOG_SCHEMA))
    store.write_logs(pa.Table.from_pylist(RECORDS[4:], schema=LOG_SCHEMA))
    store.write_logs(LOG_SCHEMA.empty_table())  # nothing to write is not an error


def _search(store: Store, lo: int = NOW - 3600 * S, hi: int = NOW + S, **kwargs: Any) -> list[str]:
    """Bodies of the matching records, in the order the store answered."""
    return store.search_logs(LogQuery(lo, hi, **kwargs)).column("Body").to_pylist()


def _bodies(*indexes: int) -> list[str]:
    return [RECORDS[i]["Body"] for i in indexes]


def test_a_trace_s_records_come_back_whole_oldest_first(store: Store) -> None:
    found = store.search_logs(LogQuery(NOW - 3600 * S, NOW + S, trace_id=TRACE_A))
    assert found.column("Body").to_pylist() == _bodies(1, 3, 4)
    assert found.column("Timestamp").cast(pa.int64()).to_pylist() == [RECORDS[i]["Timestamp"] for i in (1, 3, 4)]
    first = found.to_pylist()[0]
    plain = ("TraceId", "SpanId", "TraceFlags", "SeverityText", "SeverityNumber", "ServiceName", "ScopeName", "ScopeVersion")
    assert {k: first[k] for k in plain} == {k: RECORDS[1][k] for k in plain}
    assert dict(first["LogAttributes"]) == {"order.id": "1"}
    assert dict(first["ResourceAttributes"]) == {"service.name": "l-checkout", "host.name": "h'1"}
    assert _search(store, trace_id=TRACE_B) == _bodies(2)
    assert _search(store, trace_id=f"{0xC3:032x}") == []


def test_any_other_search_is_newest_first_within_inclusive_bounds(store: Store) -> None:
    assert _search(store) == _bodies(6, 5, 4, 3, 2, 1, 0)
    assert _search(store, lo=RECORDS[1]["Timestamp"], hi=RECORDS[4]["Timestamp"]) == _bodies(4, 3, 2, 1)
    assert _search(store, lo=RECORDS[1]["Timestamp"] + 1, hi=RECORDS[4]["Timestamp"] - 1) == _bodies(3, 2)
    assert _search(store, lo=NOW + 1, hi=NOW + S) == []
    assert _search(store, trace_id=TRACE_A, lo=RECORDS[3]["Timestamp"]) == _bodies(3, 4)


def test_service_severity_and_text_filter_together(store: Store) -> None:
    assert _search(store, service="l-checkout") == _bodies(4, 3, 1, 0)
    assert _search(store, service="l-check") == [], "a service is matched whole"
    assert _search(store, min_severity=WARN) == _bodies(5, 4, 3)
    assert _search(store, min_severity=FATAL) == _bodies(5)
    assert _search(store, text="PAYMENT") == _bodies(4, 3), "text ignores case"
    assert _search(store, text="placed id") == _bodies(1, 0), "text is any part of the body"
    assert _search(store, service="l-checkout", min_severity=INFO, text="order") == _bodies(3, 1, 0)
    assert _search(store, service="l-search", min_severity=WARN) == []
    assert _search(store, trace_id=TRACE_A, min_severity=ERROR) == _bodies(4)


def test_limit_cuts_after_ordering(store: Store) -> None:
    assert _search(store, limit=2) == _bodies(6, 5), "the newest"
    assert _search(store, trace_id=TRACE_A, limit=2) == _bodies(1, 3), "a trace's oldest"
    assert _search(store, service="l-checkout", limit=1) == _bodies(4)


@pytest.mark.parametrize("text", ["%", "_", "it's", "{text:String}", "\\", "é漢字", "\nnext"])
def test_text_that_needs_escaping_matches_only_itself(store: Store, text: str) -> None:
    assert _search(store, text=text) == [HOSTILE_BODY]


def test_hostile_service_and_trace_values(store: Store) -> None:
    found = store.search_logs(LogQuery(NOW - 3600 * S, NOW + S, service=HOSTILE_SERVICE)).to_pylist()
    assert [r["Body"] for r in found] == [HOSTILE_BODY]
    assert sorted(found[0]["LogAttributes"]) == sorted(HOSTILE_ATTRIBUTES)
    assert _search(store, service="l-o'brien") == []
    assert _search(store, trace_id="' OR 1=1 --") == []
    assert _search(store, text="' OR 1=1 --") == []

"""`AlertStore` and `SpanWindowReader` on every backend (tests/contract/conftest.py),
against the store Protocols: alert objects are the newest body per (kind, key) within a
project, a None body deletes; history comes back newest first within inclusive bounds;
RED figures of stored spans cover exactly the window asked, each span counted by its
sampling weight."""

from __future__ import annotations

import json

import pytest
from metric_spans import NOW, export_request, write

from spanwise.request_context import SYSTEM, acting, for_project
from spanwise.store import Store
from spanwise.store.protocols import AlertStore, SpanWindowReader
from spanwise.store.protocols import AlertStateChange, RedSummary

PROTOCOLS = (AlertStore, SpanWindowReader)
S = 10**9
MS = 10**6
HOSTILE_KEY = "r'1\\{kind:String}"
HOSTILE_BODY = json.dumps({"expr": "it's a \\ \"quoted\" é漢字\n", "n": 1})


def test_objects_are_the_newest_body_per_key_and_none_deletes(store: Store) -> None:
    store.put_alert_objects("a-rule", {"r1": '{"v": 1}', "r2": '{"v": 2}', HOSTILE_KEY: HOSTILE_BODY})
    store.put_alert_objects("a-silence", {"r1": "a silence, not a rule"})
    store.put_alert_objects("a-rule", {"r1": '{"v": 3}', "r2": None})
    store.put_alert_objects("a-rule", {})  # nothing to write is not an error
    assert store.alert_objects("a-rule") == {("default", "r1"): '{"v": 3}', ("default", HOSTILE_KEY): HOSTILE_BODY}
    assert store.alert_objects("a-silence") == {("default", "r1"): "a silence, not a rule"}
    store.put_alert_objects("a-rule", {"r2": '{"v": 4}'})
    assert store.alert_objects("a-rule")[("default", "r2")] == '{"v": 4}', "a deleted key can be written again"
    assert store.alert_objects("a-none") == {}


def test_objects_are_the_current_project_s(store: Store) -> None:
    for project, body in (("a-red", "red's"), ("a-blue", "blue's")):
        with acting(for_project(project)):
            store.put_alert_objects("a-owned", {"same-key": body})
    with acting(for_project("a-red")):
        store.put_alert_objects("a-owned", {"red-only": "x"})
        assert store.alert_objects("a-owned") == {("a-red", "same-key"): "red's", ("a-red", "red-only"): "x"}
    with acting(for_project("a-blue")):
        store.put_alert_objects("a-owned", {"red-only": None})  # deleting in blue leaves red's alone
        assert store.alert_objects("a-owned") == {("a-blue", "same-key"): "blue's"}
    with acting(SYSTEM):
        assert store.alert_objects("a-owned") == {
            ("a-red", "same-key"): "red's", ("a-red", "red-only"): "x", ("a-blue", "same-key"): "blue's"}


def _change(at_ms: int, rule: str, to_state: str, value: float | None = 1.0) -> AlertStateChange:
    return AlertStateChange(at_ms, rule, f"{rule}-fp", "ok", to_state, value, json.dumps({"service": "s'1"}))


def test_history_newest_first_within_inclusive_bounds(store: Store) -> None:
    at = NOW // MS
    changes = [_change(at, "h-latency", "pending"), _change(at + 1000, "h-latency", "firing", 2.5),
               _change(at + 2000, "h-errors", "firing", None), _change(at + 3000, HOSTILE_KEY, "firing")]
    store.append_alert_history(changes[:2])
    store.append_alert_history(changes[2:])
    store.append_alert_history([])
    found = store.alert_history(at * MS, (at + 3000) * MS)
    assert found == changes[::-1]
    assert store.alert_history(at * MS, (at + 3000) * MS, limit=2) == changes[:1:-1]
    assert store.alert_history((at + 1) * MS, (at + 2000) * MS - 1) == [changes[1]]
    assert store.alert_history(at * MS, (at + 3000) * MS, rule="h-latency") == changes[1::-1]
    assert store.alert_history(at * MS, (at + 3000) * MS, rule=HOSTILE_KEY) == [changes[3]]
    assert store.alert_history(at * MS, (at + 3000) * MS, rule="h-") == []
    with acting(for_project("a-elsewhere")):
        assert store.alert_history(at * MS, (at + 3000) * MS) == []


@pytest.fixture(scope="module")
def spans(store: Store) -> None:
    """w-api: op-a at NOW (10 ms), NOW+1s (20 ms, an error), NOW+3s (40 ms, weight 2);
    op-b at NOW+2s (30 ms); a span sampled out (weight 0) at NOW+1s. w-db: one at NOW+1s."""
    write(store, export_request("w-api", [
        {"ms": 10, "name": "op-a"},
        {"ms": 20, "name": "op-a", "start": NOW + S, "status": 2},
        {"ms": 30, "name": "op-b", "start": NOW + 2 * S},
    ]))
    write(store, export_request("w-api", [{"ms": 40, "name": "op-a", "start": NOW + 3 * S}]), weight=2.0)
    write(store, export_request("w-api", [{"ms": 99, "name": "op-a", "start": NOW + S}]), weight=0.0)
    write(store, export_request("w-db", [{"ms": 5, "name": "query", "start": NOW + S}]))
    write(store, export_request("w-o'brien\\", [{"ms": 7, "name": "x", "start": NOW + S}]))


def _red(found: list[RedSummary]) -> list[tuple[str, int, int]]:
    return [(r.name, r.count, r.error_count) for r in found]


def test_span_window_per_service_with_weights(store: Store, spans: None) -> None:
    assert _red(store.span_window(NOW, NOW + 3 * S)) == [("w-api", 5, 1), ("w-db", 1, 0), ("w-o'brien\\", 1, 0)]
    assert _red(store.span_window(NOW + S, NOW + 2 * S)) == [("w-api", 2, 1), ("w-db", 1, 0), ("w-o'brien\\", 1, 0)]
    assert _red(store.span_window(NOW + 1, NOW + S - 1)) == []
    assert _red(store.span_window(NOW + 3 * S, NOW + 3 * S)) == [("w-api", 2, 0)]


def test_span_window_per_operation_of_a_service(store: Store, spans: None) -> None:
    assert _red(store.span_window(NOW, NOW + 3 * S, "w-api")) == [("op-a", 4, 1), ("op-b", 1, 0)]
    assert store.span_window(NOW + 2 * S, NOW + 2 * S, "w-api") == [RedSummary("op-b", 1, 0, 30e6, 30e6, 30e6)]
    assert _red(store.span_window(NOW, NOW + 3 * S, "w-o'brien\\")) == [("x", 1, 0)]
    assert store.span_window(NOW, NOW + 3 * S, "w-o'brien") == []

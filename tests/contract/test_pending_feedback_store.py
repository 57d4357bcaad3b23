"""`PendingFeedbackStore` on every backend (tests/contract/conftest.py), against the store
Protocols: labels waiting for their prediction come back oldest first until forgotten or
expired, counted per project; `latest_labels` answers each prediction's winning label.
Each test works in a project of its own, so the module's tests share one store."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from spanwise.request_context import SYSTEM, acting, for_project
from spanwise.store import Store
from spanwise.store.protocols import PendingFeedbackStats, PendingFeedbackStore

PROTOCOLS = (PendingFeedbackStore,)
S = 10**9
R = 1_700_000_000 * S  # when the first label arrived
HOSTILE_ID = "p'1\\' OR 1=1 --"


def _labels(*labels: tuple[str, str, int], trace: str = "", span: str = "") -> pa.Table:
    """(prediction id, label, received ns) rows as `write_pending_feedback` takes them."""
    return pa.table({
        "PredictionId": pa.array([p for p, _, _ in labels], pa.string()),
        "TraceId": pa.array([trace] * len(labels), pa.string()),
        "SpanId": pa.array([span] * len(labels), pa.string()),
        "Label": pa.array([label for _, label, _ in labels], pa.string()),
        "LabelValue": pa.array([None] * len(labels), pa.float64()),
        "Timestamp": pa.array([r - 10 * S for _, _, r in labels], pa.timestamp("ns", tz="UTC")),
        "ReceivedAt": pa.array([r for _, _, r in labels], pa.timestamp("ns", tz="UTC")),
    })


def _waiting(store: Store, limit: int = 100) -> list[tuple[Any, ...]]:
    rows = store.pending_feedback(limit).to_pylist()
    return [(r["PredictionId"], r["TraceId"], r["SpanId"], r["Label"], r["Timestamp"], r["ReceivedAt"]) for r in rows]


@pytest.fixture(scope="module", autouse=True)
def bystanders(store: Store) -> None:
    """A label waiting in each of two projects no test changes."""
    for project in ("pf-a", "pf-b"):
        with acting(for_project(project)):
            store.write_pending_feedback(_labels(("p-1", "yes", R)))


def test_waiting_labels_come_back_oldest_first_until_forgotten(store: Store) -> None:
    with acting(for_project("pf-order")):
        store.write_pending_feedback(_labels(("p-3", "no", R + 2 * S), ("p-1", "yes", R)))
        store.write_pending_feedback(_labels(("", "maybe", R + S), trace="ab" * 16, span="cd" * 8))
        assert _waiting(store) == [("p-1", "", "", "yes", R - 10 * S, R), ("", "ab" * 16, "cd" * 8, "maybe", R - 9 * S, R + S),
                                   ("p-3", "", "", "no", R - 8 * S, R + 2 * S)]
        assert store.pending_feedback_stats() == PendingFeedbackStats(3, R)
        oldest = store.pending_feedback(2)
        assert oldest.num_rows == 2
        store.forget_pending_feedback(oldest)
        store.forget_pending_feedback(oldest.slice(0, 0))  # nothing to forget is not an error
        assert [row[0] for row in _waiting(store)] == ["p-3"]
        assert store.pending_feedback_stats() == PendingFeedbackStats(1, R + 2 * S)


def test_forgetting_matches_values_that_need_escaping_exactly(store: Store) -> None:
    with acting(for_project("pf-hostile")):
        store.write_pending_feedback(_labels((HOSTILE_ID, "a", R), ("p'1", "b", R + 2), (HOSTILE_ID, "c", R + 1)))
        store.forget_pending_feedback(store.pending_feedback(1))
        assert [(row[0], row[3]) for row in _waiting(store)] == [(HOSTILE_ID, "c"), ("p'1", "b")]


def test_forgetting_leaves_another_project_s_equal_label(store: Store) -> None:
    for project in ("pf-twin-1", "pf-twin-2"):
        with acting(for_project(project)):
            store.write_pending_feedback(_labels(("t-1", "same", R)))
    with acting(for_project("pf-twin-1")):
        store.forget_pending_feedback(store.pending_feedback(10))
        assert _waiting(store) == []
    with acting(for_project("pf-twin-2")):
        assert _waiting(store) == [("t-1", "", "", "same", R - 10 * S, R)]


def test_expiry_removes_labels_received_before_the_time_in_the_current_project(store: Store) -> None:
    with acting(for_project("pf-expiry")):
        store.write_pending_feedback(_labels(("e-1", "x", R), ("e-2", "x", R + S), ("e-3", "x", R + 2 * S)))
        assert store.expire_pending_feedback(R) == 0
        assert store.expire_pending_feedback(R + S) == 1
        assert [row[0] for row in _waiting(store)] == ["e-2", "e-3"]
        assert store.expire_pending_feedback(R + 10 * S) == 2
        assert store.pending_feedback_stats() == PendingFeedbackStats(0, None)
        assert store.pending_feedback(10).num_rows == 0
    for project in ("pf-a", "pf-b"):
        with acting(for_project(project)):
            assert store.pending_feedback_stats() == PendingFeedbackStats(1, R), project


def test_projects_with_labels_waiting(store: Store) -> None:
    with acting(for_project("pf-a")):
        assert store.pending_feedback_projects() == ["pf-a"]
    with acting(for_project("pf-none")):
        assert store.pending_feedback_projects() == []
    with acting(SYSTEM):
        found = store.pending_feedback_projects()
    assert {"pf-a", "pf-b"} <= set(found) and "pf-expiry" not in found and found == sorted(found)


def _feedback(*labels: tuple[str, str, int, int]) -> pa.Table:
    """(prediction id, label, timestamp, received) rows as `write_feedback` takes them."""
    return pa.table({
        "PredictionId": pa.array([p for p, _, _, _ in labels], pa.string()),
        "Label": pa.array([label for _, label, _, _ in labels], pa.string()),
        "LabelValue": pa.array([None] * len(labels), pa.float64()),
        "Timestamp": pa.array([t for _, _, t, _ in labels], pa.timestamp("ns", tz="UTC")),
        "ReceivedAt": pa.array([r for _, _, _, r in labels], pa.timestamp("ns", tz="UTC")),
    })


def test_latest_label_is_the_latest_timestamp_then_the_latest_arrival(store: Store) -> None:
    with acting(for_project("pf-latest")):
        store.write_feedback(_feedback(("l-1", "old", R, R + 5 * S), ("l-1", "new", R + S, R), ("l-2", "first", R, R),
                                       (HOSTILE_ID, "h", R, R)))
        store.write_feedback(_feedback(("l-2", "second", R, R + S)))  # same timestamp, arrived later
        found = store.latest_labels(["l-1", "l-2", HOSTILE_ID, "l-unknown", "p'1"])
        assert found == {"l-1": ("new", R + S), "l-2": ("second", R), HOSTILE_ID: ("h", R)}
        assert store.latest_labels([]) == {}
    with acting(for_project("pf-other")):
        assert store.latest_labels(["l-1"]) == {}

"""Stored model signals (as the scheduler writes them) drive alerts: drift on one feature
fires for that feature only, a realized or estimated accuracy drop fires, both resolve.
A real chDB store and the real engine, stepped by a test clock. Also: state the store
refused is written later, and state kept before projects is the default project's."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pytest

from spanwise.alerts.engine import STATE_KIND, AlertEngine
from spanwise.alerts.sources import Sources
from spanwise.alerts.state import FIRING, Alert
from spanwise.errors import StoreUnavailable
from spanwise.core.alert_rules import AlertCondition, AlertQuery, AlertRule, AlertsConfig
from spanwise.request_context import SYSTEM, RequestContext, acting
from spanwise.store import open_store
from spanwise.store.protocols import AlertStateChange

T0 = 1_800_000_000.0


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Any]:
    opened = open_store(f"chdb://{tmp_path}")
    opened.start()
    yield opened
    opened.shutdown()


def signals(store: Any, at: float, rows: list[tuple[str, str, float]]) -> None:
    """(signal, feature, value) rows for fraud/v1 whose window ended at `at`."""
    ns = int(at * 1e9)
    store.write_signals(pa.Table.from_pylist([
        {"ComputedAt": ns // 10**6, "WindowStart": ns - 3600 * 10**9, "WindowEnd": ns, "ModelName": "fraud",
         "ModelVersion": "v1", "Signal": s, "Feature": f, "Value": v, "Flagged": False} for s, f, v in rows]))


def test_drift_and_accuracy_signals(store: Any) -> None:
    now = [T0]
    rules = [
        AlertRule("FeatureDrift", AlertQuery("model_signal", "drift", model="fraud", window_s=120),
                  AlertCondition(op=">", threshold=0.2, resolve_threshold=0.1), interval_s=1),
        AlertRule("AccuracyDrop", AlertQuery("model_signal", "accuracy", model="fraud", window_s=120),
                  AlertCondition(op="<", threshold=0.8), interval_s=1, for_s=60),
        AlertRule("EstimatedAccuracyDrop", AlertQuery("model_signal", "estimated_accuracy", model="fraud", window_s=120),
                  AlertCondition(op="<", threshold=0.8), interval_s=1),
    ]
    engine = AlertEngine(AlertsConfig(rules=rules), store, Sources(None, signals=store), clock=lambda: now[0])

    def step(seconds: float, rows: list[tuple[str, str, float]]) -> set[tuple[str, str]]:
        now[0] += seconds
        signals(store, now[0], rows)
        engine.tick()
        return {(a["rule"], a["labels"].get("feature", "")) for a in engine.alerts() if a["state"] == "firing"}

    healthy = [("drift", "amount", 0.05), ("drift", "country", 0.04), ("accuracy", "", 0.93), ("estimated_accuracy", "", 0.92)]
    for _ in range(5):
        assert step(30, healthy) == set()
    drifting = [("drift", "amount", 0.45), ("drift", "country", 0.04), ("accuracy", "", 0.93), ("estimated_accuracy", "", 0.92)]
    assert step(30, drifting) == {("FeatureDrift", "amount")}
    assert step(30, [("drift", "amount", 0.15)]) == {("FeatureDrift", "amount")}  # hysteresis: not below 0.1 yet
    assert step(30, [("drift", "amount", 0.05)]) == set()
    worse = [("accuracy", "", 0.61), ("estimated_accuracy", "", 0.64)]
    assert step(30, worse) == {("EstimatedAccuracyDrop", "")}  # realized accuracy waits for_s
    assert step(61, worse) == {("EstimatedAccuracyDrop", ""), ("AccuracyDrop", "")}
    assert step(30, healthy) == set()
    history = engine.history(0, int(now[0] * 1e9) + 1, "", 100)
    assert sorted((h.rule, h.to_state) for h in history if h.to_state in ("firing", "resolved")) == sorted([
        ("FeatureDrift", "firing"), ("FeatureDrift", "resolved"), ("AccuracyDrop", "firing"), ("AccuracyDrop", "resolved"),
        ("EstimatedAccuracyDrop", "firing"), ("EstimatedAccuracyDrop", "resolved")])


class Flaky:
    """The real store, but alert writes fail while `broken` (a full disk, a lost server)."""

    def __init__(self, store: Any) -> None:
        self.store, self.broken = store, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def put_alert_objects(self, kind: str, bodies: dict[str, str | None]) -> None:
        if self.broken:
            raise StoreUnavailable("disk full")
        self.store.put_alert_objects(kind, bodies)

    def append_alert_history(self, changes: list[AlertStateChange]) -> None:
        if self.broken:
            raise StoreUnavailable("disk full")
        self.store.append_alert_history(changes)


def test_state_refused_by_the_store_is_written_later(store: Any) -> None:
    now = [T0]
    rule = AlertRule("Drift", AlertQuery("model_signal", "drift", model="fraud", window_s=120),
                     AlertCondition(op=">", threshold=0.2), interval_s=1, for_s=600)
    flaky = Flaky(store)
    engine = AlertEngine(AlertsConfig(rules=[rule]), flaky, Sources(None, signals=store), clock=lambda: now[0])
    flaky.broken = True
    now[0] += 30
    signals(store, now[0], [("drift", "amount", 0.5)])
    with pytest.raises(StoreUnavailable):
        engine.tick()
    assert [a["state"] for a in engine.alerts()] == ["pending"]
    flaky.broken = False
    now[0] += 1
    engine.tick()
    restarted = AlertEngine(AlertsConfig(rules=[rule]), store, Sources(None, signals=store), clock=lambda: now[0])
    restarted.start()
    restarted.shutdown()
    [alert] = restarted.alerts()
    assert alert["state"] == "pending" and alert["active_at_ms"] == int((T0 + 30) * 1000)
    assert [h.to_state for h in restarted.history(0, int(now[0] * 1e9) + 1, "Drift", 10)] == ["pending"]


def test_state_kept_before_projects_is_the_default_projects(store: Any) -> None:
    """An alert a build without projects kept (no project column value, no project label)
    is read back as the default project's, labelled so, and stored again under its new key."""
    now = [T0]
    rule = AlertRule("Drift", AlertQuery("model_signal", "drift", model="fraud", window_s=120),
                     AlertCondition(op=">", threshold=0.2), interval_s=1)
    old = Alert("Drift", {"alertname": "Drift", "model": "fraud"}, FIRING, 0.5, 1000, 1000, series=[["model", "fraud"]])
    with acting(RequestContext(project="")):  # what the project column holds for rows of older builds
        store.put_alert_objects(STATE_KIND, {old.key: old.to_json()})
    engine = AlertEngine(AlertsConfig(rules=[rule]), store, Sources(None, signals=store), clock=lambda: now[0])
    with acting(SYSTEM):
        engine.start()
        engine.shutdown()
        stored = store.alert_objects(STATE_KIND)
    [alert] = engine.alerts()
    assert alert["labels"] == {"alertname": "Drift", "model": "fraud", "project": "default"} and alert["state"] == FIRING
    assert list(stored) == [("default", f"Drift/{alert['fingerprint']}")]
    with acting(RequestContext(project="other")):
        assert engine.alerts() == [] and store.alert_objects(STATE_KIND) == {}

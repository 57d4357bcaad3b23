"""Model signal gauges on `/metrics`: latest value per series, recent windows only, at most
`max_series` series (the most recent), against the real embedded store."""

from __future__ import annotations

import time
from typing import Any, Iterator

import pyarrow as pa
import pytest
from prometheus_client.parser import text_string_to_metric_families

from spanwise.core.metrics import MetricsSpec
from spanwise.query.metrics import metrics_service
from spanwise.serve.prometheus import render
from spanwise.store.clickhouse.chdb import ChdbTraceStore
from spanwise.store.clickhouse.model_signals import SIGNAL_SCHEMA

S = 10**9


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbTraceStore]:
    chdb_store = ChdbTraceStore(str(tmp_path_factory.mktemp("signal-gauges")))
    chdb_store.start()
    now = time.time_ns()
    rows: list[dict[str, Any]] = []
    for age_s, value in ((600, 0.1), (60, 0.4)):  # two windows of drift on x: the later one counts
        rows.append(_row(now - age_s * S, "drift", "x", value, value > 0.3))
    rows.append(_row(now - 120 * S, "accuracy", "", 0.9, False))
    rows.append(_row(now - 180 * S, "drift", "y", None, False))  # no value: only the flag
    rows.append(_row(now - 7200 * S, "drift", "z", 0.5, True))  # stale past an hour
    chdb_store.write_signals(pa.Table.from_pylist(rows, schema=SIGNAL_SCHEMA))
    yield chdb_store
    chdb_store.shutdown()


def _row(end_ns: int, signal: str, feature: str, value: float | None, flagged: bool) -> dict[str, Any]:
    return {"ComputedAt": end_ns // 10**6, "WindowStart": end_ns - 3600 * S, "WindowEnd": end_ns, "ModelName": "risk",
            "ModelVersion": "v1", "Signal": signal, "Feature": feature, "Value": value, "Flagged": flagged}


def _scrape(store: ChdbTraceStore, spec: MetricsSpec) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    service = metrics_service(store, spec)
    assert service is not None
    parsed = {}
    for family in text_string_to_metric_families(render(service.families())):
        if family.name.startswith("spanwise_model_signal"):
            parsed[family.name] = {tuple(sorted(s.labels.items())): s.value for s in family.samples}
    return parsed


def _labels(signal: str, feature: str = "") -> tuple[tuple[str, str], ...]:
    pairs = {"model_name": "risk", "model_version": "v1", "signal": signal} | ({"feature": feature} if feature else {})
    return tuple(sorted(pairs.items()))


def test_latest_value_per_recent_series(store: ChdbTraceStore) -> None:
    parsed = _scrape(store, MetricsSpec())
    assert parsed["spanwise_model_signal"] == {_labels("drift", "x"): 0.4, _labels("accuracy"): 0.9}
    assert parsed["spanwise_model_signal_flagged"] == {
        _labels("drift", "x"): 1, _labels("accuracy"): 0, _labels("drift", "y"): 0}
    assert parsed["spanwise_model_signal_series_dropped"] == {(): 0}
    everything = _scrape(store, MetricsSpec(stale_after_s=0))  # 0: every series, however old
    assert everything["spanwise_model_signal"][_labels("drift", "z")] == 0.5


def test_at_most_max_series_the_most_recent_kept(store: ChdbTraceStore) -> None:
    parsed = _scrape(store, MetricsSpec(max_series=2))
    assert set(parsed["spanwise_model_signal_flagged"]) == {_labels("drift", "x"), _labels("accuracy")}
    assert parsed["spanwise_model_signal_series_dropped"] == {(): 1}

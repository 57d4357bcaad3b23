"""`ModelSignalStore` on every backend (tests/contract/conftest.py), against `store.api`:
a model's signal rows come back whole, by the end of their window within inclusive bounds,
oldest first, filtered by signal and feature and cut at `limit`; the latest value of each
series is the one of its latest window, most recent series first."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pytest

from spanwise.store import Store
from spanwise.store.protocols import ModelSignalStore
from spanwise.store.clickhouse.model_signals import SIGNAL_SCHEMA

PROTOCOLS = (ModelSignalStore,)
S = 10**9
HOUR = 3600 * S
NOW = time.time_ns() // S * S - HOUR
HOSTILE_MODEL = "risk'); DROP TABLE x; --\\"


def _row(model: str, end_h: float, signal: str, feature: str, value: float | None, flagged: bool = False,
         version: str = "v1", computed_s: int = 0) -> dict[str, Any]:
    """A signal of the hour-long window ending `end_h` hours after NOW."""
    end = NOW + int(end_h * HOUR)
    return {"ComputedAt": (end + computed_s * S) // 10**6, "WindowStart": end - HOUR, "WindowEnd": end,
            "ModelName": model, "ModelVersion": version, "Signal": signal, "Feature": feature, "Value": value,
            "Flagged": flagged}


#: The "churn" rows oldest window first; each test compares with slices of it.
CHURN = [
    _row("churn", -3, "drift", "age", 0.1),
    _row("churn", -2, "drift", "age", 0.2),
    _row("churn", -2, "drift", "plan", 0.05),
    _row("churn", -2, "accuracy", "", 0.91, version="v2"),
    _row("churn", -1, "drift", "age", 0.4, True),
    _row("churn", 0, "accuracy", "", None, True),
]
OTHERS = [
    _row("fraud", -1, "drift", "age", 0.9, True),
    _row(HOSTILE_MODEL, -1, "drift", "f'1\\", 0.3),
]


@pytest.fixture(scope="module", autouse=True)
def written(store: Store) -> None:
    store.write_signals(pa.Table.from_pylist(CHURN[3:] + OTHERS, schema=SIGNAL_SCHEMA))
    store.write_signals(pa.Table.from_pylist(CHURN[:3], schema=SIGNAL_SCHEMA))
    store.write_signals(SIGNAL_SCHEMA.empty_table())


def _read(store: Store, model: str = "churn", lo_h: float = -24, hi_h: float = 1, **kwargs: Any) -> list[tuple[Any, ...]]:
    rows = store.read_signals(model, NOW + int(lo_h * HOUR), NOW + int(hi_h * HOUR), **kwargs).to_pylist()
    return [(r["window_end_unix_nano"], r["version"], r["signal"], r["feature"], r["value"], r["flagged"]) for r in rows]


def _expected(*rows: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(r["WindowEnd"], r["ModelVersion"], r["Signal"], r["Feature"], r["Value"], r["Flagged"]) for r in rows]


def test_a_model_s_rows_come_back_whole_oldest_first(store: Store) -> None:
    found = store.read_signals("churn", NOW - 24 * HOUR, NOW + HOUR).to_pylist()
    assert [r["window_end_unix_nano"] for r in found] == sorted(r["window_end_unix_nano"] for r in found)
    assert sorted(_read(store), key=repr) == sorted(_expected(*CHURN), key=repr)
    assert found[0]["window_start_unix_nano"] == CHURN[0]["WindowStart"]
    assert _read(store, "fraud") == _expected(OTHERS[0])
    assert _read(store, "chur") == [] and _read(store, "no-such-model") == []


def test_window_end_bounds_are_inclusive(store: Store) -> None:
    assert _read(store, lo_h=-2, hi_h=-1, signal="drift", feature="age") == _expected(CHURN[1], CHURN[4])
    assert _read(store, lo_h=-1.99, hi_h=-1.01) == []
    assert _read(store, lo_h=-0.5, hi_h=0.5) == _expected(CHURN[5]), "a window that started before the range counts"


def test_signal_and_feature_filter_alone_and_together(store: Store) -> None:
    assert _read(store, signal="accuracy") == _expected(CHURN[3], CHURN[5])
    assert _read(store, feature="plan") == _expected(CHURN[2])
    assert _read(store, signal="drift", feature="age") == _expected(CHURN[0], CHURN[1], CHURN[4])
    assert _read(store, signal="accuracy", feature="age") == []


def test_limit_keeps_the_oldest(store: Store) -> None:
    assert sorted(_read(store, signal="drift", limit=3)) == sorted(_expected(*CHURN[:3]))
    assert _read(store, signal="drift", feature="age", limit=1) == _expected(CHURN[0])


def test_values_that_need_escaping_match_only_themselves(store: Store) -> None:
    assert _read(store, HOSTILE_MODEL, feature="f'1\\") == _expected(OTHERS[1])
    assert _read(store, "risk'") == []


def test_latest_value_per_series_most_recent_first(store: Store) -> None:
    latest = store.latest_signals(None, 100).to_pylist()
    by_series = {(r["model"], r["version"], r["signal"], r["feature"]): r for r in latest}
    assert set(by_series) == {("churn", "v1", "drift", "age"), ("churn", "v1", "drift", "plan"),
                              ("churn", "v2", "accuracy", ""), ("churn", "v1", "accuracy", ""),
                              ("fraud", "v1", "drift", "age"), (HOSTILE_MODEL, "v1", "drift", "f'1\\")}
    age = by_series[("churn", "v1", "drift", "age")]
    assert (age["value"], age["flagged"], age["window_end_unix_nano"]) == (0.4, True, CHURN[4]["WindowEnd"])
    assert by_series[("churn", "v1", "accuracy", "")]["value"] is None
    ends = [r["window_end_unix_nano"] for r in latest]
    assert ends == sorted(ends, reverse=True) and ends[0] == CHURN[5]["WindowEnd"]
    assert {r["series"] for r in latest} == {6}


def test_latest_since_and_limit_count_every_series(store: Store) -> None:
    recent = store.latest_signals(NOW - HOUR, 2).to_pylist()
    assert len(recent) == 2 and {r["series"] for r in recent} == {4}, "4 series had a window end in the last hour"
    assert recent[0]["window_end_unix_nano"] == CHURN[5]["WindowEnd"]
    assert store.latest_signals(NOW + HOUR, 10).num_rows == 0

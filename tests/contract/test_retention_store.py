"""Retention per project and kind as table TTL rules (`RetentionStore`), on a real store:
the rules land in each table's definition (spans, logs, OTLP metric points, predictions and
their model signals, labels), are rewritten only when the policy changes, and expiring them
removes only the short-retention project's old rows.

The checks read the tables themselves (system.tables, counts per project), which only
the store's own SQL can do, so this suite uses the backend's `_query`/`_execute`."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pytest
from metric_spans import export_request, write

from spanwise.core.logs import LOG_SCHEMA
from spanwise.core.otlp_metrics import EXPONENTIAL_HISTOGRAM, GAUGE, HISTOGRAM, POINT_SCHEMAS, SUM, SUMMARY
from spanwise.core.retention import KINDS, METRICS, SPANS, RetentionPolicy
from spanwise.request_context import SYSTEM, acting, for_project
from spanwise.store import open_store
from spanwise.store.protocols import RetentionStore
from spanwise.store.clickhouse.model_signals import SIGNAL_SCHEMA
from spanwise.store.clickhouse.retention import RETENTION_TABLES

PROTOCOLS = (RetentionStore,)
DAY = 86_400 * 10**9
NOW = time.time_ns() - 60 * 10**9
OLD = NOW - 10 * DAY
#: "brief" keeps everything 3 days, every other project the default 30.
SHORT = RetentionPolicy(30, {"brief": {kind: 3 for kind in KINDS}})
TABLES = [table for tables in RETENTION_TABLES.values() for table, _ in tables]


def _metric_points(at: int, tag: str) -> dict[str, pa.Table]:
    """One point of each kind at `at`."""
    common = {"ResourceAttributes": [], "ServiceName": "svc", "ScopeName": "", "ScopeVersion": "",
              "MetricName": f"retention.{tag}", "MetricDescription": "", "MetricUnit": "1", "Attributes": [],
              "StartTimeUnix": at, "TimeUnix": at, "Flags": 0}
    values = {GAUGE: {"Value": 1.0}, SUM: {"Value": 1.0, "AggregationTemporality": 2, "IsMonotonic": True},
              HISTOGRAM: {"Count": 1, "Sum": 1.0, "BucketCounts": [1, 0], "ExplicitBounds": [1.0], "Min": None,
                          "Max": None, "AggregationTemporality": 2},
              EXPONENTIAL_HISTOGRAM: {"Count": 1, "Sum": 1.0, "Scale": 3, "ZeroCount": 0, "PositiveOffset": 0,
                                      "PositiveBucketCounts": [1], "NegativeOffset": 0, "NegativeBucketCounts": [],
                                      "Min": None, "Max": None, "AggregationTemporality": 2},
              SUMMARY: {"Count": 1, "Sum": 1.0, "ValueAtQuantiles.Quantile": [0.5], "ValueAtQuantiles.Value": [1.0]}}
    return {kind: pa.Table.from_pylist([common | extra], POINT_SCHEMAS[kind]) for kind, extra in values.items()}


def _write(store: Any, project: str, at: int, tag: str) -> None:
    """A prediction span, a log record, OTLP metric points, a model signal (computed at `at`)
    and a label (received at `at`) in `project`."""
    attrs = {"ml.model.name": "m", "ml.prediction.id": f"{project}-{tag}", "ml.prediction.label": "yes"}
    with acting(for_project(project)):
        write(store, export_request("svc", [{"ms": 5, "start": at, "attrs": attrs}]))
        log = {"Timestamp": at, "TraceId": "", "SpanId": "", "TraceFlags": 0, "SeverityText": "INFO",
               "SeverityNumber": 9, "ServiceName": "svc", "Body": tag, "ResourceAttributes": [], "ScopeName": "",
               "ScopeVersion": "", "LogAttributes": []}
        store.write_logs(pa.Table.from_pylist([log], LOG_SCHEMA))
        store.write_metric_points(_metric_points(at, tag))
        signal = {"ComputedAt": at // 10**6, "WindowStart": at - DAY, "WindowEnd": at, "ModelName": "m",
                  "ModelVersion": "v1", "Signal": "drift", "Feature": tag, "Value": 0.1, "Flagged": False}
        store.write_signals(pa.Table.from_pylist([signal], SIGNAL_SCHEMA))
        label = {"PredictionId": f"{project}-{tag}", "Label": "yes", "LabelValue": None,
                 "Timestamp": pa.scalar(at, pa.timestamp("ns")), "ReceivedAt": pa.scalar(at, pa.timestamp("ns"))}
        store.write_feedback(pa.Table.from_pylist([label]))
        store.write_pending_feedback(pa.Table.from_pylist([label | {"TraceId": "", "SpanId": ""}]))


@pytest.fixture(scope="module")
def store_options() -> dict[str, Any]:
    return {"retention_days": 30}


@pytest.fixture(scope="module", autouse=True)
def rows_per_project(store: Any) -> None:
    for project in ("brief", "kept"):
        _write(store, project, OLD, "old")
        _write(store, project, NOW, "new")


def _definitions(store: Any) -> dict[str, str]:
    with acting(SYSTEM):
        rows = store._query("SELECT name, create_table_query AS q FROM system.tables WHERE database = currentDatabase()")
    return {r["name"]: r["q"] for r in rows.to_pylist()}


def _rows(store: Any) -> dict[tuple[str, str], int]:
    """Rows per (table, project)."""
    counts = {}
    with acting(SYSTEM):
        for table in TABLES:
            for r in store._query(f"SELECT Project, toInt64(count()) AS n FROM {table} GROUP BY Project").to_pylist():
                counts[(table, r["Project"])] = r["n"]
    return counts


def test_the_rules_a_store_was_created_with_are_recognised(store: Any) -> None:
    """What the schema wrote (as an older build left it) is what the plain policy wants: only
    the table created without a rule gets one; nothing else is rewritten."""
    assert store.apply_retention(RetentionPolicy(30)) == ["feedback_pending"]
    assert store.apply_retention(RetentionPolicy(30)) == []


def test_per_project_rules_are_in_every_table_and_expire_only_that_project(store: Any) -> None:
    before = _rows(store)
    assert all(before[(table, project)] == 2 for table in TABLES for project in ("brief", "kept")), before
    assert sorted(store.apply_retention(SHORT)) == sorted(TABLES)
    definitions = _definitions(store)
    for table in TABLES:
        assert "toIntervalDay(3) WHERE Project = 'brief'" in definitions[table], definitions[table]
        assert "toIntervalDay(30) WHERE Project NOT IN ('brief')" in definitions[table], definitions[table]
    assert "ttl_only_drop_parts = 0" in definitions["otel_traces"], "a part holds several projects: delete rows"
    assert store.apply_retention(SHORT) == [], "an unchanged policy rewrites nothing at the next start"
    with acting(SYSTEM):
        for table in TABLES:
            store._execute(f"ALTER TABLE {table} MATERIALIZE TTL SETTINGS mutations_sync = 2")
    after = _rows(store)
    for table in TABLES:
        assert after[(table, "brief")] == 1, f"{table}: brief's 10-day-old row outlived its 3 days"
        assert after[(table, "kept")] == 2, f"{table}: kept's rows are within its 30 days"


def test_default_days_per_kind_and_forever(store: Any) -> None:
    """A project may keep one kind forever (no rule, left out of the default's); back to
    the plain policy, the table gets the plain rule and drops whole parts again."""
    forever = RetentionPolicy(30, {"kept": {"labels": 0}})
    changed = store.apply_retention(forever)
    assert sorted(changed) == sorted(TABLES)
    definitions = _definitions(store)
    assert "TTL toDateTime(ReceivedAt) + toIntervalDay(30) WHERE Project NOT IN ('kept') " in definitions["feedback"]
    assert "WHERE Project = 'kept'" not in definitions["feedback"]
    assert "TTL toDateTime(Timestamp) + toIntervalDay(30) SETTINGS" in definitions["otel_traces"]
    assert "ttl_only_drop_parts = 1" in definitions["otel_traces"]
    assert store.apply_retention(RetentionPolicy(0)) and " TTL " not in _definitions(store)["otel_logs"]
    assert store.apply_retention(RetentionPolicy(30, {"default": {"spans": 7}}))
    assert "toIntervalDay(7) WHERE Project IN ('default', '')" in _definitions(store)["otel_traces"]
    assert "NOT IN ('default', '')" in _definitions(store)["otel_traces"]


def test_metric_points_follow_their_own_kind(store: Any) -> None:
    """`metrics` covers every OTLP metric point table and nothing else (the spans change too:
    the test before left the default project its own rule for them)."""
    changed = store.apply_retention(RetentionPolicy(30, {"brief": {METRICS: 3}}))
    assert sorted(changed) == sorted(t for kind in (SPANS, METRICS) for t, _ in RETENTION_TABLES[kind])
    assert "TTL toDateTime(TimeUnix) + toIntervalDay(3) WHERE Project = 'brief'" in _definitions(store)["otel_metrics_sum"]

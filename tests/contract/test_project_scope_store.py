"""Projects in the store (store/projects.py): rows carry the project they were written in,
every read sees only the current project's rows (also through joins, derived tables and
collapsing tables where two projects share keys), the platform's own work sees all, a
store call with no context fails, and a passed deadline stops a read."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanwise.errors import StoreUnavailable
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests
from spanwise.request_context import SYSTEM, NoRequestContext, RequestContext, acting, for_project
from spanwise.store import open_store
from spanwise.store.clickhouse.chdb import ChdbTraceStore
from spanwise.store.protocols import LogStore, TraceReader

NOW = time.time_ns() - 60 * 10**9
TRACE = 0xABC
PROTOCOLS = (TraceReader, LogStore)


def _spans(service: str, label: str) -> pa.Table:
    """One prediction span of `service`; the same trace, span and prediction ids in every project."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", service
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = TRACE.to_bytes(16, "big"), (7).to_bytes(8, "big"), "predict"
    span.start_time_unix_nano, span.end_time_unix_nano = NOW, NOW + 10**6
    for key, value in (("ml.model.name", "churn"), ("ml.prediction.id", "p-1"), ("ml.prediction.label", label)):
        attribute = span.attributes.add()
        attribute.key, attribute.value.string_value = key, value
    return MlFieldsProcessor().process(decode_export_requests([request.SerializeToString()]).batch).spans


@pytest.fixture(scope="module", autouse=True)
def shop(store: Any) -> None:
    """The same spans in two projects, with a different prediction label in each."""
    for project, label in (("red", "stay"), ("blue", "churn")):
        with acting(for_project(project)):
            store.write_spans(_spans("shop", label))


def _trace_labels(store: Any) -> list[Any]:
    return store.get_traces([f"{TRACE:032x}"]).column("PredictionLabel").to_pylist()


def test_each_project_reads_only_its_rows(store: Any) -> None:
    for project, label in (("red", "stay"), ("blue", "churn")):
        with acting(for_project(project)):
            assert _trace_labels(store) == [label]
            assert store.services() == ["shop"]
            assert store.span_counts([f"{TRACE:032x}"]) == {f"{TRACE:032x}": 1}
    with acting(for_project("green")):
        assert _trace_labels(store) == [] and store.services() == []


def test_collapsing_tables_keep_one_row_per_project(store: Any) -> None:
    """`predictions` collapses equal keys (ReplacingMergeTree): two projects' equal
    prediction ids stay two rows, even after a forced merge."""
    with acting(SYSTEM):
        store._execute("OPTIMIZE TABLE predictions FINAL")
        rows = store._query("SELECT Project, PredictionLabel FROM predictions FINAL ORDER BY Project").to_pylist()
    assert rows == [{"Project": "blue", "PredictionLabel": "churn"}, {"Project": "red", "PredictionLabel": "stay"}]
    assert store.data_projects() == ["blue", "red"]


def test_writes_are_stamped_with_the_current_project(store: Any) -> None:
    with acting(for_project("red")):
        store.write_logs(_log_rows(store, "only red sees this"))
    with acting(SYSTEM):
        rows = store._query("SELECT Project, Body FROM otel_logs").to_pylist()
    assert rows == [{"Project": "red", "Body": "only red sees this"}]


def _log_rows(store: Any, body: str) -> pa.Table:
    from spanwise.core.logs import LOG_SCHEMA

    row = {name: None for name in LOG_SCHEMA.names}
    table = LOG_SCHEMA.empty_table().to_pylist()
    table.append({**row, **{f.name: _empty(f.type) for f in LOG_SCHEMA}, "Body": body, "Timestamp": NOW})
    return pa.Table.from_pylist(table, schema=LOG_SCHEMA)


def _empty(kind: pa.DataType) -> Any:
    if pa.types.is_map(kind) or pa.types.is_list(kind):
        return []
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        return ""
    return 0


def test_no_context_fails_closed(store: Any) -> None:
    import contextvars

    def read() -> Any:
        return store.services()

    with pytest.raises(NoRequestContext):
        contextvars.Context().run(read)
    with pytest.raises(NoRequestContext), acting(SYSTEM):
        store.write_logs(_log_rows(store, "whose?"))


def test_a_passed_deadline_stops_the_read(store: Any) -> None:
    with acting(RequestContext("red", deadline=time.monotonic() - 1)), pytest.raises(StoreUnavailable, match="deadline"):
        store.services()
    with acting(RequestContext("red", deadline=time.monotonic() + 0.05)), pytest.raises(StoreUnavailable):
        store._query("SELECT count() FROM numbers(10000000000) WHERE sipHash64(number) = 1")
    with acting(RequestContext("red", deadline=time.monotonic() + 30)):
        assert store.services() == ["shop"]  # the session's own limit is back for the next read

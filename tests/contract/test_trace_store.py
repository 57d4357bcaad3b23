"""One suite for every TraceStore backend (tests/contract/conftest.py), written against
`store.api` only."""

from __future__ import annotations

import time
from typing import Any, Callable

import pyarrow as pa
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests
from spanwise.store import open_store
from spanwise.store.protocols import TraceQuery, TraceStore
from spanwise.store.protocols import TraceQuery, TraceReader, TraceStore, TraceWriter

PROTOCOLS = (TraceStore, TraceWriter, TraceReader)
NOW = time.time_ns() - 60 * 10**9
HOUR = 3600 * 10**9


def _span(ss: Any, trace: int, span: int, parent: int | None, name: str, start: int, dur_ms: float, **attrs: Any) -> None:
    s = ss.spans.add()
    s.trace_id = trace.to_bytes(16, "big")
    s.span_id = span.to_bytes(8, "big")
    if parent is not None:
        s.parent_span_id = parent.to_bytes(8, "big")
    s.name = name
    s.kind = 2
    s.start_time_unix_nano = start
    s.end_time_unix_nano = start + int(dur_ms * 1e6)
    for key, value in attrs.items():
        if key == "status":
            s.status.code = value
            continue
        kv = s.attributes.add()
        kv.key = key
        if isinstance(value, str):
            kv.value.string_value = value
        elif isinstance(value, float):
            kv.value.double_value = value
        else:
            kv.value.int_value = value


def _request(service: str, build: Callable[[Any], None], **resource: str) -> bytes:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    for key, value in {"service.name": service, **resource}.items():
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = key, value
    build(rs.scope_spans.add())
    return request.SerializeToString()


def _write(store: TraceStore, *bodies: bytes) -> pa.Table:
    decoded = decode_export_requests(list(bodies))
    spans = MlFieldsProcessor().process(decoded.batch).spans
    store.write_spans(spans)
    return spans


@pytest.fixture(scope="module")
def data(store: TraceStore) -> dict[str, str]:
    """Three traces across two services, one prediction, one error, one old trace."""
    frontend = _request(
        "c-frontend",
        lambda ss: (
            _span(ss, 1, 1, None, "GET /score", NOW, 50, **{"http.route": "/score"}),
            _span(ss, 2, 21, None, "GET /score", NOW + 10**9, 5, status=2),
            _span(ss, 3, 31, None, "GET /old", NOW - 5 * HOUR, 1),
        ),
        region="eu",
    )
    model = _request(
        "c-model",
        lambda ss: _span(
            ss, 1, 2, 1, "predict", NOW + 10**6, 20,
            **{"model.name": "fraud", "model.version": "v3", "ml.feature.amount": 12.5,
               "ml.feature.country": "NL", "ml.prediction.confidence": 0.42, "ml.prediction.label": "fraud"},
        ),
    )
    _write(store, frontend, model)
    _write(store, model)  # delivered twice: reads must deduplicate
    return {"t1": f"{1:032x}", "t2": f"{2:032x}", "t3": f"{3:032x}"}


def _ids(store: TraceStore, **kwargs: Any) -> list[str]:
    query = TraceQuery(start_ns=kwargs.pop("start_ns", NOW - HOUR), end_ns=kwargs.pop("end_ns", NOW + HOUR), **kwargs)
    return store.find_trace_ids(query)


def test_trace_by_id_returns_every_span_once_with_ai_fields(store: TraceStore, data: dict[str, str]) -> None:
    spans = store.get_traces([data["t1"]])
    rows = {r["SpanId"]: r for r in spans.to_pylist()}
    assert set(rows) == {f"{1:016x}", f"{2:016x}"}
    predict = rows[f"{2:016x}"]
    assert predict["ParentSpanId"] == f"{1:016x}" and predict["ServiceName"] == "c-model"
    assert predict["IsPrediction"] and predict["ModelName"] == "fraud" and predict["ModelVersion"] == "v3"
    assert dict(predict["Features"]) == {"amount": 12.5}
    assert dict(predict["StringFeatures"]) == {"country": "NL"}
    assert predict["Confidence"] == 0.42 and predict["PredictionLabel"] == "fraud"
    assert dict(rows[f"{1:016x}"]["ResourceAttributes"])["region"] == "eu"


def test_unknown_and_malformed_ids_return_nothing(store: TraceStore, data: dict[str, str]) -> None:
    assert store.get_traces([f"{999:032x}"]).num_rows == 0
    assert store.get_traces(["not-hex"]).num_rows == 0
    both = store.get_traces([data["t1"], data["t2"], f"{999:032x}"])
    assert set(both.column("TraceId").to_pylist()) == {data["t1"], data["t2"]}


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"service": "c-frontend"}, ["t2", "t1"]),
        ({"service": "c-frontend", "limit": 1}, ["t2"]),
        ({"service": "c-frontend", "operation": "GET /score", "status": "Error"}, ["t2"]),
        ({"attributes": (("http.route", "/score"),)}, ["t1"]),
        ({"attributes": (("region", "eu"),), "service": "c-frontend"}, ["t2", "t1"]),
        ({"attributes": (("ml.model.name", "fraud"), ("ml.model.version", "v3"))}, ["t1"]),
        ({"attributes": (("ml.feature.amount", "12.5"),)}, ["t1"]),
        ({"attributes": (("ml.feature.country", "NL"),)}, ["t1"]),
        ({"attributes": (("ml.feature.country", "DE"),)}, []),
        ({"attributes": (("error", "true"),)}, ["t2"]),
        ({"min_confidence": 0.4, "max_confidence": 0.5}, ["t1"]),
        ({"min_confidence": 0.5}, []),
        ({"service": "c-frontend", "min_duration_ns": 10 * 10**6}, ["t1"]),
        ({"service": "c-frontend", "max_duration_ns": 10 * 10**6}, ["t2"]),
        ({"service": "c-frontend", "start_ns": NOW - 6 * HOUR, "end_ns": NOW - 4 * HOUR}, ["t3"]),
        ({"service": "no-such-service"}, []),
    ],
)
def test_search(store: TraceStore, data: dict[str, str], kwargs: dict[str, Any], expected: list[str]) -> None:
    assert _ids(store, **kwargs) == [data[name] for name in expected]


def test_services_and_operations(store: TraceStore, data: dict[str, str]) -> None:
    services = store.services()
    assert services == sorted(services) and {"c-frontend", "c-model"} <= set(services)
    assert [op.name for op in store.operations("c-frontend")] == ["GET /old", "GET /score"]
    assert [op.name for op in store.operations("c-model", "server")] == ["predict"]
    assert store.operations("c-model", "client") == []


def test_dependencies(store: TraceStore, data: dict[str, str]) -> None:
    links = store.dependencies(NOW - HOUR, NOW + HOUR)
    edges = {(d.parent, d.child): d.call_count for d in links}
    assert edges[("c-frontend", "c-model")] == 1


def test_stats_count_stored_rows(store: TraceStore, data: dict[str, str]) -> None:
    stats = store.stats()
    assert stats.spans >= 4 and stats.predictions >= 1 and stats.bytes_on_disk > 0


def test_latency_series_per_step(store: TraceStore, data: dict[str, str]) -> None:
    points = store.latency_series("c-frontend", NOW - HOUR, NOW + HOUR, 3600)
    assert sum(p.count for p in points) == 2  # the old trace is outside the range
    assert all(p.p50_ns <= p.p95_ns <= p.p99_ns for p in points)
    only_score = store.latency_series("c-frontend", NOW - 6 * HOUR, NOW + HOUR, 60, operation="GET /score")
    assert sum(p.count for p in only_score) == 2
    assert [p.start_ns for p in only_score] == sorted(p.start_ns for p in only_score)
    # c-model's span was delivered twice: aggregates count redeliveries (documented). The
    # percentiles come from the span metrics' duration histogram: 20 ms lies in (10, 50] ms.
    single = store.latency_series("c-model", NOW - HOUR, NOW + HOUR, 60)
    assert len(single) == 1 and 10e6 < single[0].p50_ns <= single[0].p99_ns <= 50e6


def test_trace_read_without_ai_fields_has_only_otlp_columns(store: TraceStore, data: dict[str, str]) -> None:
    from spanwise.core.spans import DECODED_SCHEMA

    spans = store.get_traces([data["t1"]], ai_fields=False)
    assert spans.schema.names == DECODED_SCHEMA.names and spans.num_rows == 2


def test_trace_pages_are_cut_by_the_store_in_start_order(store: TraceStore, data: dict[str, str]) -> None:
    first = store.get_traces([data["t1"]], limit=1)
    assert first.column("SpanId").to_pylist() == [f"{1:016x}"]
    second = store.get_traces([data["t1"]], offset=1, limit=1).to_pylist()
    assert [r["SpanId"] for r in second] == [f"{2:016x}"]  # the twice-delivered span, once
    assert dict(second[0]["Features"]) == {"amount": 12.5}  # prediction maps of the page
    assert store.get_traces([data["t1"]], offset=2, limit=5).num_rows == 0
    per_trace = store.get_traces([data["t1"], data["t2"]], ai_fields=False, limit=1)
    assert per_trace.column("TraceId").to_pylist() == [data["t1"], data["t2"]]


def test_span_counts_are_distinct_spans(store: TraceStore, data: dict[str, str]) -> None:
    assert store.span_counts([data["t1"], data["t2"], f"{999:032x}", "not-hex"]) == {data["t1"]: 2, data["t2"]: 1}
    assert store.span_counts([]) == {}


def test_trace_summaries_are_aggregated_by_the_store(store: TraceStore, data: dict[str, str]) -> None:
    t2, t1 = store.trace_summaries([data["t2"], data["t1"], f"{999:032x}"])
    assert (t2.trace_id, t2.span_count, t2.error_count, t2.models) == (data["t2"], 1, 1, ())
    assert (t1.trace_id, t1.root_service, t1.root_name) == (data["t1"], "c-frontend", "GET /score")
    assert (t1.span_count, t1.error_count, t1.services) == (2, 0, ("c-frontend", "c-model"))
    assert (t1.start_ns, t1.duration_ns) == (NOW, 50 * 10**6)
    assert [(m.name, m.version, m.predictions) for m in t1.models] == [("fraud", "v3", 1)]
    assert store.trace_summaries([]) == []

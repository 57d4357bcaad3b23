"""Stores that hold spans for tail sampling: pending, capped, settled, late spans."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanwise.analyze.drift import DriftService
from spanwise.config import TailSamplingConfig
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.process.sampling import HeadSamplingProcessor, HeadSamplingSettings
from spanwise.process.tail_sampling import RateLimiter, TailDecider, decide
from spanwise.receive.decode import decode_export_requests
from spanwise.request_context import SYSTEM, acting, for_project
from spanwise.store import open_store
from spanwise.store.protocols import TailSamplingStore
from spanwise.store.protocols import TailSamplingStore

NOW = time.time_ns() - 60 * 10**9
PROTOCOLS = (TailSamplingStore,)


@pytest.fixture(scope="module")
def store_options() -> dict[str, Any]:
    return {"tail_sampling": True}


@pytest.fixture()
def store(fresh_store: Any) -> Any:
    """Every test decides what is pending in an empty store."""
    assert fresh_store.tail_sampling
    return fresh_store


def _write(store: Any, traces: range, error: bool = False) -> None:
    request = ExportTraceServiceRequest()
    ss = request.resource_spans.add().scope_spans.add()
    for trace in traces:
        span = ss.spans.add()
        span.trace_id, span.span_id, span.name = trace.to_bytes(16, "big"), (trace + 1).to_bytes(8, "big"), "op"
        span.start_time_unix_nano, span.end_time_unix_nano = NOW, NOW + 1000
        if error:
            span.status.code = 2
    batch = MlFieldsProcessor().process(decode_export_requests([request.SerializeToString()]).batch)
    batch = HeadSamplingProcessor(HeadSamplingSettings(defer_to_tail=True)).process(batch)
    store.write_spans(batch.spans)


def test_a_flood_of_unfinished_traces_is_decided_oldest_first_beyond_the_cap(store: Any) -> None:
    _write(store, range(1, 16))
    time.sleep(0.05)
    _write(store, range(16, 26))
    ready = store.pending_trace_summaries(quiet_before_ns=0, max_pending=10, attribute_patterns={})
    assert sorted(int(t, 16) for t in ready.column("TraceId").to_pylist()) == list(range(1, 16))
    store.settle_traces(ready.column("TraceId").to_pylist(), [0.0] * 15, 3600)
    left = store.pending_trace_summaries(quiet_before_ns=time.time_ns(), max_pending=10, attribute_patterns={})
    assert left.num_rows == 10


def test_kept_traces_move_with_their_weight_and_late_spans_follow(store: Any) -> None:
    _write(store, range(100, 102), error=True)
    decider = TailDecider(store, TailSamplingConfig(enabled=True, decision_wait_s=0.001, probabilistic_rate=0.0))
    time.sleep(0.01)
    decision = decider.tick()
    assert decision.reasons["error"] == 2
    spans = store.get_traces([f"{100:032x}"])
    assert spans.column("SampleWeight").to_pylist() == [1.0]
    assert store.pending_trace_summaries(time.time_ns(), 1000, {}).num_rows == 0
    _write(store, range(100, 101))  # a late span (same id again: deduplicated on read)
    assert decider.tick().trace_ids == []  # nothing new to decide: it follows the decision
    assert store.get_traces([f"{100:032x}"]).num_rows == 1


def test_policies_rate_limit_and_probabilistic_remainder() -> None:
    rows = [
        {"TraceId": f"{i:032x}", "FirstSeen": i, "RootService": "svc", "HasError": False, "MaxDurationNs": 1, "MinConfidence": None}
        for i in range(1, 11)
    ]
    config = TailSamplingConfig(enabled=True, rate_limit_traces_per_s=3.0)
    decision = decide(pa.Table.from_pylist(rows), config, RateLimiter(3.0))
    assert decision.reasons["rate_limit"] == 3 and decision.reasons["dropped"] == 7
    remainder = TailSamplingConfig(enabled=True, probabilistic_rate=0.5)
    rows = [{**r, "TraceId": f"{i:018x}{(i * 2**52) % 2**56:014x}"} for i, r in enumerate(rows)]
    decision = decide(pa.Table.from_pylist(rows), remainder, RateLimiter(0.0))
    kept = [w for w in decision.weights if w > 0]
    assert set(kept) == {2.0} and len(kept) == sum(1 for r in rows if int(r["TraceId"][-14:], 16) < 2**55)


def _predictions(store: Any, traces: range, x: float, defer: bool) -> None:
    request = ExportTraceServiceRequest()
    ss = request.resource_spans.add().scope_spans.add()
    for trace in traces:
        span = ss.spans.add()
        span.trace_id, span.span_id, span.name = trace.to_bytes(16, "big"), (trace + 1).to_bytes(8, "big"), "predict"
        span.start_time_unix_nano, span.end_time_unix_nano = NOW, NOW + 1000
        for key, value in (("ml.model.name", "risk"), ("ml.model.version", "v1"), ("ml.feature.x", x + (trace % 7) / 100)):
            attr = span.attributes.add()
            attr.key = key
            if isinstance(value, str):
                attr.value.string_value = value
            else:
                attr.value.double_value = value
        attr = span.attributes.add()
        attr.key, attr.value.double_value = "ml.prediction.value", 1.0
    batch = MlFieldsProcessor().process(decode_export_requests([request.SerializeToString()]).batch)
    if defer:
        batch = HeadSamplingProcessor(HeadSamplingSettings(defer_to_tail=True)).process(batch)
    store.write_spans(batch.spans)


def test_predictions_outside_the_baseline_range_are_kept(store: Any) -> None:
    _predictions(store, range(1000, 1100), 0.5, defer=False)  # history, stored in full
    DriftService(store).set_window_baseline("risk", "v1", "history", "window", NOW - 10**9, NOW + 10**9)
    _predictions(store, range(2000, 2001), 5.0, defer=True)  # far outside [0.5, 0.56]
    _predictions(store, range(3000, 3001), 0.52, defer=True)  # inside
    config = TailSamplingConfig(enabled=True, decision_wait_s=0.001, keep_errors=False, outlier_features=True)
    decider = TailDecider(store, config)
    time.sleep(0.01)
    decision = decider.tick()
    assert decision.reasons["outlier"] == 1 and decision.reasons["dropped"] == 1
    assert store.get_traces([f"{2000:032x}"]).num_rows == 1
    assert store.get_traces([f"{3000:032x}"]).num_rows == 0


def test_projects_sending_one_trace_id_are_decided_apart(store: Any) -> None:
    """The same trace id in two projects is two traces: one's error keeps only its own."""
    trace_id = f"{500:032x}"
    with acting(for_project("a")):
        _write(store, range(500, 501), error=True)
    with acting(for_project("b")):
        _write(store, range(500, 501))
    decider = TailDecider(store, TailSamplingConfig(enabled=True, decision_wait_s=0.001, probabilistic_rate=0.0))
    time.sleep(0.01)
    with acting(SYSTEM):
        decision = decider.tick()
    assert (decision.reasons["error"], decision.reasons["dropped"]) == (1, 1)
    for project, kept in (("a", 1), ("b", 0)):
        with acting(for_project(project)):
            _write(store, range(500, 501))  # a late span follows its own project's decision
            with acting(SYSTEM):
                decider.tick()
            assert store.get_traces([trace_id]).num_rows == kept, project
            assert store.pending_trace_summaries(time.time_ns(), 1000, {}).num_rows == 0


def test_a_baseline_marks_outliers_of_its_own_project_only(store: Any) -> None:
    with acting(for_project("a")):
        _predictions(store, range(1000, 1100), 0.5, defer=False)
        DriftService(store).set_window_baseline("risk", "v1", "history", "window", NOW - 10**9, NOW + 10**9)
    with acting(for_project("b")):  # the same model name, no baseline: nothing is an outlier
        _predictions(store, range(2000, 2001), 5.0, defer=True)
    decider = TailDecider(store, TailSamplingConfig(enabled=True, decision_wait_s=0.001, keep_errors=False,
                                                    outlier_features=True))
    time.sleep(0.01)
    with acting(SYSTEM):
        decision = decider.tick()
    assert (decision.reasons["outlier"], decision.reasons["dropped"]) == (0, 1)

"""Head sampling: consistent by trace id, per-service rates, adjusted counts, budget."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanwise.core.spans import SpanBatch
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.process.sampling import HeadSamplingProcessor, HeadSamplingSettings, trace_randomness
from spanwise.receive.decode import decode_export_requests


def _batch(traces: int, services: tuple[str, ...] = ("a",), seed: int = 1) -> SpanBatch:
    rng = random.Random(seed)
    request = ExportTraceServiceRequest()
    for service in services:
        rs = request.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", service
        ss = rs.scope_spans.add()
        for _ in range(traces):
            span = ss.spans.add()
            span.trace_id, span.span_id, span.name = rng.randbytes(16), rng.randbytes(8), "op"
    decoded = decode_export_requests([request.SerializeToString()])
    return MlFieldsProcessor().process(decoded.batch)


def test_randomness_is_the_low_56_bits_of_the_trace_id() -> None:
    ids = ["0" * 18 + "00000000000001", "ffffffffffffffffffffffffffffffff", "0123456789abcdef0123456789abcdef"]
    assert trace_randomness(pa.array(ids)).tolist() == [int(i[-14:], 16) for i in ids]
    assert trace_randomness(pa.array(ids).slice(1)).tolist() == [int(i[-14:], 16) for i in ids[1:]]


def test_decisions_are_consistent_and_match_the_rate() -> None:
    batch = _batch(20_000)
    first = HeadSamplingProcessor(HeadSamplingSettings(default_rate=0.25)).process(batch)
    second = HeadSamplingProcessor(HeadSamplingSettings(default_rate=0.25)).process(batch)
    weights = first.spans.column("SampleWeight").to_numpy()
    assert np.array_equal(weights, second.spans.column("SampleWeight").to_numpy())
    assert set(np.unique(weights)) == {0.0, 4.0}
    assert abs((weights > 0).mean() - 0.25) < 0.02
    expected = [int(t[-14:], 16) < 0.25 * 2**56 for t in batch.spans.column("TraceId").to_pylist()]
    assert (weights > 0).tolist() == expected
    assert abs(weights.sum() - batch.num_spans) / batch.num_spans < 0.05  # adjusted counts are unbiased


def test_lower_rates_keep_a_subset_of_higher_rates() -> None:
    batch = _batch(5_000)
    kept = {
        rate: HeadSamplingProcessor(HeadSamplingSettings(default_rate=rate)).process(batch).spans.column("SampleWeight").to_numpy() > 0
        for rate in (0.01, 0.1, 0.5)
    }
    assert not (kept[0.01] & ~kept[0.1]).any() and not (kept[0.1] & ~kept[0.5]).any()


def test_per_service_rates() -> None:
    batch = _batch(4_000, services=("keep-all", "keep-none", "default"))
    sampler = HeadSamplingProcessor(HeadSamplingSettings(default_rate=0.5, service_rates={"keep-all": 1.0, "keep-none": 0.0}))
    out = sampler.process(batch).spans
    kept = {s: 0 for s in ("keep-all", "keep-none", "default")}
    for service, weight in zip(out.column("ServiceName").to_pylist(), out.column("SampleWeight").to_pylist()):
        kept[service] += weight > 0
    assert kept["keep-all"] == 4_000 and kept["keep-none"] == 0 and 1_800 < kept["default"] < 2_200
    assert sampler.stats["spans_kept"] + sampler.stats["spans_dropped"] == 12_000


def test_budget_lowers_rates_when_traffic_exceeds_it() -> None:
    now = [0.0]
    sampler = HeadSamplingProcessor(HeadSamplingSettings(budget_spans_per_s=100, budget_window_s=1), clock=lambda: now[0])
    batch = _batch(1_000)
    for _ in range(3):  # 1,000 spans per second, ten times the budget
        now[0] += 1.0
        out = sampler.process(batch)
    kept = int((out.spans.column("SampleWeight").to_numpy() > 0).sum())
    assert 60 < kept < 140  # about 100 of 1,000 per second

"""Head sampling: consistent by trace id, per-service rates, adjusted counts, budget."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanwise.core.spans import SpanBatch
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.process.sampling import IDLE_WINDOWS, MAX_BUDGETS, HeadSamplingProcessor, HeadSamplingSettings, trace_randomness
from spanwise.receive.decode import decode_export_requests
from spanwise.request_context import SYSTEM, NoRequestContext, acting, for_project
from spanwise.serve.auth import MAX_PROJECTS


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


def _kept(batch: SpanBatch) -> np.ndarray:
    return batch.spans.column("SampleWeight").to_numpy() > 0


def test_budget_is_per_project() -> None:
    """A project sending ten times the budget is scaled to it; a quiet one keeps every
    span, and the noisy one's kept spans are those its trace ids pick at its factor."""
    now = [0.0]
    sampler = HeadSamplingProcessor(HeadSamplingSettings(budget_spans_per_s=100, budget_window_s=1), clock=lambda: now[0])
    noisy_kept = noisy_total = 0
    for second in range(1, 41):
        now[0] = float(second)
        with acting(for_project("quiet")):
            quiet = sampler.process(_batch(20, seed=2 * second))
        with acting(for_project("noisy")):
            noisy_batch = _batch(1_000, seed=2 * second + 1)
            noisy = sampler.process(noisy_batch)
        assert _kept(quiet).all() and set(quiet.spans.column("SampleWeight").to_pylist()) == {1.0}
        randomness = trace_randomness(noisy_batch.spans.column("TraceId").combine_chunks())
        assert (_kept(noisy) == (randomness.astype(np.float64) < 0.1 * 2.0**56)).all()  # consistent by trace id
        assert set(noisy.spans.column("SampleWeight").to_numpy()[_kept(noisy)]) == {10.0}
        noisy_kept, noisy_total = noisy_kept + int(_kept(noisy).sum()), noisy_total + noisy.num_spans
    mean, sd = noisy_total * 0.1, (noisy_total * 0.1 * 0.9) ** 0.5
    assert abs(noisy_kept - mean) < 4 * sd  # binomial bounds: about 100 of 1,000 per second
    assert sampler.stats["budget_factor_ppm"] == 100_000  # the lowest factor: the noisy project's


def test_budgets_are_bounded_and_idle_projects_forgotten() -> None:
    assert MAX_BUDGETS >= MAX_PROJECTS  # every project the server allows keeps its budget
    now = [0.0]
    sampler = HeadSamplingProcessor(HeadSamplingSettings(budget_spans_per_s=100, budget_window_s=1), clock=lambda: now[0])
    batch = _batch(5)
    for n in range(MAX_BUDGETS + 10):
        with acting(for_project(f"p{n}")):
            sampler.process(batch)
    assert list(sampler._budgets) == [f"p{n}" for n in range(10, MAX_BUDGETS + 10)]  # the least recently seen went
    now[0] = IDLE_WINDOWS + 0.5
    with acting(for_project("p3")):
        sampler.process(batch)
    assert list(sampler._budgets) == ["p3"]


def test_a_budget_needs_the_batch_project() -> None:
    sampler = HeadSamplingProcessor(HeadSamplingSettings(budget_spans_per_s=100))
    with acting(SYSTEM), pytest.raises(NoRequestContext):
        sampler.process(_batch(5))
    with acting(SYSTEM):  # without a budget the project does not matter
        assert HeadSamplingProcessor(HeadSamplingSettings(default_rate=0.5)).process(_batch(5)).num_spans == 5

"""Service signals stay exact under sampling: RED, latency series and dependency edges of a
real server running head sampling (10%, 1%) and tail sampling (errors kept, 5% of the
rest) equal the figures the test computes from every span it sent (percentiles within
their histogram bucket), and agree with `/metrics`."""

from __future__ import annotations

import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from server_process import SpanwiseProcess

from spanwise.core.metrics import DURATION_BUCKETS_MS

pytestmark = pytest.mark.slow
REQUESTS = 1_200
ERRORS = 14
#: caller service -> called service, one caller each: edges are exact (see store.clickhouse.service_signals)
CHAIN = ("sig-frontend", "sig-checkout", "sig-model")


@dataclass
class Truth:
    durations_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    edges: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))


def _span(spans: dict[str, list[Span]], service: str, trace: bytes, parent: bytes, start: int, ms: float,
          kind: int, error: bool, rng: random.Random) -> bytes:
    span = Span(trace_id=trace, span_id=rng.randbytes(8), parent_span_id=parent, name=f"{service}-{kind}", kind=kind,
                start_time_unix_nano=start, end_time_unix_nano=start + int(ms * 1e6))
    if error:
        span.status.code = Status.STATUS_CODE_ERROR
    spans[service].append(span)
    return span.span_id


def _traffic(rng: random.Random, now: int) -> tuple[list[bytes], Truth]:
    """One request: frontend SERVER -> CLIENT -> checkout SERVER -> CLIENT -> model SERVER;
    a failing model call errors the model's server span and checkout's client span."""
    truth, spans = Truth(), defaultdict(list)
    failing = set(rng.sample(range(REQUESTS), ERRORS))
    for i in range(REQUESTS):
        trace, error = rng.randbytes(16), i in failing
        model_ms = rng.lognormvariate(2.5, 0.8)
        durations = {CHAIN[2]: model_ms, CHAIN[1]: model_ms + rng.uniform(1, 30)}
        durations[CHAIN[0]] = durations[CHAIN[1]] + rng.uniform(1, 300)
        parent = b""
        for depth, service in enumerate(CHAIN):
            start = now + depth * 1000
            parent = _span(spans, service, trace, parent, start, durations[service], Span.SPAN_KIND_SERVER,
                           error and depth == 2, rng)
            truth.durations_ms[service].append(durations[service])
            truth.errors[service] += error and depth == 2
            if depth > 0:
                truth.edges[(CHAIN[depth - 1], service)][0] += 1
                truth.edges[(CHAIN[depth - 1], service)][1] += error and depth == 2
            if depth < 2:
                parent = _span(spans, service, trace, parent, start + 10, durations[CHAIN[depth + 1]] + 0.5,
                               Span.SPAN_KIND_CLIENT, error and depth == 1, rng)
                truth.durations_ms[service].append(durations[CHAIN[depth + 1]] + 0.5)
                truth.errors[service] += error and depth == 1
    bodies = []
    for service, service_spans in spans.items():  # each service exports on its own, in several batches
        for chunk in range(0, len(service_spans), 500):
            request = ExportTraceServiceRequest()
            resource = request.resource_spans.add()
            kv = resource.resource.attributes.add()
            kv.key, kv.value.string_value = "service.name", service
            resource.scope_spans.add().spans.extend(service_spans[chunk:chunk + 500])
            bodies.append(request.SerializeToString())
    rng.shuffle(bodies)
    return bodies, truth


def _bucket(ms: float) -> int:
    return sum(ms > bound for bound in DURATION_BUCKETS_MS)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _start(tmp_path: os.PathLike[str], sampling: str) -> SpanwiseProcess:
    config = os.path.join(tmp_path, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(f"ingest:\n  flush_interval_ms: 100\nsampling:\n{sampling}")
    server = SpanwiseProcess(os.path.join(tmp_path, "data"), ["--config", config])
    server.start()
    return server


SAMPLING = {
    "head-10%": "  enabled: true\n  default_rate: 0.1\n",
    "head-1%": "  enabled: true\n  default_rate: 0.01\n",
    "tail-5%": "  tail:\n    enabled: true\n    decision_wait_s: 1\n    keep_errors: true\n    probabilistic_rate: 0.05\n",
}


@pytest.mark.parametrize("sampling", list(SAMPLING))
def test_service_figures_equal_the_unsampled_truth(tmp_path: os.PathLike[str], sampling: str) -> None:
    server = _start(tmp_path, SAMPLING[sampling])
    try:
        bodies, truth = _traffic(random.Random(15), time.time_ns() - 20 * 10**9)
        for body in bodies:
            answer = httpx.post(f"{server.http_url}/v1/traces", content=body,
                                headers={"Content-Type": "application/x-protobuf"})
            assert answer.status_code == 200
        total = sum(len(d) for d in truth.durations_ms.values())

        def red() -> dict[str, dict[str, float]]:
            rows = server.query("/api/v1/metrics/red", lookback="1h").json()["rows"]
            return {r["name"]: r for r in rows if r["name"] in CHAIN}

        assert server.wait_for(lambda: sum(r["count"] for r in red().values()) == total, timeout=30), red()
        if sampling.startswith("tail"):  # every trace decided, and settled once more with nothing left
            assert server.wait_for(lambda: _decided(server) >= REQUESTS, timeout=30), server.status()
            time.sleep(2)
        assert _stored(server) < total / 3, "the configuration must actually sample"
        _assert_red(red(), truth)
        _assert_latency(server, truth)
        edges = {(d["parent"], d["child"]): d for d in server.query("/api/v1/dependencies", lookback="1h").json()["dependencies"]}
        assert {k: [d["call_count"], d["error_count"]] for k, d in edges.items() if k[0] in CHAIN} == dict(truth.edges)
        jaeger = server.query("/api/dependencies", lookback=3_600_000).json()["data"]
        assert {(d["parent"], d["child"]): d["callCount"] for d in jaeger if d["parent"] in CHAIN} == {
            k: calls for k, (calls, _) in truth.edges.items()}
    finally:
        server.stop()


def _stored(server: SpanwiseProcess) -> int:
    return int(server.status()["spans"])


def _decided(server: SpanwiseProcess) -> int:
    return sum(n for k, n in server.status()["tail_sampling"].items() if k.startswith("traces_"))


def _assert_red(rows: dict[str, dict[str, float]], truth: Truth) -> None:
    for service, durations in truth.durations_ms.items():
        row = rows[service]
        assert (row["count"], row["error_count"]) == (len(durations), truth.errors[service]), service
        assert row["error_rate"] == pytest.approx(truth.errors[service] / len(durations))
        for q, key in ((0.5, "p50_ms"), (0.95, "p95_ms")):
            assert abs(_bucket(row[key]) - _bucket(_quantile(durations, q))) <= 1, (service, key, row[key])


def _assert_latency(server: SpanwiseProcess, truth: Truth) -> None:
    for service, durations in truth.durations_ms.items():
        points = server.query("/api/v1/metrics/latency", service=service, lookback="1h", step=3600).json()["points"]
        assert sum(p["count"] for p in points) == len(durations), service
        assert sum(p["error_count"] for p in points) == truth.errors[service], service
        if len(points) == 1:
            assert abs(_bucket(points[0]["p95_ms"]) - _bucket(_quantile(durations, 0.95))) <= 1

"""Head sampling at 1%: full spans of 1% of traces are stored, model analytics see all."""

from __future__ import annotations

import os
import random

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow
TRACES = 4_000


def _requests(rng: random.Random, now: int) -> tuple[list[bytes], list[str]]:
    bodies, trace_ids = [], []
    for _ in range(TRACES // 500):
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", "sampled-svc"
        ss = rs.scope_spans.add()
        for _ in range(500):
            trace_id = rng.randbytes(16)
            trace_ids.append(trace_id.hex())
            root = ss.spans.add()
            root.trace_id, root.span_id, root.name = trace_id, rng.randbytes(8), "request"
            root.start_time_unix_nano, root.end_time_unix_nano = now, now + 5_000_000
            predict = ss.spans.add()
            predict.trace_id, predict.span_id, predict.parent_span_id = trace_id, rng.randbytes(8), root.span_id
            predict.name = "predict"
            predict.start_time_unix_nano, predict.end_time_unix_nano = now + 1000, now + 2_000_000
            for key, value in (("ml.model.name", "churn"), ("ml.prediction.confidence", rng.random())):
                attr = predict.attributes.add()
                attr.key = key
                if isinstance(value, str):
                    attr.value.string_value = value
                else:
                    attr.value.double_value = value
        bodies.append(request.SerializeToString())
    return bodies, trace_ids


def test_one_percent_head_sampling(tmp_path: os.PathLike[str]) -> None:
    config = os.path.join(tmp_path, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write("sampling:\n  enabled: true\n  default_rate: 0.01\n")
    server = SpanwiseProcess(os.path.join(tmp_path, "data"), ["--config", config])
    server.start()
    try:
        import time

        bodies, trace_ids = _requests(random.Random(7), time.time_ns() - 60 * 10**9)
        for body in bodies:
            response = httpx.post(f"{server.http_url}/v1/traces", content=body, headers={"Content-Type": "application/x-protobuf"})
            assert response.status_code == 200
        kept = [t for t in trace_ids if int(t[-14:], 16) < 0.01 * 2**56]
        assert 10 < len(kept) < 80
        status = server.wait_for(lambda: server.status()["predictions"] >= TRACES and server.status())
        assert status["predictions"] == TRACES  # every prediction, sampled or not
        assert status["spans"] == 2 * len(kept)  # full spans of the kept traces only
        trace = server.query(f"/api/v1/traces/{kept[0]}").json()
        assert len(trace["spans"]) == 2 and {s["sampleWeight"] for s in trace["spans"]} == {100.0}
        dropped = next(t for t in trace_ids if t not in set(kept))
        assert server.query(f"/api/v1/traces/{dropped}").status_code == 404
        assert status["processors"]["sampling.spans_kept"] == 2 * len(kept)
    finally:
        assert server.stop() == 0

"""A full disk: senders are told to retry (503 + Retry-After), nothing acknowledged is
lost, the server keeps serving and recovers once space is free again."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Iterator

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow


@pytest.fixture()
def small_disk(tmp_path: os.PathLike[str]) -> Iterator[str]:
    """A 96 MiB tmpfs of the test's own (the test runs as root, as CI does)."""
    mount_point = os.path.join(tmp_path, "disk")
    os.makedirs(mount_point)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", mount_point], check=True)
    yield mount_point
    subprocess.run(["umount", "-l", mount_point], check=False)


def _body(trace: int) -> bytes:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "disk"
    ss = rs.scope_spans.add()
    now = time.time_ns()
    for i in range(200):
        span = ss.spans.add()
        span.trace_id, span.span_id, span.name = trace.to_bytes(16, "big"), (i + 1).to_bytes(8, "big"), "op"
        span.start_time_unix_nano, span.end_time_unix_nano = now, now + 1000
        attr = span.attributes.add()
        attr.key, attr.value.string_value = "payload", "x" * 200
    return request.SerializeToString()


def _post(server: SpanwiseProcess, trace: int) -> httpx.Response:
    return httpx.post(f"{server.http_url}/v1/traces", content=_body(trace), headers={"Content-Type": "application/x-protobuf"}, timeout=30)


def _fill(path: str) -> None:
    with open(path, "wb") as handle:
        chunk = b"\0" * (1 << 20)
        try:
            while True:
                handle.write(chunk)
                handle.flush()
        except OSError:
            pass


def test_full_disk_refuses_with_retry_and_loses_nothing_acknowledged(small_disk: str) -> None:
    server = SpanwiseProcess(os.path.join(small_disk, "data"))
    server.log_path = os.path.join(os.path.dirname(small_disk), "server.log")
    server.start()
    try:
        acked = [t for t in range(1, 4) if _post(server, t).status_code == 200]
        assert acked == [1, 2, 3]
        filler = os.path.join(small_disk, "filler")
        _fill(filler)
        refused = [_post(server, t) for t in range(10, 30)]
        codes = {r.status_code for r in refused}
        assert codes <= {200, 503, 429} and codes & {503, 429}, codes
        for response in refused:
            if response.status_code != 200:
                assert int(response.headers["Retry-After"]) >= 1
            else:
                acked.append(10 + refused.index(response))
        assert server.query("/api/v1/health").status_code == 200
        os.remove(filler)
        assert server.wait_for(lambda: _post(server, 99).status_code == 200, timeout=30)
        acked.append(99)
        def missing() -> list[int]:
            return [t for t in acked if len(server.query(f"/api/v1/traces/{t:032x}").json().get("spans", [])) != 200]
        assert server.wait_for(lambda: not missing(), timeout=60), (missing(), server.status())
    finally:
        assert server.stop() == 0

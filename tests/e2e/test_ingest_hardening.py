"""What once stopped all storage: one request of spans a day apart each made every flush
fail forever (ClickHouse's partitions-per-insert limit), 429 for everyone after it and a
restart that exited on the replay. Now such spans are rejected by the time window, a batch
the store refuses anyway is quarantined (counted, visible, replayable) without blocking
what comes after it, and a damaged ingest-log segment does not stop start-up."""

from __future__ import annotations

import os
import time

import httpx
import pyarrow as pa
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from server_process import SpanwiseProcess

from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests
from spanwise.store import segment_file

pytestmark = pytest.mark.slow

DAY = 86_400 * 10**9
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def _request(service: str, starts: list[int], first_trace: int = 1) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", service
    ss = rs.scope_spans.add()
    for i, start in enumerate(starts, first_trace):
        span = ss.spans.add()
        span.trace_id, span.span_id, span.name = i.to_bytes(16, "big"), i.to_bytes(8, "big"), "op"
        span.start_time_unix_nano, span.end_time_unix_nano = start, min(start + 1_000_000, 2**64 - 1)
    return request


def _post(server: SpanwiseProcess, request: ExportTraceServiceRequest) -> ExportTraceServiceResponse:
    response = httpx.post(f"{server.http_url}/v1/traces", content=request.SerializeToString(), headers=PROTOBUF, timeout=30)
    assert response.status_code == 200, response.text
    return ExportTraceServiceResponse.FromString(response.content)


def test_spans_a_day_apart_each_no_longer_stop_storage(tmp_path: os.PathLike[str]) -> None:
    data_dir = os.path.join(tmp_path, "data")
    server = SpanwiseProcess(data_dir)
    server.start()
    try:
        now = time.time_ns()
        hostile = [now - i * DAY for i in range(150)] + [0, 1, 9_214_646_400 * 10**9, 2**63 - 1]
        answer = _post(server, _request("spread", hostile))
        assert answer.partial_success.rejected_spans == len(hostile) - 30
        assert "within 30 days before" in answer.partial_success.error_message
        after = _post(server, _request("after", [now], first_trace=1000))
        assert after.partial_success.rejected_spans == 0
        assert server.wait_for(lambda: server.query(f"/api/v1/traces/{1000:032x}").status_code == 200, timeout=20)
        # A span is readable once inserted, a moment before the flusher counts its segment done.
        assert server.wait_for(lambda: server.status()["pending_rows"] == 0, timeout=20), server.status()
        assert server.status()["quarantine"]["segments"] == 0
        assert server.wait_for(lambda: server.query(f"/api/v1/traces/{30:032x}").status_code == 200)
        assert server.query(f"/api/v1/traces/{31:032x}").status_code == 404  # 30 days old: rejected
        logs = ExportLogsServiceRequest()
        records = logs.resource_logs.add().scope_logs.add()
        for t in (now, 1, now + 30 * DAY):
            records.log_records.add(time_unix_nano=t).body.string_value = "x"
        response = httpx.post(f"{server.http_url}/v1/logs", content=logs.SerializeToString(), headers=PROTOBUF, timeout=30)
        assert response.status_code == 200
    finally:
        assert server.stop() == 0
    restarted = SpanwiseProcess(data_dir)
    restarted.start()
    try:
        assert restarted.query(f"/api/v1/traces/{1000:032x}").status_code == 200
    finally:
        assert restarted.stop() == 0


def _unstorable_segment(directory: str, name: str) -> int:
    """A segment an older build (no time window) could have left: 1,100 spans a day apart,
    more daily partitions than one insert may touch."""
    now = time.time_ns()
    request = _request("ancient", [now - i * DAY for i in range(1100)], first_trace=5000)
    spans = MlFieldsProcessor().process(decode_export_requests([request.SerializeToString()]).batch).spans
    writer = segment_file.Writer(os.path.join(directory, name))
    writer.append(spans)
    writer.close()
    return spans.num_rows


def _good_segment(directory: str, name: str, trace: int) -> None:
    request = _request("replayed", [time.time_ns()], first_trace=trace)
    spans = MlFieldsProcessor().process(decode_export_requests([request.SerializeToString()]).batch).spans
    writer = segment_file.Writer(os.path.join(directory, name))
    writer.append(spans)
    writer.close()


def test_unstorable_and_damaged_segments_are_quarantined_and_start_up_goes_on(tmp_path: os.PathLike[str]) -> None:
    data_dir = os.path.join(tmp_path, "data")
    log_dir = os.path.join(data_dir, "ingest-log")
    os.makedirs(log_dir)
    rows = _unstorable_segment(log_dir, "segment-00000000000000000001-000001.swlog")
    _good_segment(log_dir, "segment-00000000000000000002-000001.swlog", 7001)
    damaged = os.path.join(log_dir, "segment-00000000000000000003-000001.swlog")
    _good_segment(log_dir, os.path.basename(damaged), 7002)
    _good_segment(log_dir, "tmp.swlog", 7003)
    with open(damaged, "r+b") as handle, open(os.path.join(log_dir, "tmp.swlog"), "rb") as second:
        handle.seek(30)
        handle.write(b"\x00\x01\x02")  # damage the first frame
        handle.seek(0, os.SEEK_END)
        handle.write(second.read())  # a whole frame after it: not a torn tail
    os.remove(os.path.join(log_dir, "tmp.swlog"))
    server = SpanwiseProcess(data_dir)
    server.start()
    try:
        assert server.wait_for(lambda: server.status()["quarantine"]["segments"] == 2, timeout=30), server.status()
        quarantine = server.status()["quarantine"]
        assert quarantine["rows"] == rows
        assert "partitions" in server.log() and "checksum" in server.log()
        assert server.wait_for(lambda: server.query(f"/api/v1/traces/{7001:032x}").status_code == 200)
        assert sorted(os.listdir(os.path.join(log_dir, "quarantine")))[0].endswith(".swlog")
        late = _post(server, _request("later", [time.time_ns()], first_trace=7100))
        assert late.partial_success.rejected_spans == 0
        assert server.wait_for(lambda: server.query(f"/api/v1/traces/{7100:032x}").status_code == 200)
        refused = httpx.post(f"{server.query_url}/api/v1/ingest/quarantine/replay", timeout=10)
        assert refused.status_code == 415
        replay = httpx.post(f"{server.query_url}/api/v1/ingest/quarantine/replay", json={}, timeout=10)
        assert replay.status_code == 200 and replay.json() == {"requeued": 2}
        # Nothing was fixed, so both come back to quarantine; the server keeps serving.
        assert server.wait_for(lambda: server.status()["quarantine"]["segments"] == 2, timeout=30), server.status()
        assert server.query("/api/v1/health").status_code == 200
    finally:
        assert server.stop() == 0

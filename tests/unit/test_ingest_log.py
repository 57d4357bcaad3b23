"""The ingest log: acknowledged batches reach the store, survive a crash, and push back."""

from __future__ import annotations

import asyncio
import os
import time

import pyarrow as pa
import pytest

from spanwise.errors import PipelineFull, StoreRejected, StoreUnavailable
from spanwise.core.spans import SPAN_SCHEMA
from spanwise.request_context import DEFAULT_PROJECT
from spanwise.store.clickhouse.projects import LOGGED_SPAN_SCHEMA
from spanwise.store import ingest_log
from spanwise.store.ingest_log import IngestLog


class RecordingWriter:
    """A TraceWriter that keeps what it is given (the store's behaviour is covered by the
    contract suite; here only the log's hand-off matters). `poison` span ids make a batch
    permanently unstorable, as a batch the engine refuses is."""

    def __init__(self, fail: int = 0, poison: frozenset[str] = frozenset()) -> None:
        self.tables: list[pa.Table] = []
        self.tokens: list[str] = []
        self.attempts: list[str] = []
        self.fail = fail
        self.poison = poison

    def write_spans(self, spans: pa.Table, token: str = "") -> None:
        self.attempts.append(token)
        if self.fail:
            self.fail -= 1
            raise StoreUnavailable("disk full")
        if self.poison & set(spans.column("SpanId").to_pylist()):
            raise StoreRejected("Too many partitions for single INSERT block")
        self.tables.append(spans)
        self.tokens.append(token)

    @property
    def rows(self) -> int:
        return sum(t.num_rows for t in self.tables)


def _spans(count: int, first: int = 0) -> pa.Table:
    rows = SPAN_SCHEMA.empty_table().to_pylist()
    template = {name: None for name in SPAN_SCHEMA.names}
    base = {**template, "Timestamp": 0, "TraceId": "0" * 32, "ParentSpanId": "", "TraceState": "", "SpanName": "x",
            "SpanKind": "Internal", "ServiceName": "s", "ResourceAttributes": [], "ScopeName": "", "ScopeVersion": "",
            "SpanAttributes": [], "Duration": 1, "StatusCode": "Unset", "StatusMessage": "", "Events.Timestamp": [],
            "Events.Name": [], "Events.Attributes": [], "Links.TraceId": [], "Links.SpanId": [], "Links.TraceState": [],
            "Links.Attributes": [], "ResourceAttributeTypes": [], "SpanAttributeTypes": [], "IsPrediction": False,
            "ModelName": "", "ModelVersion": "", "PredictionId": "", "PredictionLabel": "", "Scores": [], "Features": [],
            "StringFeatures": [], "Attributions": [], "GroundTruth": "", "SampleWeight": 1.0}
    rows = [{**base, "SpanId": f"{first + i:016x}"} for i in range(count)]
    return pa.Table.from_pylist(rows, schema=SPAN_SCHEMA)


def test_acknowledged_batches_are_flushed_and_segments_removed(tmp_path: os.PathLike[str]) -> None:
    writer = RecordingWriter()
    log = IngestLog(str(tmp_path), writer, flush_interval_s=0.05)
    log.start()
    asyncio.run(log.commit(_spans(10)))
    asyncio.run(log.commit(_spans(5, 10)))
    log.shutdown()
    log.shutdown()
    assert writer.rows == 15
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".swlog")]


def test_segments_left_by_a_crash_are_replayed_and_a_torn_tail_is_skipped(tmp_path: os.PathLike[str]) -> None:
    crashed = IngestLog(str(tmp_path), RecordingWriter(), flush_interval_s=3600)
    crashed.start()
    asyncio.run(crashed.commit(_spans(7)))
    asyncio.run(crashed.commit(_spans(3, 7)))
    segment = [os.path.join(tmp_path, f) for f in os.listdir(tmp_path) if f.endswith(".swlog")][0]
    with open(segment, "ab") as handle:
        handle.write(b"\xff\xff\xff\xff\x10\x00")  # a write cut short by the crash
    writer = RecordingWriter()
    restarted = IngestLog(str(tmp_path), writer, flush_interval_s=0.05)
    restarted.start()
    assert restarted.replayed_rows == 10 and writer.rows == 10
    restarted.shutdown()


def test_back_pressure_when_the_store_cannot_keep_up(tmp_path: os.PathLike[str]) -> None:
    writer = RecordingWriter(fail=1_000_000)
    log = IngestLog(str(tmp_path), writer, flush_interval_s=0.01, max_pending_rows=20)
    log.start()
    asyncio.run(log.commit(_spans(15)))
    with pytest.raises(PipelineFull):
        asyncio.run(log.commit(_spans(10, 15)))
    writer.fail = 0
    log.shutdown()
    assert writer.rows == 15


def _segments(directory: os.PathLike[str] | str) -> list[str]:
    return sorted(os.path.join(directory, f) for f in os.listdir(directory) if f.startswith("segment-"))


def _crash_with(tmp_path: os.PathLike[str], *batches: pa.Table) -> list[str]:
    """Log `batches` (one segment each) and stop without flushing, as a kill would."""
    for batch in batches:
        crashed = IngestLog(str(tmp_path), RecordingWriter(fail=10**9), flush_interval_s=3600)
        crashed._replay = lambda path: None  # type: ignore[method-assign]  # leave earlier segments alone
        crashed.start()
        asyncio.run(crashed.commit(batch))
        crashed._stopping = True  # the flusher thread is a daemon: "killed" here
    return _segments(tmp_path)


def test_a_damaged_frame_quarantines_its_segment_and_the_rest_is_replayed(tmp_path: os.PathLike[str]) -> None:
    first, second = _crash_with(tmp_path, pa.concat_tables([_spans(4)]), _spans(6, 100))
    with open(first, "r+b") as handle:  # flip a byte inside the first frame's payload
        handle.seek(40)
        byte = handle.read(1)
        handle.seek(40)
        handle.write(bytes([byte[0] ^ 0xFF]))
        handle.seek(0, os.SEEK_END)
        handle.write(open(second, "rb").read())  # and a complete frame after it: not a torn tail
    writer = RecordingWriter()
    restarted = IngestLog(str(tmp_path), writer, flush_interval_s=0.05)
    restarted.start()
    restarted.shutdown()
    assert writer.rows == 6, "the undamaged segment is replayed"
    assert restarted.quarantined.segments == 1 and "checksum" in restarted.quarantined.last_error
    quarantined = os.listdir(os.path.join(tmp_path, ingest_log.QUARANTINE_DIR))
    assert sorted(quarantined) == [os.path.basename(first), os.path.basename(first) + ".error"]
    assert _segments(tmp_path) == []


def test_a_batch_the_store_refuses_is_quarantined_without_blocking_later_ones(tmp_path: os.PathLike[str]) -> None:
    writer = RecordingWriter(poison=frozenset({f"{3:016x}"}))
    log = IngestLog(str(tmp_path), writer, flush_interval_s=0.02)
    log.start()
    asyncio.run(log.commit(_spans(5)))  # holds the poisoned span
    time.sleep(0.3)
    asyncio.run(log.commit(_spans(5, 50)))
    deadline = time.monotonic() + 10
    while writer.rows < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.rows == 5, "the later batch is stored although the first one never can be"
    assert log.quarantined.segments == 1 and log.quarantined.rows == 5
    assert log.pending_rows == 0 and log.pending_bytes == 0
    attempts = [t for t in writer.attempts if t != writer.tokens[0]]
    assert len(attempts) == ingest_log.PERMANENT_ATTEMPTS, "tried again once, then set aside: never forever"
    writer.poison = frozenset()  # the fix
    assert log.requeue_quarantined() == 1
    deadline = time.monotonic() + 10
    while writer.rows < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    log.shutdown()
    assert writer.rows == 10 and log.quarantined.segments == 0
    assert os.listdir(os.path.join(tmp_path, ingest_log.QUARANTINE_DIR)) == []


def test_a_replay_the_store_refuses_does_not_stop_start_up(tmp_path: os.PathLike[str]) -> None:
    _crash_with(tmp_path, _spans(3), _spans(4, 10))
    writer = RecordingWriter(poison=frozenset({f"{1:016x}"}))
    restarted = IngestLog(str(tmp_path), writer, flush_interval_s=0.02)
    restarted.start()  # does not raise
    deadline = time.monotonic() + 10
    while restarted.quarantined.segments == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    restarted.shutdown()
    assert writer.rows == 4 and restarted.replayed_rows == 4
    assert restarted.quarantined.segments == 1 and restarted.quarantined.rows == 3


def test_a_retry_reuses_the_segment_token(tmp_path: os.PathLike[str]) -> None:
    writer = RecordingWriter(fail=2)
    log = IngestLog(str(tmp_path), writer, flush_interval_s=0.01)
    ingest_log.RETRY_PAUSE_S, pause = 0.01, ingest_log.RETRY_PAUSE_S
    try:
        log.start()
        asyncio.run(log.commit(_spans(3)))
        deadline = time.monotonic() + 10
        while writer.rows < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        log.shutdown()
    finally:
        ingest_log.RETRY_PAUSE_S = pause
    assert writer.rows == 3
    assert len(set(writer.attempts)) == 1 and writer.attempts[0].endswith(".swlog"), writer.attempts


def test_segments_of_the_first_format_and_of_older_schemas_are_replayed(tmp_path: os.PathLike[str]) -> None:
    legacy = _spans(4).drop_columns(["GroundTruth"])  # an older build had fewer columns
    path = os.path.join(tmp_path, "segment-00000000000000000001-000001.arrows")
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, legacy.schema) as stream:
        stream.write_table(legacy)
    writer = RecordingWriter()
    restarted = IngestLog(str(tmp_path), writer, flush_interval_s=0.05)
    restarted.start()
    restarted.shutdown()
    assert writer.rows == 4 and writer.tables[0].schema == LOGGED_SPAN_SCHEMA
    assert set(writer.tables[0].column("Project").to_pylist()) == {DEFAULT_PROJECT}  # written before projects
    assert not os.path.exists(path)


def test_pending_bytes_are_bounded(tmp_path: os.PathLike[str]) -> None:
    writer = RecordingWriter(fail=10**9)
    log = IngestLog(str(tmp_path), writer, flush_interval_s=0.01, max_pending_bytes=_spans(10).nbytes * 2)
    log.start()
    asyncio.run(log.commit(_spans(10)))
    with pytest.raises(PipelineFull, match="bytes"):
        asyncio.run(log.commit(_spans(30, 10)))
    writer.fail = 0
    log.shutdown()
    assert writer.rows == 10

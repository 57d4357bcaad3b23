"""The ingest log: acknowledged batches reach the store, survive a crash, and push back."""

from __future__ import annotations

import asyncio
import os

import pyarrow as pa
import pytest

from spanwise.errors import PipelineFull, StoreUnavailable
from spanwise.model.spans import SPAN_SCHEMA
from spanwise.store.ingest_log import IngestLog


class RecordingWriter:
    """A TraceWriter that keeps what it is given (the store's behaviour is covered by the
    contract suite; here only the log's hand-off matters)."""

    def __init__(self, fail: int = 0) -> None:
        self.tables: list[pa.Table] = []
        self.fail = fail

    def write_spans(self, spans: pa.Table) -> None:
        if self.fail:
            self.fail -= 1
            raise StoreUnavailable("disk full")
        self.tables.append(spans)

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
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".arrows")]


def test_segments_left_by_a_crash_are_replayed_and_a_torn_tail_is_skipped(tmp_path: os.PathLike[str]) -> None:
    crashed = IngestLog(str(tmp_path), RecordingWriter(), flush_interval_s=3600)
    crashed.start()
    asyncio.run(crashed.commit(_spans(7)))
    asyncio.run(crashed.commit(_spans(3, 7)))
    segment = [os.path.join(tmp_path, f) for f in os.listdir(tmp_path) if f.endswith(".arrows")][0]
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

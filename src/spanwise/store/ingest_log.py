"""The acknowledgement point: an append-only log of processed span batches.

Why not insert per request: each insert into the columnar store costs tens of
milliseconds whatever its size (a part per table, plus background merges), so
insert-per-request group commit topped out near 20k spans/s with four concurrent
senders. Instead a request's processed spans are appended to a log segment on the
store's disk (Arrow IPC) and the request is answered; a flusher thread moves
everything logged into the store in large inserts (every `flush_interval_s` or
`flush_rows`), then deletes the segment. On start, segments left by a crash or a
kill are replayed into the store first, so acknowledged spans are never lost; a
replay may write a span twice (at-least-once), and readers deduplicate by span id.

Without `fsync`, a SIGKILL loses nothing acknowledged (the data is in the kernel's
page cache) but a power loss can lose the last seconds, as with ClickHouse's own
defaults; with `fsync` every append is synced before the answer.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import threading
import time

import pyarrow as pa

from spanwise.errors import PipelineFull, SpanwiseError, StoreUnavailable
from spanwise.model.spans import SPAN_SCHEMA
from spanwise.store.api import TraceWriter

log = logging.getLogger(__name__)
_SEGMENT_GLOB = "segment-*.arrows"
RETRY_PAUSE_S = 1.0


class IngestLog:
    """Durable, bounded hand-off from receivers to the store writer."""

    def __init__(
        self,
        directory: str,
        writer: TraceWriter,
        flush_interval_s: float = 0.5,
        flush_rows: int = 100_000,
        max_pending_rows: int = 500_000,
        fsync: bool = False,
    ) -> None:
        self._directory = directory
        self._writer = writer
        self._flush_interval_s = flush_interval_s
        self._flush_rows = flush_rows
        self._max_pending_rows = max_pending_rows
        self._fsync = fsync
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._segment_path = ""
        self._closed_segments: list[str] = []
        self._segment: pa.ipc.RecordBatchStreamWriter | None = None
        self._segment_file: pa.OSFile | None = None
        self._sequence = 0
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.flushed_rows = 0
        self.failed_flushes = 0
        self.replayed_rows = 0

    def start(self) -> None:
        """Replay what a previous run left, then accept new batches."""
        if self._thread is not None:
            return
        os.makedirs(self._directory, exist_ok=True)
        self._replay()
        self._thread = threading.Thread(target=self._run, name="spanwise-flusher", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop accepting, flush everything logged into the store, close the log."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def pending_rows(self) -> int:
        return self._pending_rows

    async def commit(self, spans: pa.Table) -> None:
        """Log `spans` durably; raise `PipelineFull` when too much waits for the store."""
        if spans.num_rows == 0:
            return
        batch = spans.select(SPAN_SCHEMA.names).cast(SPAN_SCHEMA)
        if self._fsync:
            await asyncio.to_thread(self._append, batch)
        else:
            self._append(batch)

    def _append(self, batch: pa.Table) -> None:
        with self._lock:
            if self._stopping:
                raise StoreUnavailable("shutting down")
            if self._pending_rows and self._pending_rows + batch.num_rows > self._max_pending_rows:
                raise PipelineFull(f"{self._pending_rows} spans are waiting to be stored; retry later")
            try:
                if self._segment is None:
                    self._open_segment()
                assert self._segment is not None and self._segment_file is not None
                self._segment.write_table(batch)
                self._segment_file.flush()
                if self._fsync:
                    os.fsync(self._segment_file.fileno())
            except (OSError, pa.ArrowException) as exc:
                # A failed write (say, a full disk) may leave a torn batch at the segment's
                # end: later batches go to a new segment, so a replay reads all of them.
                self._abandon_segment()
                raise StoreUnavailable(f"cannot write the ingest log: {exc}") from exc
            self._pending.append(batch)
            self._pending_rows += batch.num_rows
            if self._pending_rows >= self._flush_rows:
                self._wake.notify_all()

    def _open_segment(self) -> None:
        self._sequence += 1
        name = f"segment-{time.time_ns():020d}-{self._sequence:06d}.arrows"
        self._segment_path = os.path.join(self._directory, name)
        self._segment_file = pa.OSFile(self._segment_path, "wb")
        self._segment = pa.ipc.new_stream(self._segment_file, SPAN_SCHEMA)

    def _abandon_segment(self) -> None:
        """Close the current segment (if any) and remember it for deletion after the next
        flush, which stores everything it acknowledged."""
        if self._segment_file is None:
            return
        for closing in (self._segment, self._segment_file):
            try:
                if closing is not None:
                    closing.close()
            except (OSError, pa.ArrowException):
                pass  # its acknowledged batches are already complete on disk and in memory
        self._closed_segments.append(self._segment_path)
        self._segment = self._segment_file = None

    def _run(self) -> None:
        while True:
            with self._lock:
                deadline = time.monotonic() + self._flush_interval_s
                while not self._stopping and self._pending_rows < self._flush_rows:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._wake.wait(remaining)
                stopping = self._stopping
                tables, rows = self._pending, self._pending_rows
                if tables or stopping:
                    self._abandon_segment()  # the next append opens a fresh one
                done, self._closed_segments = self._closed_segments, []
                self._pending = []
            if tables:
                self._flush(tables, rows)
            for segment in done:
                os.remove(segment)
            if stopping:
                return

    def _flush(self, tables: list[pa.Table], rows: int) -> None:
        """Insert into the store, retrying until it succeeds or the log is stopping."""
        combined = pa.concat_tables(tables)
        while True:
            try:
                self._writer.write_spans(combined)
                break
            except SpanwiseError as exc:
                self.failed_flushes += 1
                log.warning("flush of %d spans failed, will retry: %s", rows, exc)
                if self._stopping:
                    log.error("leaving %d spans in the ingest log for the next start", rows)
                    raise
                time.sleep(RETRY_PAUSE_S)
        with self._lock:
            self._pending_rows -= rows
        self.flushed_rows += rows

    def _replay(self) -> None:
        for path in sorted(glob.glob(os.path.join(self._directory, _SEGMENT_GLOB))):
            try:
                with pa.OSFile(path, "rb") as source:
                    table = _read_complete_batches(source)
            except (OSError, pa.ArrowException) as exc:
                log.error("cannot read ingest log segment %s: %s", path, exc)
                continue
            if table.num_rows:
                self._writer.write_spans(table)
                self.replayed_rows += table.num_rows
                log.info("replayed %d spans from %s", table.num_rows, os.path.basename(path))
            os.remove(path)


def _read_complete_batches(source: pa.NativeFile) -> pa.Table:
    """Every whole record batch of a segment; a torn last batch (crash mid-write) was
    never acknowledged, so it is skipped."""
    batches = []
    try:
        reader = pa.ipc.open_stream(source)
        for batch in reader:
            batches.append(batch)
    except (pa.ArrowInvalid, OSError):
        pass
    return pa.Table.from_batches(batches, SPAN_SCHEMA) if batches else SPAN_SCHEMA.empty_table()

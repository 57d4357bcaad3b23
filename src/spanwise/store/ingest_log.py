"""The acknowledgement point: an append-only log of processed span batches.

Why not insert per request: each insert into the columnar store costs tens of
milliseconds whatever its size (a part per table, plus background merges), so
insert-per-request group commit topped out near 20k spans/s with four concurrent
senders. Instead a request's processed spans are appended to a log segment on the
store's disk and the request is answered; a flusher thread moves each segment into the
store in one insert (every `flush_interval_s` or `flush_rows`), then deletes it.

What makes that safe:
- Every batch is a frame with a CRC-32 (`segment_file`): on start, segments left by a
  crash are replayed; a torn last frame (never acknowledged) is skipped, a damaged frame
  elsewhere quarantines the segment instead of replaying half of it.
- A segment is inserted with its file name as ClickHouse's deduplication token, and every
  table fed from the ingest table keeps a deduplication window: a retried or replayed
  insert that had already reached some tables does not count twice there.
- A segment the store refuses for a permanent reason (a batch it can never store) is
  moved to `quarantine/` with the error beside it, counted, and skipped: it never blocks
  the segments behind it and is never retried forever. `requeue_quarantined()` puts it
  back after a fix. Transient refusals (disk full, memory, shutting down) are retried
  with back-off while new requests get "retry later" once the pending bounds are reached.
- Pending data is bounded in rows and in bytes (`PipelineFull` past either).

Without `fsync`, a SIGKILL loses nothing acknowledged (the data is in the kernel's page
cache) but a power loss can lose the last seconds, as with ClickHouse's own defaults;
with `fsync`, every append and every new segment's directory entry are synced before the
answer, and the store syncs its parts before an insert returns (`fsync_after_insert`), so
a segment is deleted only after its rows are on disk.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import pyarrow as pa

from spanwise.errors import PipelineFull, SpanwiseError, StoreUnavailable
from spanwise.store.clickhouse.projects import LOGGED_SPAN_SCHEMA, with_project
from spanwise.store import segment_file
from spanwise.store.protocols import TraceWriter

log = logging.getLogger(__name__)
QUARANTINE_DIR = "quarantine"
RETRY_PAUSE_S = 1.0
MAX_RETRY_PAUSE_S = 30.0
#: Attempts before a segment refused for a permanent reason is quarantined: one more try
#: after a pause guards against an error that only looked permanent.
PERMANENT_ATTEMPTS = 2


@dataclass
class _Segment:
    """One log file: the batches appended to it (None once only on disk: replayed)."""

    path: str
    rows: int = 0
    nbytes: int = 0
    tables: list[pa.Table] | None = field(default_factory=list)
    replayed: bool = False
    attempts: int = 0

    @property
    def token(self) -> str:
        """The store's deduplication token: the same for a flush and any later replay."""
        return os.path.basename(self.path)

    def load(self) -> pa.Table:
        """Every batch of the segment as one single-chunk table (the same blocks, so the
        same deduplication ids, whether it comes from memory or from disk)."""
        if self.tables is None:
            table = segment_file.read(self.path)
        else:
            table = pa.concat_tables(self.tables) if self.tables else LOGGED_SPAN_SCHEMA.empty_table()
        return table.combine_chunks()


@dataclass
class QuarantineStats:
    """What sits in quarantine now."""

    segments: int = 0
    rows: int = 0
    bytes: int = 0
    last_error: str = ""


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
        max_pending_bytes: int = 512 * 1024 * 1024,
    ) -> None:
        self._directory = directory
        self._quarantine = os.path.join(directory, QUARANTINE_DIR)
        self._writer = writer
        self._flush_interval_s = flush_interval_s
        self._flush_rows = flush_rows
        self._max_pending_rows = max_pending_rows
        self._max_pending_bytes = max_pending_bytes
        self._fsync = fsync
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._open: _Segment | None = None
        self._open_file: segment_file.Writer | None = None
        self._sealed: deque[_Segment] = deque()
        self._pending_rows = 0
        self._pending_bytes = 0
        self._sequence = 0
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.flushed_rows = 0
        self.failed_flushes = 0
        self.replayed_rows = 0
        self.quarantined = QuarantineStats()

    def start(self) -> None:
        """Replay what a previous run left, then accept new batches. A segment the store
        cannot take now stays queued for the flusher: start-up never fails on one."""
        if self._thread is not None:
            return
        os.makedirs(self._quarantine, exist_ok=True)
        self._count_quarantine()
        for path in segment_file.list_segments(self._directory):
            self._replay(path)
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

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    async def commit(self, spans: pa.Table) -> None:
        """Log `spans` durably; raise `PipelineFull` when too much waits for the store."""
        if spans.num_rows == 0:
            return
        batch = with_project(spans)
        if self._fsync:
            await asyncio.to_thread(self._append, batch)
        else:
            self._append(batch)

    def _append(self, batch: pa.Table) -> None:
        with self._lock:
            if self._stopping:
                raise StoreUnavailable("shutting down")
            self._check_room(batch)
            try:
                if self._open_file is None:
                    self._open_segment()
                assert self._open is not None and self._open_file is not None and self._open.tables is not None
                written = self._open_file.append(batch)
            except (OSError, pa.ArrowException) as exc:
                # A failed write (say, a full disk) may leave a torn frame at the segment's
                # end: later batches go to a new segment, and a replay skips the torn tail.
                self._seal()
                raise StoreUnavailable(f"cannot write the ingest log: {exc}") from exc
            self._open.tables.append(batch)
            self._open.rows += batch.num_rows
            self._open.nbytes += written
            self._pending_rows += batch.num_rows
            self._pending_bytes += written
            if self._open.rows >= self._flush_rows:
                self._wake.notify_all()

    def _check_room(self, batch: pa.Table) -> None:
        """Back-pressure: refuse when rows or bytes waiting for the store would pass their bounds."""
        if self._pending_rows and self._pending_rows + batch.num_rows > self._max_pending_rows:
            raise PipelineFull(f"{self._pending_rows} spans are waiting to be stored; retry later")
        if self._pending_bytes and self._pending_bytes + batch.nbytes > self._max_pending_bytes:
            raise PipelineFull(f"{self._pending_bytes} bytes of spans are waiting to be stored; retry later")

    def _open_segment(self) -> None:
        self._sequence += 1
        name = f"{segment_file.PREFIX}{time.time_ns():020d}-{self._sequence:06d}{segment_file.SUFFIX}"
        path = os.path.join(self._directory, name)
        self._open_file = segment_file.Writer(path, fsync=self._fsync)
        self._open = _Segment(path)

    def _seal(self) -> None:
        """Close the open segment (if any) and queue it for the flusher."""
        if self._open is None:
            return
        if self._open_file is not None:
            self._open_file.close()
        if self._open.rows:
            self._sealed.append(self._open)
        else:
            _remove(self._open.path)
        self._open = self._open_file = None

    def _run(self) -> None:
        while True:
            with self._lock:
                deadline = time.monotonic() + self._flush_interval_s
                while not self._stopping and (self._open is None or self._open.rows < self._flush_rows):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._wake.wait(remaining)
                stopping = self._stopping
                self._seal()
                queued = list(self._sealed)
            for segment in queued:
                if not self._store(segment):
                    log.error("leaving %d spans in the ingest log for the next start", self._pending_rows)
                    break
            if stopping:
                return

    def _store(self, segment: _Segment, retry: bool = True) -> bool:
        """Insert one segment, retrying transient failures with back-off; quarantine it when
        the store refuses it for good. False when it is left queued (stopping, or `retry`
        off): the flusher, or the next start, tries again."""
        attempts, pause = 0, RETRY_PAUSE_S
        while True:
            attempts += 1
            try:
                self._writer.write_spans(segment.load(), token=segment.token)
                self._done(segment)
                return True
            except Exception as exc:  # noqa: BLE001 - the flusher must outlive any failure: it is counted, logged, quarantined
                if not isinstance(exc, (SpanwiseError, OSError, pa.ArrowException, segment_file.CorruptSegment)):
                    log.exception("unexpected failure storing %s", segment.token)
                self.failed_flushes += 1
                segment.attempts += 1
                if not isinstance(exc, StoreUnavailable) and segment.attempts >= PERMANENT_ATTEMPTS:
                    self._quarantine_segment(segment, exc)
                    return True
                log.warning("storing %d spans from %s failed (attempt %d), will retry: %s",
                            segment.rows, segment.token, segment.attempts, exc)
                if not retry or self._stopping:
                    return False
                time.sleep(pause)
                pause = min(pause * 2, MAX_RETRY_PAUSE_S)

    def _done(self, segment: _Segment) -> None:
        """Forget a segment the store took."""
        _remove(segment.path)
        if self._fsync:
            segment_file.sync_directory(self._directory)
        self._dequeue(segment)
        self.flushed_rows += segment.rows
        if segment.replayed:
            self.replayed_rows += segment.rows
            log.info("replayed %d spans from %s", segment.rows, segment.token)

    def _enqueue(self, segment: _Segment) -> None:
        with self._lock:
            self._sealed.append(segment)
            self._pending_rows += segment.rows
            self._pending_bytes += segment.nbytes
            self._wake.notify_all()

    def _dequeue(self, segment: _Segment) -> None:
        with self._lock:
            self._sealed.remove(segment)
            self._pending_rows -= segment.rows
            self._pending_bytes -= segment.nbytes

    def _quarantine_segment(self, segment: _Segment, error: BaseException) -> None:
        """Move a segment the store cannot take aside, with the reason beside it."""
        target = os.path.join(self._quarantine, segment.token)
        os.replace(segment.path, target)
        with open(target + ".error", "w", encoding="utf-8") as note:
            note.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {type(error).__name__}: {error}\n")
        segment_file.sync_directory(self._quarantine)
        self.quarantined.segments += 1
        self.quarantined.rows += segment.rows
        self.quarantined.bytes += segment.nbytes
        self.quarantined.last_error = str(error)[:500]
        log.error("quarantined %d spans (%s): the store refused them: %s", segment.rows, segment.token, error)
        self._dequeue(segment)

    def _replay(self, path: str) -> None:
        """Store a segment a previous run left; one the store cannot take now stays queued
        for the flusher, a damaged one goes to quarantine."""
        segment = _Segment(path, nbytes=os.path.getsize(path), tables=None, replayed=True)
        try:
            segment.rows = segment_file.count_rows(path)
        except segment_file.CorruptSegment as exc:
            self._enqueue(segment)
            self._quarantine_segment(segment, exc)
            return
        if not segment.rows:
            _remove(path)
            return
        self._enqueue(segment)
        self._store(segment, retry=False)

    def requeue_quarantined(self) -> int:
        """Move every quarantined segment back into the log (after a fix): the flusher
        stores them, or quarantines them again with the new error. Returns how many."""
        moved = []
        for path in segment_file.list_segments(self._quarantine):
            target = os.path.join(self._directory, os.path.basename(path))
            os.replace(path, target)
            _remove(path + ".error")
            moved.append(target)
        self._count_quarantine()
        for path in moved:
            try:
                rows = segment_file.count_rows(path)
            except segment_file.CorruptSegment:
                rows = 0  # the flusher's read fails the same way and quarantines it again
            self._enqueue(_Segment(path, rows=rows, nbytes=os.path.getsize(path), tables=None, replayed=True))
        return len(moved)

    def _count_quarantine(self) -> None:
        """Quarantine totals from the files on disk (they outlive restarts)."""
        stats = QuarantineStats()
        for path in segment_file.list_segments(self._quarantine):
            stats.segments += 1
            stats.bytes += os.path.getsize(path)
            try:
                stats.rows += segment_file.count_rows(path)
            except segment_file.CorruptSegment:
                pass
        self.quarantined = stats


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass

"""Group commit: concurrent requests share one insert, and each is answered only after
that insert committed.

Requests hand their processed spans to `commit()` and await it. One writer thread takes
everything pending (waiting up to `window` for more while below `max_rows`), writes it
in one insert and then resolves every waiter with the outcome. Large inserts are what
the columnar engine is fast at; waiting for the write is what makes acknowledgement mean
durable. When more than `max_pending_rows` wait, new requests are refused with
`PipelineFull` (back-pressure) instead of growing memory.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass

import pyarrow as pa

from spanwise.errors import PipelineFull, SpanwiseError, StoreUnavailable
from spanwise.store.api import TraceWriter

log = logging.getLogger(__name__)


@dataclass
class _Waiter:
    spans: pa.Table
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


class GroupCommitter:
    """Batches span tables from many requests into few durable inserts."""

    def __init__(self, writer: TraceWriter, window_s: float, max_rows: int, max_pending_rows: int) -> None:
        self._writer = writer
        self._window_s = window_s
        self._max_rows = max_rows
        self._max_pending_rows = max_pending_rows
        self._pending: list[_Waiter] = []
        self._pending_rows = 0
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.committed_rows = 0
        self.failed_inserts = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="spanwise-writer", daemon=True)
            self._thread.start()

    def shutdown(self) -> None:
        """Stop accepting, write everything already accepted, then stop the thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    async def commit(self, spans: pa.Table) -> None:
        """Return once `spans` are committed; raise `PipelineFull`/`StoreUnavailable`."""
        if spans.num_rows == 0:
            return
        loop = asyncio.get_running_loop()
        waiter = _Waiter(spans, loop, loop.create_future())
        with self._condition:
            if self._stopping:
                raise StoreUnavailable("shutting down")
            if self._pending_rows and self._pending_rows + spans.num_rows > self._max_pending_rows:
                raise PipelineFull(f"{self._pending_rows} spans are waiting to be stored; retry later")
            self._pending.append(waiter)
            self._pending_rows += spans.num_rows
            self._condition.notify_all()
        await waiter.future

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._write(batch)

    def _next_batch(self) -> list[_Waiter] | None:
        """Wait for work, then up to the window for more; None once stopped and drained."""
        with self._condition:
            while not self._pending and not self._stopping:
                self._condition.wait()
            if not self._pending:
                return None
            deadline = time.monotonic() + self._window_s
            while not self._stopping and self._pending_rows < self._max_rows:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            batch, rows = [], 0
            while self._pending and (not batch or rows + self._pending[0].spans.num_rows <= self._max_rows):
                waiter = self._pending.pop(0)
                batch.append(waiter)
                rows += waiter.spans.num_rows
            self._pending_rows -= rows
            return batch

    def _write(self, batch: list[_Waiter]) -> None:
        error: BaseException | None = None
        try:
            self._writer.write_spans(pa.concat_tables([w.spans for w in batch]))
            self.committed_rows += sum(w.spans.num_rows for w in batch)
        except SpanwiseError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - any engine failure must reach the waiters as retryable
            log.exception("store write failed")
            error = StoreUnavailable(f"store write failed: {exc}")
        if error is not None:
            self.failed_inserts += 1
            log.warning("insert of %d requests failed: %s", len(batch), error)
        for waiter in batch:
            try:
                waiter.loop.call_soon_threadsafe(_settle, waiter.future, error)
            except RuntimeError:  # the request's loop is gone (server stopped); nobody waits
                pass


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)

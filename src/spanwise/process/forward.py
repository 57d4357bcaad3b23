"""Forwarding: processed spans go on to another OTLP endpoint (Jaeger, Tempo, a vendor,
another Spanwise) over OTLP/HTTP or OTLP/gRPC.

`ForwardProcessor.process` only enqueues and returns the batch unchanged, so a slow or
dead target never slows ingest: the queue is bounded by spans, and a batch that does
not fit is dropped (the new one, as the OTel Collector's sending queue does; what is
queued is older and already paid for) and counted in `dropped_spans_queue_full`.
One exporter thread takes queued batches (several small ones at a time), encodes them
(`spanwise.process.forward_encode`) and sends them (`spanwise.process.forward_send`),
retrying retryable failures with exponential back-off and jitter. Every span ends in
exactly one counter of `stats`, shown at /api/v1/status under `processors.forward.*`:
`forwarded_spans`, `dropped_spans_queue_full`, `dropped_spans_after_retries`,
`dropped_spans_rejected` (a permanent error or the receiver's partial success) or
`dropped_spans_shutdown` (still queued when the drain deadline passed); `retries`
counts retry attempts and `queue_spans` is the number of spans waiting now.

Each batch is queued with its project (the request context's, set at the ingest edge);
one request may carry several projects, each resource naming its own in `spanwise.project`
(`spanwise.process.forward_encode`; not for the default project). With `projects` set,
only those projects' spans are forwarded; the others are counted in
`skipped_spans_other_projects` (a key only then).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter, deque

import pyarrow as pa

from spanwise.config import ForwardConfig
from spanwise.core.spans import SpanBatch
from spanwise.process.forward_encode import FORWARD_COLUMNS, PROJECT_COLUMN, EncodedRequest, encode_requests
from spanwise.process.forward_send import Sender, SendResult, make_sender
from spanwise.request_context import current_project

log = logging.getLogger(__name__)

#: Spans per export request (the OTel Collector's batch processor sends 8192; ~180 B per
#: typical span keeps a request near 1 MB).
MAX_REQUEST_SPANS = 4096
#: Encoded requests larger than this are split: 4 MiB is gRPC's default receive limit.
MAX_REQUEST_BYTES = 4 * 1024 * 1024 - 64 * 1024
_WARN_EVERY_S = 10.0
STAT_KEYS = (
    "forwarded_spans",
    "dropped_spans_queue_full",
    "dropped_spans_after_retries",
    "dropped_spans_rejected",
    "dropped_spans_shutdown",
    "retries",
    "queue_spans",
)
SKIPPED = "skipped_spans_other_projects"


class ForwardProcessor:
    """Queues processed spans and exports them from a background thread."""

    name = "forward"

    def __init__(self, config: ForwardConfig) -> None:
        self.config = config
        # Every key exists from the start: /api/v1/status reads the counter from another
        # thread, and a key added during that read would break its iteration.
        keys = STAT_KEYS + ((SKIPPED,) if config.projects else ())
        self.stats: Counter[str] = Counter({key: 0 for key in keys})
        self._projects = frozenset(config.projects)
        self._queue: deque[pa.Table] = deque()
        self._queued_spans = 0  # queued plus being sent
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._stopping = False
        self._abort = threading.Event()
        self._thread: threading.Thread | None = None
        self._sender: Sender | None = None
        self._last_warning: dict[str, float] = {}
        self._random = random.Random()

    def process(self, batch: SpanBatch) -> SpanBatch:
        """Enqueue the batch's spans (with their project) without blocking; the batch goes
        on unchanged."""
        count = batch.num_spans
        if count == 0:
            return batch
        project = current_project()
        if self._projects and project not in self._projects:
            self._count(SKIPPED, count)
            return batch
        table = batch.spans.select(list(FORWARD_COLUMNS)).append_column(PROJECT_COLUMN, pa.repeat(project, count))
        with self._lock:
            if self._stopping:
                self.stats["dropped_spans_shutdown"] += count
                return batch
            if self._queued_spans + count > self.config.queue_max_spans:
                self.stats["dropped_spans_queue_full"] += count
                full = True
            else:
                self._queue.append(table)
                self._queued_spans += count
                self.stats["queue_spans"] = self._queued_spans
                self._wakeup.notify()
                full = False
        if full:
            self._warn("queue_full", "forward queue full (%d spans): dropped %d new spans", self.config.queue_max_spans, count)
        return batch

    def start(self) -> None:
        """Start the exporter thread (a second call does nothing)."""
        with self._lock:
            if self._thread is not None or self._stopping:
                return
            self._sender = make_sender(self.config)
            self._thread = threading.Thread(target=self._run, name="spanwise-forward", daemon=True)
            self._thread.start()
        log.info("forwarding spans to %s over OTLP/%s", self.config.endpoint, self.config.protocol)

    def shutdown(self) -> None:
        """Send what is queued for up to `drain_timeout_s`, then count the rest as
        dropped and stop (a second call does nothing)."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._wakeup.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(self.config.drain_timeout_s)
            self._abort.set()  # stops back-off waits; an in-flight send ends by its timeout
            thread.join(self.config.timeout_s + 1.0)
            if thread.is_alive():
                log.warning("forward exporter thread did not stop in time")
        with self._lock:
            self._drop_queued("dropped_spans_shutdown")
        if self._sender is not None:
            self._sender.close()

    # --- exporter thread ------------------------------------------------------------

    def _run(self) -> None:
        while True:
            table = self._next()
            if table is None:
                return
            self._export(table)
            with self._lock:
                self._queued_spans -= table.num_rows
                self.stats["queue_spans"] = self._queued_spans

    def _next(self) -> pa.Table | None:
        """Queued batches (up to a request's worth) as one table; None once stopping
        and the queue is empty, or when the drain deadline passed."""
        with self._lock:
            while not self._queue and not self._stopping:
                self._wakeup.wait()
            if self._abort.is_set() or not self._queue:
                return None
            tables = [self._queue.popleft()]
            total = tables[0].num_rows
            while self._queue and total + self._queue[0].num_rows <= MAX_REQUEST_SPANS:
                total += self._queue[0].num_rows
                tables.append(self._queue.popleft())
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)

    def _export(self, table: pa.Table) -> None:
        try:
            requests = encode_requests(table, MAX_REQUEST_SPANS, MAX_REQUEST_BYTES)
        except Exception:  # noqa: BLE001 - a bug here must not stop forwarding
            log.exception("cannot encode %d spans for forwarding", table.num_rows)
            self._count("dropped_spans_rejected", table.num_rows)
            return
        for request in requests:
            if self._abort.is_set():
                self._count("dropped_spans_shutdown", request.spans)
                continue
            try:
                self._deliver(request)
            except Exception:  # noqa: BLE001 - senders return errors; this is a bug
                log.exception("forwarding %d spans failed", request.spans)
                self._count("dropped_spans_rejected", request.spans)

    def _deliver(self, request: EncodedRequest) -> None:
        """Send one request, retrying while it helps; count every span once."""
        assert self._sender is not None
        started = time.monotonic()
        for attempt in range(self.config.max_retries + 1):
            result = self._sender.send(request.body)
            if result.ok:
                self._accepted(request, result)
                return
            if not result.retryable:
                self._count("dropped_spans_rejected", request.spans)
                self._warn("rejected", "forward target rejected %d spans: %s", request.spans, result.message)
                return
            delay = self._backoff(attempt, result.retry_after_s)
            out_of_time = time.monotonic() - started + delay > self.config.max_elapsed_s
            if attempt == self.config.max_retries or out_of_time:
                break
            self._count("retries", 1)
            if self._abort.wait(delay):
                self._count("dropped_spans_shutdown", request.spans)
                return
        self._count("dropped_spans_after_retries", request.spans)
        self._warn("after_retries", "forwarding gave up on %d spans after retries: %s", request.spans, result.message)

    def _accepted(self, request: EncodedRequest, result: SendResult) -> None:
        rejected = min(result.rejected_spans, request.spans)
        self._count("forwarded_spans", request.spans - rejected)
        if rejected:
            self._count("dropped_spans_rejected", rejected)
            self._warn("partial", "forward target rejected %d of %d spans: %s", rejected, request.spans, result.message)

    def _backoff(self, attempt: int, retry_after_s: float | None) -> float:
        """Exponential back-off with ±50% jitter (as the OTel Collector's retry does),
        never shorter than the server's Retry-After."""
        base = min(self.config.max_backoff_s, self.config.initial_backoff_s * 2**attempt)
        delay = min(self.config.max_backoff_s, base * self._random.uniform(0.5, 1.5))
        return max(delay, retry_after_s or 0.0)

    def _count(self, key: str, amount: int) -> None:
        with self._lock:
            self.stats[key] += amount

    def _drop_queued(self, reason: str) -> None:
        """Count everything still queued as dropped (caller holds the lock)."""
        dropped = sum(table.num_rows for table in self._queue)
        self._queue.clear()
        self._queued_spans -= dropped
        self.stats[reason] += dropped
        self.stats["queue_spans"] = self._queued_spans
        if dropped:
            log.warning("forwarding stopped with %d spans still queued: dropped", dropped)

    def _warn(self, kind: str, message: str, *args: object) -> None:
        """Log at most once per kind every few seconds: a dead target fails every batch."""
        now = time.monotonic()
        if now - self._last_warning.get(kind, -_WARN_EVERY_S) >= _WARN_EVERY_S:
            self._last_warning[kind] = now
            log.warning(message, *args)

"""Ground truth reported from user code: queued, posted in batches to `/api/v1/feedback`
by a background thread, and never raising into the caller.

The server stores labels only for predictions it already knows (a second or so after
their spans were exported) and lists the others as `unknown_ids`: those are retried with
backoff for `unknown_retry_s`, then dropped with a warning. While the server is down,
records wait (at most `max_pending`; beyond that the oldest are dropped, with a warning
and a count in `stats`).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from spanwise.sdk import api_http
from spanwise.sdk.attributes import label_text

log = logging.getLogger(__name__)


@dataclass
class _Record:
    prediction_id: str
    label: str
    timestamp: float | None
    first_sent: float = 0.0
    next_try: float = 0.0
    attempts: int = field(default=0)

    def payload(self) -> dict[str, Any]:
        found: dict[str, Any] = {"prediction_id": self.prediction_id, "label": self.label}
        if self.timestamp is not None:
            found["timestamp"] = self.timestamp
        return found


class FeedbackSender:
    """Batches feedback records to `<api_url>/api/v1/feedback` from one daemon thread."""

    def __init__(
        self, api_url: str, batch_size: int = 1000, interval_s: float = 1.0, max_pending: int = 100_000,
        unknown_retry_s: float = 60.0, timeout_s: float = 5.0,
    ) -> None:
        self.url = api_url.rstrip("/") + "/api/v1/feedback"
        self.batch_size, self.interval_s, self.max_pending = batch_size, interval_s, max_pending
        self.unknown_retry_s, self.timeout_s = unknown_retry_s, timeout_s
        self.stats: Counter[str] = Counter()
        self._pending: deque[_Record] = deque()
        self._lock = threading.Lock()  # guards _pending
        self._send_lock = threading.Lock()  # one delivery at a time
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def send(self, prediction_id: str, label: Any, timestamp: float | None = None) -> None:
        """Queue one label (`timestamp`: Unix seconds when it became true; default: now at
        the server). Returns at once; problems are logged and counted, never raised."""
        text = label_text(label)
        if not prediction_id or not text:
            self.stats["invalid"] += 1
            log.warning("feedback needs a prediction id and a label; got %r, %r (dropped)", prediction_id, label)
            return
        with self._lock:
            self._pending.append(_Record(str(prediction_id), text, timestamp))
            self.stats["queued"] += 1
            overflow = len(self._pending) - self.max_pending
            for _ in range(max(0, overflow)):
                self._pending.popleft()
                self.stats["dropped_overflow"] += 1
            full = len(self._pending) >= self.batch_size
        if overflow > 0:
            log.warning("feedback queue full (%d): dropped the %d oldest records", self.max_pending, overflow)
        self._ensure_thread()
        if full:
            self._wake.set()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Try to deliver everything queued within `timeout_s` (retrying unknown ids, which
        become known shortly after their spans are exported). True when nothing is left."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._deliver(force=True, deadline=deadline)
            with self._lock:
                left = len(self._pending)
            if not left or time.monotonic() + 0.2 > deadline:
                return not left
            time.sleep(0.2)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Flush what can be sent within `timeout_s` and stop the thread (safe twice)."""
        if self._stopped:
            return
        self._stopped = True
        self._wake.set()
        if not self.flush(timeout_s):
            with self._lock:
                lost = len(self._pending)
            self.stats["dropped_at_shutdown"] += lost
            log.warning("feedback: %d records could not be delivered before shutdown", lost)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _ensure_thread(self) -> None:
        if self._thread is None and not self._stopped:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="spanwise-feedback", daemon=True)
                    self._thread.start()
                    atexit.register(self.shutdown, 2.0)

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if not self._stopped:
                self._deliver(force=False, deadline=time.monotonic() + self.timeout_s)

    def _deliver(self, force: bool, deadline: float) -> None:
        """Post the records due (all of them when `force`) in batches; requeue failures."""
        with self._send_lock:
            now = time.monotonic()
            with self._lock:
                due = [r for r in self._pending if force or r.next_try <= now]
                waiting = [r for r in self._pending if not (force or r.next_try <= now)]
                self._pending = deque(waiting)
            for start in range(0, len(due), self.batch_size):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._requeue(due[start:])
                    return
                if not self._post(due[start:start + self.batch_size], min(self.timeout_s, remaining)):
                    self._requeue(due[start + self.batch_size:])
                    return

    def _post(self, batch: list[_Record], timeout: float) -> bool:
        """One request; False when the server is unreachable (the batch is requeued)."""
        try:
            answer = api_http.post_json(self.url, [r.payload() for r in batch], timeout)
        except api_http.ApiUnavailable as exc:
            self.stats["unavailable"] += 1
            log.warning("feedback: server unavailable, will retry: %s", exc)
            self._requeue(batch, backoff=True)
            return False
        except api_http.ApiError as exc:
            self.stats["rejected"] += len(batch)
            log.error("feedback: the server rejected %d records: %s", len(batch), exc)
            return True
        self.stats["accepted"] += int(answer.get("accepted", 0))
        unknown = set(answer.get("unknown_ids") or ())
        self._requeue([r for r in batch if r.prediction_id in unknown], backoff=True, unknown=True)
        return True

    def _requeue(self, records: list[_Record], backoff: bool = False, unknown: bool = False) -> None:
        now = time.monotonic()
        kept = []
        for record in records:
            if backoff:
                record.first_sent = record.first_sent or now
                record.attempts += 1
                record.next_try = now + min(2.0 ** record.attempts * 0.25, 30.0)
            if unknown and now - record.first_sent > self.unknown_retry_s:
                self.stats["dropped_unknown"] += 1
                log.warning("feedback: prediction %r still unknown after %.0f s (dropped)",
                            record.prediction_id, self.unknown_retry_s)
                continue
            kept.append(record)
        with self._lock:
            self._pending.extendleft(reversed(kept))

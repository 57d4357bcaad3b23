"""Ground truth reported from user code: queued, posted in batches to `/api/v1/feedback`
by a background thread, and never raising into the caller.

The server takes every label, also one whose prediction it has not stored yet (it waits
there and is joined when the span arrives), so a delivered batch is done. While the server
is down, records wait (at most `max_pending`; beyond that the oldest are dropped, with a warning
and a count in `stats`).

Nothing is lost silently: without a query API URL (see `spanwise.sdk.config`) labels are
kept and a warning says so at the first one; whatever is still undelivered at shutdown is
written to a spool file (a JSON array, each label with the time it was given, ready to
POST to `/api/v1/feedback` once the server is reachable) and a warning gives its count,
path, target URL and reason.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from spanwise import api_http
from spanwise.sdk.attributes import label_text

log = logging.getLogger(__name__)


@dataclass
class _Record:
    prediction_id: str
    label: str
    timestamp: float | None
    given_at: float = field(default_factory=time.time)
    next_try: float = 0.0
    attempts: int = field(default=0)

    def payload(self) -> dict[str, Any]:
        found: dict[str, Any] = {"prediction_id": self.prediction_id, "label": self.label}
        if self.timestamp is not None:
            found["timestamp"] = self.timestamp
        return found


class FeedbackSender:
    """Batches feedback records to `<api_url>/api/v1/feedback` from one daemon thread.

    With an empty `api_url` nothing is posted (`missing_url_note` explains why, once) and
    labels wait for the spool at shutdown; `spool_dir` is where it goes (default: the
    temporary directory)."""

    def __init__(
        self, api_url: str, batch_size: int = 1000, interval_s: float = 1.0, max_pending: int = 100_000,
        timeout_s: float = 5.0, missing_url_note: str = "",
        spool_dir: str | None = None,
    ) -> None:
        self.url = api_url.rstrip("/") + "/api/v1/feedback" if api_url else ""
        self.missing_url_note = missing_url_note or "no query API URL: pass api_url= or set SPANWISE_API_URL"
        self.spool_dir = spool_dir
        self.spool_path = ""
        self._last_error = ""
        self.batch_size, self.interval_s, self.max_pending = batch_size, interval_s, max_pending
        self.timeout_s = timeout_s
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
        if not self.url:
            if self.stats["queued"] == 1:
                log.warning("feedback: not sending labels: %s; they are kept and written to a spool file at "
                            "shutdown", self.missing_url_note)
            return
        self._ensure_thread()
        if full:
            self._wake.set()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Try to deliver everything queued within `timeout_s`. True when nothing is left."""
        deadline = time.monotonic() + timeout_s
        if not self.url:
            return not self.pending
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
                left, self._pending = list(self._pending), deque()
            self._spool(left)

    def _spool(self, records: list[_Record]) -> None:
        """Write undelivered records to a spool file and say how many, where and why."""
        reason = self.missing_url_note if not self.url else (self._last_error or "the server did not accept them in time")
        target = self.url or "(no query API URL)"
        try:
            handle, path = tempfile.mkstemp(prefix=f"spanwise-feedback-{os.getpid()}-", suffix=".json",
                                            dir=self.spool_dir)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump([{**r.payload(), "timestamp": r.timestamp or r.given_at} for r in records], out)
        except OSError as exc:
            self.stats["dropped_at_shutdown"] += len(records)
            log.error("feedback: %d labels for %s were not delivered (%s) and could not be spooled (%s): lost: %s",
                      len(records), target, reason, exc, [(r.prediction_id, r.label) for r in records[:20]])
            return
        self.spool_path = path
        self.stats["spooled_at_shutdown"] += len(records)
        log.warning("feedback: %d labels for %s were not delivered (%s); written to %s -- re-send with: curl -X POST "
                    "-H 'Content-Type: application/json' --data-binary @%s <api_url>/api/v1/feedback",
                    len(records), target, reason, path, path)

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
            if not self._last_error:  # once per outage, not once per retry
                log.warning("feedback: server unavailable, will retry: %s", exc)
            self._last_error = str(exc)
            self._requeue(batch, backoff=True)
            return False
        except api_http.ApiError as exc:
            self.stats["rejected"] += len(batch)
            log.error("feedback: the server rejected %d records: %s", len(batch), exc)
            return True
        self._last_error = ""
        self.stats["accepted"] += int(answer.get("accepted", 0))
        return True

    def _requeue(self, records: list[_Record], backoff: bool = False) -> None:
        now = time.monotonic()
        for record in records:
            if backoff:
                record.attempts += 1
                record.next_try = now + min(2.0 ** record.attempts * 0.25, 30.0)
        with self._lock:
            self._pending.extendleft(reversed(records))

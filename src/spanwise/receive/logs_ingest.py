"""The logs path both receivers feed: decode, redact, store, report.

Logs are written to the store before the export is acknowledged (an insert per request).
Decoding, redaction and the insert run in worker threads, off the event loop; the
receivers bound how many request bytes are in flight (`server.max_inflight_bytes`), so a
burst is refused with 429/UNAVAILABLE instead of queueing without bound. Log volumes in an ML service are far below span volumes, so the
span path's ingest log and batching flusher are not needed here yet.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pyarrow as pa

from spanwise.process.redaction import LogRedaction
from spanwise.receive.ingest import ExportOutcome
from spanwise.model.time_window import ANY_TIME, TimeWindow
from spanwise.receive.logs_decode import DecodedLogs, decode_logs_requests
from spanwise.store.protocols import LogStore


class LogIngestService:
    """Decode -> PII redaction -> `otel_logs`."""

    def __init__(self, store: LogStore, redaction: LogRedaction | None, window: TimeWindow = ANY_TIME) -> None:
        self._store = store
        self._window = window
        self._redaction = redaction
        self._redaction_lock = threading.Lock()
        self.stats: Counter[str] = Counter()

    async def export_protobuf(self, body: bytes, extra_rejected: int = 0, extra_message: str = "") -> ExportOutcome:
        """Ingest one serialized `ExportLogsServiceRequest`; returns once it is stored."""
        decoded, logs = await asyncio.to_thread(self._decode_and_redact, body)
        await asyncio.to_thread(self._store.write_logs, logs)
        rejected = decoded.rejected + extra_rejected
        self.stats["logs_accepted"] += logs.num_rows
        self.stats["logs_rejected"] += rejected
        message = "; ".join(m for m in (extra_message, decoded.reject_reason) if m)
        return ExportOutcome(logs.num_rows, rejected, f"{rejected} log record(s) rejected: {message}" if rejected else "")

    def _decode_and_redact(self, body: bytes) -> tuple[DecodedLogs, pa.Table]:
        """Requests decode in parallel; redaction keeps counters, so one batch at a time."""
        decoded = decode_logs_requests([body], self._window)
        if not self._redaction:
            return decoded, decoded.logs
        with self._redaction_lock:
            return decoded, self._redaction.process(decoded.logs)

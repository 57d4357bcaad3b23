"""The logs path both receivers feed: decode, process (PII redaction), store, report.

Logs are written to the store before the export is acknowledged (an insert per request).
Decoding, the logs processor chain and the insert run in worker threads, off the event
loop; the receivers bound how many request bytes are in flight (`server.max_inflight_bytes`),
so a burst is refused with 429/UNAVAILABLE instead of queueing without bound. Log volumes in an ML service are far below span volumes, so the
span path's ingest log and batching flusher are not needed here yet.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pyarrow as pa

from spanwise.process.chain import ChainResult, ProcessorChain
from spanwise.receive.ingest import ExportOutcome
from spanwise.core.time_window import ANY_TIME, TimeWindow
from spanwise.receive.logs_decode import DecodedLogs, decode_logs_requests
from spanwise.store.protocols import LogStore


class LogIngestService:
    """Decode -> the logs processor chain -> `otel_logs`."""

    def __init__(self, store: LogStore, chain: ProcessorChain[pa.Table], window: TimeWindow = ANY_TIME) -> None:
        self._store = store
        self._window = window
        self._chain = chain
        self.stats: Counter[str] = Counter()

    async def export_protobuf(self, body: bytes, extra_rejected: int = 0, extra_message: str = "") -> ExportOutcome:
        """Ingest one serialized `ExportLogsServiceRequest`; returns once it is stored."""
        decoded, result = await asyncio.to_thread(self._decode_and_process, body)
        logs = result.batch
        await asyncio.to_thread(self._store.write_logs, logs)
        rejected = decoded.rejected + extra_rejected + result.dropped
        self.stats["logs_accepted"] += logs.num_rows
        self.stats["logs_rejected"] += rejected
        message = "; ".join(m for m in (extra_message, decoded.reject_reason, result.message) if m)
        return ExportOutcome(logs.num_rows, rejected, f"{rejected} log record(s) rejected: {message}" if rejected else "")

    def _decode_and_process(self, body: bytes) -> tuple[DecodedLogs, ChainResult[pa.Table]]:
        """Requests decode in parallel; the chain runs one batch at a time."""
        decoded = decode_logs_requests([body], self._window)
        return decoded, self._chain.run(decoded.logs)

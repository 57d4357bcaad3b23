"""The one path every receiver feeds: decode, process, commit, report.

gRPC and HTTP receivers differ only in framing; both hand serialized
`ExportTraceServiceRequest`s here and turn the outcome (or the raised `SpanwiseError`)
into their protocol's answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass

from spanwise.core.spans import SpanBatch
from spanwise.core.time_window import ANY_TIME, TimeWindow
from spanwise.process.chain import ChainResult, ProcessorChain
from spanwise.receive.decode import DecodedSpans, decode_export_requests
from spanwise.store.ingest_log import IngestLog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportOutcome:
    """What happened to one export request: spans stored and spans rejected (and why)."""

    accepted: int
    rejected: int = 0
    message: str = ""


class IngestService:
    """Decode -> processor chain -> durable ingest log (then the store).

    Decoding and the chain run in a worker thread so a large or hostile request never
    stalls the event loop that serves every port. Requests decode in parallel; the chain
    runs one batch at a time (its processors keep state: budgets, counters, queues)."""

    def __init__(self, chain: ProcessorChain[SpanBatch], committer: IngestLog, window: TimeWindow = ANY_TIME) -> None:
        self._chain = chain
        self._window = window
        self._committer = committer
        self.stats: Counter[str] = Counter()

    async def export_protobuf(self, body: bytes, extra_rejected: int = 0, extra_message: str = "") -> ExportOutcome:
        """Ingest one serialized request; returns once its spans are durably logged."""
        decoded, result = await asyncio.to_thread(self._decode_and_process, body)
        return await self._ingest(decoded, result, extra_rejected, extra_message)

    def _decode_and_process(self, body: bytes) -> tuple[DecodedSpans, ChainResult[SpanBatch]]:
        decoded = decode_export_requests([body], self._window)
        return decoded, self._chain.run(decoded.batch)

    async def _ingest(self, decoded: DecodedSpans, result: ChainResult[SpanBatch], extra_rejected: int,
                      extra_message: str) -> ExportOutcome:
        rejected = decoded.rejected + extra_rejected + result.dropped
        message = "; ".join(m for m in (extra_message, decoded.reject_reason, result.message) if m)
        spans = result.batch.spans
        await self._committer.commit(spans)
        self.stats["spans_accepted"] += spans.num_rows
        self.stats["spans_rejected"] += rejected
        if rejected:
            message = f"{rejected} span(s) rejected: {message}"
        return ExportOutcome(spans.num_rows, rejected, message)

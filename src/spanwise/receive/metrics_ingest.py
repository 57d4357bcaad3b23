"""The OTLP metrics path both receivers feed: decode, process (PII redaction), store, report.

Points are written to the store before the export is acknowledged (an insert per request
and kind): SDKs export metrics every few seconds per process, far below span volumes.
Decoding, the metrics processor chain and the insert run in worker threads, off the event
loop; the receivers bound how many request bytes are in flight (`server.max_inflight_bytes`),
so a burst is refused with 429/UNAVAILABLE instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from spanwise.core.otlp_metrics import MetricPoints
from spanwise.process.chain import ChainResult, ProcessorChain
from spanwise.receive.ingest import ExportOutcome
from spanwise.core.time_window import ANY_TIME, TimeWindow
from spanwise.receive.metrics_decode import DecodedMetrics, decode_metrics_requests
from spanwise.store.protocols import OtlpMetricStore


class MetricIngestService:
    """Decode -> the metrics processor chain -> `otel_metrics_*`."""

    def __init__(self, store: OtlpMetricStore, chain: ProcessorChain[MetricPoints], window: TimeWindow = ANY_TIME) -> None:
        self._store = store
        self._window = window
        self._chain = chain
        self.stats: Counter[str] = Counter()

    async def export_protobuf(self, body: bytes, extra_rejected: int = 0, extra_message: str = "") -> ExportOutcome:
        """Ingest one serialized `ExportMetricsServiceRequest`; returns once it is stored."""
        decoded, result = await asyncio.to_thread(self._decode_and_process, body)
        await asyncio.to_thread(self._store.write_metric_points, result.batch)
        accepted = sum(table.num_rows for table in result.batch.values())
        rejected = decoded.rejected + extra_rejected + result.dropped
        self.stats["metric_points_accepted"] += accepted
        self.stats["metric_points_rejected"] += rejected
        message = "; ".join(m for m in (extra_message, decoded.reject_reason, result.message) if m)
        return ExportOutcome(accepted, rejected, message)

    def _decode_and_process(self, body: bytes) -> tuple[DecodedMetrics, ChainResult[MetricPoints]]:
        """Requests decode in parallel; the chain runs one batch at a time."""
        decoded = decode_metrics_requests([body], self._window)
        return decoded, self._chain.run(decoded.points)

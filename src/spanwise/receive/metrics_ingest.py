"""The OTLP metrics path both receivers feed: decode, store, report.

Points are written to the store before the export is acknowledged (an insert per request
and kind): SDKs export metrics every few seconds per process, far below span volumes.
Decoding and the insert run in worker threads, off the event loop; the receivers bound
how many request bytes are in flight (`server.max_inflight_bytes`), so a burst is
refused with 429/UNAVAILABLE instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from spanwise.receive.ingest import ExportOutcome
from spanwise.model.time_window import ANY_TIME, TimeWindow
from spanwise.receive.metrics_decode import decode_metrics_requests
from spanwise.store.protocols import OtlpMetricStore


class MetricIngestService:
    """Decode -> `otel_metrics_*`."""

    def __init__(self, store: OtlpMetricStore, window: TimeWindow = ANY_TIME) -> None:
        self._store = store
        self._window = window
        self.stats: Counter[str] = Counter()

    async def export_protobuf(self, body: bytes, extra_rejected: int = 0, extra_message: str = "") -> ExportOutcome:
        """Ingest one serialized `ExportMetricsServiceRequest`; returns once it is stored."""
        decoded = await asyncio.to_thread(decode_metrics_requests, [body], self._window)
        await asyncio.to_thread(self._store.write_metric_points, decoded.points)
        rejected = decoded.rejected + extra_rejected
        self.stats["metric_points_accepted"] += decoded.accepted
        self.stats["metric_points_rejected"] += rejected
        message = "; ".join(m for m in (extra_message, decoded.reject_reason) if m)
        return ExportOutcome(decoded.accepted, rejected, message)

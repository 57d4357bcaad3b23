"""The processor seam: one small interface every pipeline stage implements, per signal.

As in the OpenTelemetry Collector, a processor handles one or more OTLP signals (traces,
logs, metrics); its factory (`spanwise.process.factory`) declares which, and the chain of
each signal holds the configured processors that handle it, in the configured order.
What a processor receives is the signal's batch as decoded: a `SpanBatch` for traces, an
`otel_logs`-shaped table for logs, the points per kind (`MetricPoints`) for metrics.
"""

from __future__ import annotations

from typing import Literal, Protocol, TypeVar

import pyarrow as pa

from spanwise.core.otlp_metrics import MetricPoints
from spanwise.core.spans import SpanBatch

#: The OTLP signal kinds, as the Collector names its pipelines.
Signal = Literal["traces", "logs", "metrics"]
TRACES: Signal = "traces"
LOGS: Signal = "logs"
METRICS: Signal = "metrics"
SIGNALS: tuple[Signal, ...] = (TRACES, LOGS, METRICS)

Batch = TypeVar("Batch")


class Processor(Protocol[Batch]):
    """Transforms one signal's batch column-wise.

    `process` returns a new batch (it never mutates its input) and must not loop over
    records in Python. Raising is allowed: the chain drops that batch, counts what it
    held against the processor and keeps serving (`spanwise.process.chain`).
    """

    name: str

    def process(self, batch: Batch) -> Batch: ...


SpanProcessor = Processor[SpanBatch]
LogProcessor = Processor[pa.Table]
MetricProcessor = Processor[MetricPoints]

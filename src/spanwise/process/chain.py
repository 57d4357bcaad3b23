"""The processor chain: one signal's processors named in config, run in order on each batch.

A processor that raises never takes the server down: the batch is dropped, what it held
(spans, log records, points) is counted against that processor (`stats`, shown at
/api/v1/status) and reported to the sender as rejected, so nothing unprocessed (say,
unredacted) is stored. Processors keep state (budgets, counters, queues, caches), so a
chain runs one batch at a time; requests still decode in parallel before it.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar, overload

import pyarrow as pa

from spanwise.core.otlp_metrics import MetricPoints
from spanwise.core.spans import SpanBatch
from spanwise.process.api import Processor

log = logging.getLogger(__name__)

Batch = TypeVar("Batch")


@dataclass(frozen=True)
class Items(Generic[Batch]):
    """What a signal's batch holds, for the chain's accounting: `unit` names the items
    in counters (`<processor>.<unit>_in`, `.dropped_<unit>`, `.filtered_<unit>`)."""

    unit: str
    count: Callable[[Batch], int]
    empty: Callable[[Batch], Batch]


SPANS: Items[SpanBatch] = Items(
    "spans", lambda batch: batch.num_spans,
    lambda batch: SpanBatch(batch.spans.slice(0, 0), batch.attributes.slice(0, 0)),
)
LOG_RECORDS: Items[pa.Table] = Items("log_records", lambda logs: logs.num_rows, lambda logs: logs.slice(0, 0))
POINTS: Items[MetricPoints] = Items("points", lambda points: sum(t.num_rows for t in points.values()), lambda _: {})


@dataclass(frozen=True)
class ChainResult(Generic[Batch]):
    """The processed batch, and how many of its items were dropped and why."""

    batch: Batch
    dropped: int = 0
    message: str = ""


class ProcessorChain(Generic[Batch]):
    """Runs one signal's processors in order and accounts for every item."""

    @overload
    def __init__(self: ProcessorChain[SpanBatch], processors: list[Processor[SpanBatch]]) -> None: ...

    @overload
    def __init__(self, processors: list[Processor[Batch]], items: Items[Batch]) -> None: ...

    def __init__(self, processors: list[Any], items: Items[Any] = SPANS) -> None:
        self.processors: list[Processor[Batch]] = processors
        self._items: Items[Batch] = items
        self._lock = threading.Lock()
        self.stats: Counter[str] = Counter()

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.processors]

    def all_stats(self) -> dict[str, int]:
        """The chain's counters plus each processor's own (`stats`, when it has them).
        Each is copied in one step first: a batch may add a key while /api/v1/status reads."""
        merged = dict(self.stats)
        for processor in self.processors:
            for key, value in dict(getattr(processor, "stats", {})).items():
                merged[f"{processor.name}.{key}"] = value
        return merged

    def run(self, batch: Batch) -> ChainResult[Batch]:
        with self._lock:
            return self._run(batch)

    def _run(self, batch: Batch) -> ChainResult[Batch]:
        unit, count = self._items.unit, self._items.count
        for processor in self.processors:
            before = count(batch)
            try:
                batch = processor.process(batch)
            except Exception as exc:  # noqa: BLE001 - a processor bug must not stop ingest
                log.exception("processor %s failed on a batch of %d %s", processor.name, before, unit)
                self.stats[f"{processor.name}.failures"] += 1
                self.stats[f"{processor.name}.dropped_{unit}"] += before
                return ChainResult(self._items.empty(batch), before, f"processor {processor.name} failed: {exc}")
            self.stats[f"{processor.name}.{unit}_in"] += before
            after = count(batch)
            if after < before:
                self.stats[f"{processor.name}.filtered_{unit}"] += before - after
        return ChainResult(batch)

"""The processor chain: processors named in config, run in order on each batch.

A processor that raises never takes the server down: the batch is dropped, its spans
are counted against that processor (`stats`, shown at /api/v1/status) and reported to
the sender as rejected, so nothing unprocessed (say, unredacted) is stored.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from spanwise.model.spans import SpanBatch
from spanwise.process.api import SpanProcessor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChainResult:
    """The processed batch, and how many spans were dropped and why."""

    batch: SpanBatch
    dropped: int = 0
    message: str = ""


class ProcessorChain:
    """Runs processors in order and accounts for every span."""

    def __init__(self, processors: list[SpanProcessor]) -> None:
        self.processors = processors
        self.stats: Counter[str] = Counter()

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.processors]

    def all_stats(self) -> dict[str, int]:
        """The chain's counters plus each processor's own (`stats`, when it has them)."""
        merged = dict(self.stats)
        for processor in self.processors:
            for key, value in getattr(processor, "stats", {}).items():
                merged[f"{processor.name}.{key}"] = value
        return merged

    def run(self, batch: SpanBatch) -> ChainResult:
        for processor in self.processors:
            before = batch.num_spans
            try:
                batch = processor.process(batch)
            except Exception as exc:  # noqa: BLE001 - a processor bug must not stop ingest
                log.exception("processor %s failed on a batch of %d spans", processor.name, before)
                self.stats[f"{processor.name}.failures"] += 1
                self.stats[f"{processor.name}.dropped_spans"] += before
                empty = SpanBatch(batch.spans.slice(0, 0), batch.attributes.slice(0, 0))
                return ChainResult(empty, before, f"processor {processor.name} failed: {exc}")
            self.stats[f"{processor.name}.spans_in"] += before
            if batch.num_spans < before:
                self.stats[f"{processor.name}.filtered_spans"] += before - batch.num_spans
        return ChainResult(batch)

"""The processor seam: one small interface every pipeline stage implements."""

from __future__ import annotations

from typing import Protocol

from spanwise.model.spans import SpanBatch


class SpanProcessor(Protocol):
    """Transforms a span batch column-wise.

    `process` returns a new batch (it never mutates its input) and must not loop over
    spans in Python. Raising is allowed: the chain drops that batch, counts the dropped
    spans against the processor and keeps serving (`spanwise.process.chain`).
    """

    name: str

    def process(self, batch: SpanBatch) -> SpanBatch: ...

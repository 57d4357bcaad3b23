"""The processor seam: one small interface every pipeline stage implements."""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa


class SpanProcessor(Protocol):
    """Transforms a span batch column-wise.

    `process` receives the span table and the flat attribute rows the decoder produced
    (`spanwise.receive.decode.ATTRIBUTE_ROWS_SCHEMA`) and returns a span table. It must
    not keep references to its input, and must not loop over spans in Python.
    """

    name: str

    def process(self, spans: pa.Table, attributes: pa.Table) -> pa.Table: ...

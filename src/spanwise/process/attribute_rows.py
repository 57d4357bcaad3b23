"""Editing span attributes as flat rows, then rebuilding the span table's maps from them.

Processors that add, rename or remove attributes work on `SpanBatch.attributes` (one row
per attribute, ordered by span) with column kernels, and call `with_attribute_rows` to
write the result back into `SpanAttributes` and `SpanAttributeTypes`, so the two views of
the attributes never disagree.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spanwise.core.spans import ATTRIBUTE_MAP, ATTRIBUTE_ROWS_SCHEMA, SpanBatch


def with_attribute_rows(batch: SpanBatch, rows: pa.Table) -> SpanBatch:
    """`batch` with its span attributes replaced by `rows` (any order; sorted by span,
    stably, so rows of one span keep their relative order)."""
    rows = rows.cast(ATTRIBUTE_ROWS_SCHEMA)
    rows = rows.take(pc.sort_indices(rows, [("row", "ascending")]))
    span_rows = rows.column("row").to_numpy()
    offsets = np.searchsorted(span_rows, np.arange(batch.spans.num_rows + 1)).astype(np.int32)
    keys = rows.column("key").combine_chunks()
    values = pa.MapArray.from_arrays(pa.array(offsets), keys, rows.column("text").combine_chunks(), type=ATTRIBUTE_MAP)
    typed = pc.not_equal(rows.column("type"), "string").combine_chunks()
    typed_offsets = np.concatenate([[0], np.cumsum(typed.to_numpy(zero_copy_only=False))]).astype(np.int32)[offsets]
    types = pa.MapArray.from_arrays(
        pa.array(typed_offsets), keys.filter(typed), rows.column("type").combine_chunks().filter(typed), type=ATTRIBUTE_MAP
    )
    spans = batch.spans
    for name, column in (("SpanAttributes", values), ("SpanAttributeTypes", types)):
        index = spans.schema.get_field_index(name)
        spans = spans.set_column(index, spans.schema.field(index), pa.chunked_array([column]))
    return SpanBatch(spans, rows)


def new_rows(span_rows: np.ndarray, key: str, texts: pa.Array, kind: str = "string") -> pa.Table:
    """Attribute rows giving `key` the value `texts[i]` on span `span_rows[i]`."""
    count = len(span_rows)
    return pa.table(
        [
            pa.array(span_rows, pa.int64()),
            pa.array([key] * count, pa.string()) if count else pa.array([], pa.string()),
            texts.cast(pa.string()),
            pa.nulls(count, pa.float64()),
            pa.array([kind] * count, pa.string()) if count else pa.array([], pa.string()),
        ],
        schema=ATTRIBUTE_ROWS_SCHEMA,
    )

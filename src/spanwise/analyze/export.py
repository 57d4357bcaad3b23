"""Predictions with their labels as one flat Arrow table, for Parquet/CSV/JSON export and
pandas, in one of two layouts, both built column-wise with `pyarrow.compute` (no per-row
Python):

- wide (`flatten_export`): map columns become one column per key (`feature.<name>` for
  numeric and categorical features, `score.<name>` for scores, `attribution.<name>` for
  attributions such as SHAP values). The number of such columns is the number of
  distinct keys, which the client controls, so past `MAX_WIDE_COLUMNS` the wide layout
  is refused (`InvalidQuery`) rather than answering a table that is mostly nulls (1,000
  predictions with 5 unique feature names each made a 110 MB JSON export).
- long (`long_export`): one row per prediction and key, with `kind`, `key`, `value` and
  `value_text` columns, so its width is fixed whatever the keys.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from spanwise.errors import InvalidQuery

#: Most feature/score/attribution columns of a wide export; past it, use the long layout.
MAX_WIDE_COLUMNS = 200
WIDE, LONG = "wide", "long"

#: Stored column -> exported column, in export order (maps flattened after `confidence`).
_COLUMNS = {
    "Timestamp": "timestamp", "PredictionId": "prediction_id", "TraceId": "trace_id", "SpanId": "span_id",
    "ServiceName": "service", "ModelName": "model", "ModelVersion": "version",
    "PredictionValue": "prediction_value", "PredictionLabel": "prediction_label", "Confidence": "confidence",
}
_LABEL_COLUMNS = {"Label": "label", "LabelTimestamp": "label_timestamp", "LabelSource": "label_source"}
_MAPS = {"Features": "feature.", "StringFeatures": "feature.", "Scores": "score.", "Attributions": "attribution."}
_UTC_NS = pa.timestamp("ns", tz="UTC")


def flatten_export(rows: pa.Table) -> pa.Table:
    """The store's export rows (`PredictionExporter.export_predictions`) as flat columns:
    timestamp, prediction_id, trace_id, span_id, service, model, version, prediction_value,
    prediction_label (null when empty), confidence, feature.<name>..., score.<name>..., attribution.<name>...,
    label, label_timestamp, label_source. Missing map keys are null."""
    source = _source(rows)
    keys = {column: _keys(source[column]) for column in _MAPS}
    width = len({_MAPS[column] + key for column, found in keys.items() for key in found})
    if width > MAX_WIDE_COLUMNS:
        raise InvalidQuery(
            f"these predictions have {width} distinct feature, score and attribution names, more than the "
            f"{MAX_WIDE_COLUMNS} columns of a wide export; ask for layout=long (one row per prediction and name)"
        )
    columns: dict[str, pa.ChunkedArray] = {out: source[col] for col, out in _COLUMNS.items()}
    for column, prefix in _MAPS.items():
        values = source[column]
        for key in keys[column]:
            name = prefix + key
            if name not in columns:  # a numeric feature wins over a categorical one of the same name
                columns[name] = pc.map_lookup(values, pa.scalar(key, values.type.key_type), "first")
    columns.update({out: source[col] for col, out in _LABEL_COLUMNS.items()})
    return pa.table({name: _plain(col) for name, col in columns.items()})


def long_export(rows: pa.Table) -> pa.Table:
    """The export rows with one row per prediction and map entry: the prediction columns
    of `flatten_export` (without the per-key ones) and label columns, then `kind`
    (feature, score or attribution), `key`, `value` (numbers) and `value_text`
    (categorical features). A prediction without any entry keeps one row with null
    kind and key, so none is lost. Ordered as the predictions, then kind, then key."""
    source = _source(rows)
    base = pa.table({out: _plain(source[col]) for col, out in {**_COLUMNS, **_LABEL_COLUMNS}.items()})
    parts = [_entries(source[column], kind, column == "StringFeatures") for column, kind in _LONG_KINDS.items()]
    every = pa.array(range(rows.num_rows), pa.int64())
    seen = pa.concat_arrays([p.column("row").combine_chunks() for p in parts])
    parts.append(_empty_entries(pc.filter(every, pc.invert(pc.is_in(every, seen)))))
    entries = pa.concat_tables(parts).sort_by([("row", "ascending"), ("order", "ascending"), ("key", "ascending")])
    table = base.take(entries.column("row"))
    for name in ("kind", "key", "value", "value_text"):
        table = table.append_column(name, entries.column(name))
    return table


#: Map column -> `kind` in the long layout, in its order.
_LONG_KINDS = {"Features": "feature", "StringFeatures": "feature", "Scores": "score", "Attributions": "attribution"}
_ENTRY_SCHEMA = pa.schema([("row", pa.int64()), ("order", pa.int8()), ("kind", pa.string()), ("key", pa.string()),
                           ("value", pa.float64()), ("value_text", pa.string())])


def _entries(values: pa.ChunkedArray, kind: str, text: bool) -> pa.Table:
    """(row, order, kind, key, value, value_text) per entry of a map column."""
    array = _as_list(values.combine_chunks() if values.num_chunks != 1 else values.chunk(0))
    flat = pc.list_flatten(array)
    rows = pc.list_parent_indices(array).cast(pa.int64())
    n = len(flat)
    keys, items = _plain_array(flat.field(0)), _plain_array(flat.field(1))
    none_number, none_text = pa.nulls(n, pa.float64()), pa.nulls(n, pa.string())
    order = list(_LONG_KINDS.values()).index(kind)
    return pa.table([
        rows, pa.repeat(pa.scalar(order, pa.int8()), n), pa.repeat(pa.scalar(kind), n), keys.cast(pa.string()),
        none_number if text else items.cast(pa.float64()), items.cast(pa.string()) if text else none_text,
    ], schema=_ENTRY_SCHEMA)


def _empty_entries(rows: pa.Array) -> pa.Table:
    n = len(rows)
    return pa.table([rows, pa.repeat(pa.scalar(-1, pa.int8()), n), pa.nulls(n, pa.string()), pa.nulls(n, pa.string()),
                     pa.nulls(n, pa.float64()), pa.nulls(n, pa.string())], schema=_ENTRY_SCHEMA)


def _source(rows: pa.Table) -> dict[str, pa.ChunkedArray]:
    """The store's columns with times as timestamps and an empty label as null."""
    n = rows.num_rows
    source = {name: rows.column(name) for name in rows.column_names}
    source["Timestamp"] = _as_time(source["TimestampNs"], n)
    source["LabelTimestamp"] = _as_time(source["LabelTimestampNs"], n)
    label = source["PredictionLabel"].cast(pa.string())
    source["PredictionLabel"] = pc.if_else(pc.equal(label, ""), pa.scalar(None, pa.string()), label)
    return source


def _keys(values: pa.ChunkedArray) -> list[str]:
    """The distinct keys of a map column, sorted (only the rows in view when sliced)."""
    found: set[str] = set()
    for chunk in values.chunks:
        found.update(str(k) for k in pc.unique(_plain_array(pc.list_flatten(_as_list(chunk)).field(0))).to_pylist())
    return sorted(found)


def _as_list(array: pa.Array) -> pa.Array:
    """A map array viewed as the list of (key, value) structs it is, which the list
    kernels take (they have no map kernels); slices stay slices."""
    if not pa.types.is_map(array.type):
        return array
    return array.view(pa.list_(pa.struct([array.type.key_field, array.type.item_field])))


def _plain_array(array: pa.Array) -> pa.Array:
    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def _as_time(values: pa.ChunkedArray, n: int) -> pa.ChunkedArray:
    return pc.cast(values.cast(pa.int64()), _UTC_NS) if n else pa.chunked_array([], _UTC_NS)


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dictionary (LowCardinality) columns decoded, so Parquet, CSV and pandas see plain values."""
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column

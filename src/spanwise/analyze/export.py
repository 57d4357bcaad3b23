"""Predictions with their labels as one flat Arrow table, for Parquet/CSV/JSON export and
pandas: map columns become one column per key (`feature.<name>` for numeric and
categorical features, `score.<name>` for scores,
`attribution.<name>` for attributions such as SHAP values), flattened column-wise with
`pyarrow.compute.map_lookup` (no per-row Python).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

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
    n = rows.num_rows
    source = {name: rows.column(name) for name in rows.column_names}
    source["Timestamp"] = _as_time(source["TimestampNs"], n)
    source["LabelTimestamp"] = _as_time(source["LabelTimestampNs"], n)
    label = source["PredictionLabel"].cast(pa.string())
    source["PredictionLabel"] = pc.if_else(pc.equal(label, ""), pa.scalar(None, pa.string()), label)
    columns: dict[str, pa.ChunkedArray] = {out: source[col] for col, out in _COLUMNS.items()}
    for column, prefix in _MAPS.items():
        values = source[column]
        keys = sorted({k for chunk in values.chunks for k in pc.unique(chunk.keys).to_pylist()})
        for key in keys:
            name = prefix + str(key)
            if name not in columns:  # a numeric feature wins over a categorical one of the same name
                columns[name] = pc.map_lookup(values, pa.scalar(key, values.type.key_type), "first")
    columns.update({out: source[col] for col, out in _LABEL_COLUMNS.items()})
    return pa.table({name: _plain(col) for name, col in columns.items()})


def _as_time(values: pa.ChunkedArray, n: int) -> pa.ChunkedArray:
    return pc.cast(values.cast(pa.int64()), _UTC_NS) if n else pa.chunked_array([], _UTC_NS)


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dictionary (LowCardinality) columns decoded, so Parquet, CSV and pandas see plain values."""
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column

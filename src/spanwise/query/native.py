"""Spanwise's native JSON for traces: OTel field names, typed attributes, AI fields.

Used by `/api/v1/traces/...`. Attribute values get back their OTLP type from the stored
type maps, so `{"http.status_code": 200}` comes back as a number, not "200".
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa

_ML_COLUMNS = {
    "ModelName": "model_name",
    "ModelVersion": "model_version",
    "PredictionId": "prediction_id",
    "PredictionValue": "prediction_value",
    "PredictionLabel": "prediction_label",
    "Confidence": "confidence",
    "Scores": "scores",
    "Features": "features",
    "StringFeatures": "string_features",
    "Attributions": "attributions",
    "GroundTruth": "ground_truth",
}


def typed_value(text: str, kind: str | None) -> Any:
    """A stored attribute string back as the type it was sent with."""
    try:
        if kind == "int64":
            return int(text)
        if kind == "float64":
            return float(text)
        if kind == "bool":
            return text == "true"
        if kind in ("array", "map"):
            return orjson.loads(text)
    except (ValueError, orjson.JSONDecodeError):
        return text
    return text


def typed_attributes(pairs: list[tuple[str, str]], types: list[tuple[str, str]]) -> dict[str, Any]:
    kinds = dict(types)
    return {key: typed_value(value, kinds.get(key)) for key, value in pairs}


def plain_rows(spans: pa.Table) -> list[dict[str, Any]]:
    """Rows with timestamps as Unix-ns integers: converting them to datetime objects (which
    `to_pylist` does, through pandas when it is installed) was most of a big trace's cost."""
    columns = []
    for field, column in zip(spans.schema, spans.columns):
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.int64())
        elif pa.types.is_list(field.type) and pa.types.is_timestamp(field.type.value_type):
            column = column.cast(pa.list_(pa.int64()))
        columns.append(column)
    return pa.Table.from_arrays(columns, names=spans.schema.names).to_pylist()


def span_to_native(row: dict[str, Any]) -> dict[str, Any]:
    """One stored span row (from `plain_rows`) as native JSON."""
    start_ns = int(row["Timestamp"])
    span = {
        "traceId": row["TraceId"],
        "spanId": row["SpanId"],
        "parentSpanId": row["ParentSpanId"],
        "traceState": row["TraceState"],
        "name": row["SpanName"],
        "kind": row["SpanKind"],
        "serviceName": row["ServiceName"],
        "startTimeUnixNano": start_ns,
        "durationNano": row["Duration"],
        "sampleWeight": row["SampleWeight"],
        "status": {"code": row["StatusCode"], "message": row["StatusMessage"]},
        "scope": {"name": row["ScopeName"], "version": row["ScopeVersion"]},
        "resource": typed_attributes(row["ResourceAttributes"], row["ResourceAttributeTypes"]),
        "attributes": typed_attributes(row["SpanAttributes"], row["SpanAttributeTypes"]),
        "events": [
            {"timeUnixNano": int(ts), "name": name, "attributes": dict(attrs)}
            for ts, name, attrs in zip(row["Events.Timestamp"], row["Events.Name"], row["Events.Attributes"])
        ],
        "links": [
            {"traceId": t, "spanId": s, "traceState": st, "attributes": dict(attrs)}
            for t, s, st, attrs in zip(
                row["Links.TraceId"], row["Links.SpanId"], row["Links.TraceState"], row["Links.Attributes"]
            )
        ],
    }
    if row["IsPrediction"]:
        span["prediction"] = {
            out: dict(row[col]) if isinstance(row[col], list) else row[col] for col, out in _ML_COLUMNS.items()
        }
    return span


def trace_to_native(spans: pa.Table) -> dict[str, Any]:
    """All spans of one trace, deduplicated by span id, ordered by start time."""
    seen: dict[str, dict[str, Any]] = {}
    for row in plain_rows(spans):
        seen.setdefault(row["SpanId"], span_to_native(row))
    ordered = sorted(seen.values(), key=lambda s: (s["startTimeUnixNano"], s["spanId"]))
    return {"traceId": ordered[0]["traceId"] if ordered else None, "spans": ordered}


def trace_summaries(trace_ids: list[str], spans: pa.Table) -> list[dict[str, Any]]:
    """One line per trace for search results, in the order of `trace_ids`."""
    by_trace: dict[str, list[dict[str, Any]]] = {t: [] for t in trace_ids}
    for row in plain_rows(spans) if spans.num_rows else []:
        by_trace.setdefault(row["TraceId"], []).append(row)
    summaries = []
    for trace_id, rows in by_trace.items():
        if not rows:
            continue
        root = next((r for r in rows if not r["ParentSpanId"]), min(rows, key=lambda r: r["Timestamp"]))
        start = min(int(r["Timestamp"]) for r in rows)
        end = max(int(r["Timestamp"]) + r["Duration"] for r in rows)
        summaries.append(
            {
                "traceId": trace_id,
                "rootServiceName": root["ServiceName"],
                "rootSpanName": root["SpanName"],
                "startTimeUnixNano": start,
                "durationNano": end - start,
                "spanCount": len({r["SpanId"] for r in rows}),
                "errorCount": sum(1 for r in rows if r["StatusCode"] == "Error"),
                "services": sorted({r["ServiceName"] for r in rows}),
                "models": _models_of(rows),
            }
        )
    return summaries


def _models_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model versions a trace's prediction spans ran, with their prediction counts
    (empty when the spans were read without AI fields)."""
    counts: dict[tuple[str, str], int] = {}
    seen: set[str] = set()
    for r in rows:
        if r.get("IsPrediction") and r["SpanId"] not in seen:
            seen.add(r["SpanId"])
            key = (r["ModelName"], r["ModelVersion"])
            counts[key] = counts.get(key, 0) + 1
    return [{"name": name, "version": version, "predictions": n} for (name, version), n in sorted(counts.items())]

"""Spanwise's native JSON for traces: OTel field names, typed attributes, AI fields.

Used by `/api/v1/traces/...`. Attribute values get back their OTLP type from the stored
type maps, so `{"http.status_code": 200}` comes back as a number, not "200".
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa

from spanwise.query.service import TracePage
from spanwise.store.protocols import TraceSummary

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


def trace_page_to_native(page: TracePage) -> dict[str, Any]:
    """One page of a trace with where it sits in the whole: clients show "N of M spans"
    and ask for `nextOffset` (None on the last page) to read on."""
    spans = trace_to_native(page.spans)["spans"] if page.spans is not None else []
    return {
        "traceId": page.trace_id,
        "spans": spans,
        "totalSpans": page.total,
        "offset": page.offset,
        "limit": page.limit,
        "nextOffset": page.next_offset,
    }


def summary_to_native(summary: TraceSummary) -> dict[str, Any]:
    """One line of the search results (the models list is empty for traces without predictions)."""
    return {
        "traceId": summary.trace_id,
        "rootServiceName": summary.root_service,
        "rootSpanName": summary.root_name,
        "startTimeUnixNano": summary.start_ns,
        "durationNano": summary.duration_ns,
        "spanCount": summary.span_count,
        "errorCount": summary.error_count,
        "services": list(summary.services),
        "models": [{"name": m.name, "version": m.version, "predictions": m.predictions} for m in summary.models],
    }

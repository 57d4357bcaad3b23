"""Stored spans to the Jaeger HTTP JSON API model (`/api/traces`, `/api/traces/{id}`).

Grafana's Jaeger data source and the Jaeger UI read this model, so its shape follows
what Jaeger's query service returns: the OTLP -> Jaeger translation of the
OpenTelemetry Collector (`pkg/translator/jaeger`) followed by Jaeger's UI JSON
converter, plus the query-time adjusters that change what clients see (attributes
sorted by key, numeric IP attributes as dotted quads, empty span links removed with a
warning). Where the reference fixture (tests/fixtures/jaeger/) differs from newer Jaeger
releases, the fixture wins: scope tags are named `otel.library.*`, not `otel.scope.*`.

Deliberate differences from Jaeger: ids are the stored 32/16-character hex (Jaeger trims
leading zeros of a trace id's high half, which would break trace-to-logs correlation on
the full id); event attribute types are not stored, so log fields are strings; there is
no clock-skew adjustment; spans are deduplicated by span id (delivery is at least once);
a trace holds at most `server.max_trace_spans` spans (the earliest), with a warning when cut.

This runs on the read path for traces of 10,000+ spans: columns are read into Python
lists once per call and every step is linear in the number of spans and attributes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

JsonDict = dict[str, Any]
_Pairs = list[tuple[str, str]]

#: Scope tags, named as in the reference fixture (newer Jaeger releases say `otel.scope.*`).
LIBRARY_NAME_TAG = "otel.library.name"
LIBRARY_VERSION_TAG = "otel.library.version"
SPAN_KIND_TAG = "span.kind"
STATUS_CODE_TAG = "otel.status_code"
STATUS_DESCRIPTION_TAG = "otel.status_description"
ERROR_TAG = "error"
TRACE_STATE_TAG = "w3c.tracestate"
EVENT_FIELD = "event"
REF_TYPE_ATTRIBUTE = "opentracing.ref_type"
INVALID_LINK_WARNING = "Invalid span link removed"
TRUNCATED_WARNING = "Trace truncated"
CHILD_OF = "CHILD_OF"
FOLLOWS_FROM = "FOLLOWS_FROM"

_SERVICE_NAME = "service.name"
_SPAN_KINDS = {
    "Internal": "internal",
    "Server": "server",
    "Client": "client",
    "Producer": "producer",
    "Consumer": "consumer",
}
_STATUS_CODES = {"Ok": "OK", "Error": "ERROR"}
_IP_ATTRIBUTES = frozenset({"ip", "peer.ipv4"})
# JavaScript clients lose precision beyond 2**53, so Jaeger sends such ints as strings.
_JS_MAX_SAFE_INTEGER = 2**53 - 1
_ZERO_SPAN_ID = "0" * 16
_TAG_TYPES = {"int64": "int64", "float64": "float64", "bool": "bool", "binary": "binary"}


def jaeger_envelope(
    data: list[Any] | None,
    *,
    total: int = 0,
    limit: int = 0,
    offset: int = 0,
    errors: list[JsonDict] | None = None,
) -> JsonDict:
    """Jaeger's response envelope; `errors` stays None (JSON null) when there are none,
    as Jaeger sends it and as Grafana expects."""
    return {"data": data, "total": total, "limit": limit, "offset": offset, "errors": errors or None}


def jaeger_error(status: int, message: str) -> JsonDict:
    """Jaeger's error envelope: clients read `errors[0].msg` to show the failure."""
    return jaeger_envelope(None, errors=[{"code": status, "msg": message}])


def traces_to_jaeger(spans: pa.Table, totals: dict[str, int] | None = None) -> list[JsonDict]:
    """Group stored spans into Jaeger traces.

    `spans` has the columns of `spanwise.core.spans.SPAN_SCHEMA` (the AI columns are
    not needed). Traces come in order of first appearance; spans inside a trace are
    ordered by start time then span id, and a span id stored twice (a retried export)
    appears once, as first seen. Processes are numbered p1, p2, ... per trace in the
    order their first span appears. A trace whose `totals` entry (its stored span
    count) exceeds its spans here was cut by the server's cap: Jaeger has no paging, so
    the trace carries a warning saying so, which Jaeger's UI and Grafana display.
    """
    if spans.num_columns == 0:
        return []
    columns = _Columns.read(spans)
    traces = [_trace(trace_id, rows, columns) for trace_id, rows in _rows_by_trace(columns).items()]
    for trace in traces:
        total = (totals or {}).get(trace["traceID"], 0)
        if total > len(trace["spans"]):
            trace["warnings"] = [truncated_warning(len(trace["spans"]), total)]
    return traces


def truncated_warning(shown: int, total: int) -> str:
    """The trace-level warning of a trace cut to the server's cap."""
    return f"{TRUNCATED_WARNING}: showing {shown} of {total} spans (server.max_trace_spans)"


@dataclass(frozen=True, slots=True)
class _Columns:
    """The span table's columns as Python lists, read once per call."""

    start: list[int]
    trace_id: list[str]
    span_id: list[str]
    parent_id: list[str]
    trace_state: list[str]
    name: list[str]
    kind: list[str]
    service: list[str]
    resource: _MapColumn
    scope_name: list[str]
    scope_version: list[str]
    attributes: _MapColumn
    duration: list[int]
    status_code: list[str]
    status_message: list[str]
    event_times: list[list[int]]
    event_names: list[list[str]]
    event_attributes: list[list[_Pairs]]
    link_trace_ids: list[list[str]]
    link_span_ids: list[list[str]]
    link_attributes: list[list[_Pairs]]
    resource_types: _MapColumn
    attribute_types: _MapColumn

    @classmethod
    def read(cls, spans: pa.Table) -> _Columns:
        """Timestamps become integer nanoseconds: Python datetimes would drop them."""

        def col(name: str, as_type: pa.DataType | None = None) -> list[Any]:
            column = spans.column(name)
            values: list[Any] = (column.cast(as_type) if as_type is not None else column).to_pylist()
            return values

        return cls(
            start=col("Timestamp", pa.int64()),
            trace_id=col("TraceId"),
            span_id=col("SpanId"),
            parent_id=col("ParentSpanId"),
            trace_state=col("TraceState"),
            name=col("SpanName"),
            kind=col("SpanKind"),
            service=col("ServiceName"),
            resource=_MapColumn.read(spans.column("ResourceAttributes")),
            scope_name=col("ScopeName"),
            scope_version=col("ScopeVersion"),
            attributes=_MapColumn.read(spans.column("SpanAttributes")),
            duration=col("Duration"),
            status_code=col("StatusCode"),
            status_message=col("StatusMessage"),
            event_times=col("Events.Timestamp", pa.list_(pa.int64())),
            event_names=col("Events.Name"),
            event_attributes=col("Events.Attributes"),
            link_trace_ids=col("Links.TraceId"),
            link_span_ids=col("Links.SpanId"),
            link_attributes=col("Links.Attributes"),
            resource_types=_MapColumn.read(spans.column("ResourceAttributeTypes")),
            attribute_types=_MapColumn.read(spans.column("SpanAttributeTypes")),
        )


@dataclass(frozen=True, slots=True)
class _MapColumn:
    """A map column as flat key and value lists plus offsets. `to_pylist()` would make
    a list of pair tuples per span; on a big trace those extra containers, alive for the
    whole call, made garbage collection the larger part of the conversion time."""

    keys: list[str]
    values: list[str]
    offsets: list[int]

    @classmethod
    def read(cls, column: pa.ChunkedArray) -> _MapColumn:
        maps = column.combine_chunks()
        offsets = maps.offsets.to_pylist()  # into the unsliced children, like .keys
        first, last = offsets[0], offsets[-1]
        return cls(
            keys=maps.keys.slice(first, last - first).to_pylist(),
            values=maps.items.slice(first, last - first).to_pylist(),
            offsets=[offset - first for offset in offsets],
        )

    def pairs(self, row: int) -> _Pairs:
        """The map of one row as (key, value) pairs in stored order."""
        start, end = self.offsets[row], self.offsets[row + 1]
        return list(zip(self.keys[start:end], self.values[start:end]))


def _rows_by_trace(columns: _Columns) -> dict[str, list[int]]:
    """Row numbers per trace id (dicts keep first-appearance order), one row per span id."""
    seen: dict[str, dict[str, int]] = {}
    for row, (trace_id, span_id) in enumerate(zip(columns.trace_id, columns.span_id)):
        seen.setdefault(trace_id, {}).setdefault(span_id, row)
    return {trace_id: list(by_span.values()) for trace_id, by_span in seen.items()}


def _trace(trace_id: str, rows: list[int], columns: _Columns) -> JsonDict:
    """One Jaeger trace; spans of one (service, resource) share a process entry, as
    Jaeger's converter shares equal processes."""
    rows = sorted(rows, key=lambda row: (columns.start[row], columns.span_id[row]))
    process_ids: dict[tuple[Any, ...], str] = {}
    processes: dict[str, JsonDict] = {}
    spans = []
    for row in rows:
        resource, types = columns.resource.pairs(row), columns.resource_types.pairs(row)
        key = (columns.service[row], tuple(resource), tuple(types))
        process_id = process_ids.get(key)
        if process_id is None:
            process_id = process_ids[key] = f"p{len(process_ids) + 1}"
            tags = _process_tags(resource, types)
            processes[process_id] = {"serviceName": columns.service[row], "tags": tags}
        spans.append(_span(row, columns, process_id))
    return {"traceID": trace_id, "spans": spans, "processes": processes, "warnings": None}


def _span(row: int, columns: _Columns, process_id: str) -> JsonDict:
    """One Jaeger span, keys in the order Jaeger writes them."""
    references, warnings = _references(row, columns)
    return {
        "traceID": columns.trace_id[row],
        "spanID": columns.span_id[row],
        "operationName": columns.name[row],
        "references": references,
        "startTime": columns.start[row] // 1000,
        "duration": columns.duration[row] // 1000,
        "tags": _span_tags(row, columns),
        "logs": _logs(row, columns),
        "processID": process_id,
        "warnings": warnings,
    }


def _references(row: int, columns: _Columns) -> tuple[list[JsonDict], list[str] | None]:
    """The parent as CHILD_OF first, then links (FOLLOWS_FROM unless the link's
    `opentracing.ref_type` says `child_of`). A link to the parent itself only sets the
    parent's reference type; a link without a trace id is dropped with a warning."""
    trace_id, parent_id = columns.trace_id[row], columns.parent_id[row]
    references = [_reference(CHILD_OF, trace_id, parent_id)] if parent_id else []
    warnings = []
    links = zip(columns.link_trace_ids[row], columns.link_span_ids[row], columns.link_attributes[row])
    for link_trace_id, link_span_id, attributes in links:
        if not link_trace_id:
            warnings.append(INVALID_LINK_WARNING)
            continue
        ref_type = CHILD_OF if dict(attributes).get(REF_TYPE_ATTRIBUTE) == "child_of" else FOLLOWS_FROM
        if parent_id and link_trace_id == trace_id and link_span_id == parent_id:
            references[0]["refType"] = ref_type
        else:
            references.append(_reference(ref_type, link_trace_id, link_span_id or _ZERO_SPAN_ID))
    return references, warnings or None


def _reference(ref_type: str, trace_id: str, span_id: str) -> JsonDict:
    return {"refType": ref_type, "traceID": trace_id, "spanID": span_id}


def _span_tags(row: int, columns: _Columns) -> list[JsonDict]:
    """Scope tags, attributes (sorted by key), then kind, status and trace state tags,
    in the OTLP -> Jaeger translator's order."""
    tags = []
    if columns.scope_name[row]:
        tags.append(_string_tag(LIBRARY_NAME_TAG, columns.scope_name[row]))
    if columns.scope_version[row]:
        tags.append(_string_tag(LIBRARY_VERSION_TAG, columns.scope_version[row]))
    tags.extend(_attribute_tags(columns.attributes.pairs(row), columns.attribute_types.pairs(row)))
    kind = _SPAN_KINDS.get(columns.kind[row])
    if kind:
        tags.append(_string_tag(SPAN_KIND_TAG, kind))
    tags.extend(_status_tags(columns.status_code[row], columns.status_message[row]))
    if columns.trace_state[row]:
        tags.append(_string_tag(TRACE_STATE_TAG, columns.trace_state[row]))
    return tags


def _status_tags(code: str, message: str) -> list[JsonDict]:
    """`otel.status_code`, then `error`=true for errors, then the description; the
    translator emits the description whenever it is set, whatever the code."""
    tags = []
    if code in _STATUS_CODES:
        tags.append(_string_tag(STATUS_CODE_TAG, _STATUS_CODES[code]))
    if code == "Error":
        tags.append({"key": ERROR_TAG, "type": "bool", "value": True})
    if message:
        tags.append(_string_tag(STATUS_DESCRIPTION_TAG, message))
    return tags


def _logs(row: int, columns: _Columns) -> list[JsonDict]:
    """Span events as logs: the name as an `event` field first (unless an attribute
    already has that key), then the attributes sorted by key, all as strings."""
    logs = []
    events = zip(columns.event_times[row], columns.event_names[row], columns.event_attributes[row])
    for timestamp, name, attributes in events:
        fields = [_string_tag(key, value) for key, value in sorted(attributes)]
        if name and not any(key == EVENT_FIELD for key, _ in attributes):
            fields.insert(0, _string_tag(EVENT_FIELD, name))
        logs.append({"timestamp": timestamp // 1000, "fields": fields})
    return logs


def _process_tags(resource: _Pairs, types: _Pairs) -> list[JsonDict]:
    """Resource attributes except `service.name`, which is the process's serviceName."""
    return [tag for tag in _attribute_tags(resource, types) if tag["key"] != _SERVICE_NAME]


def _attribute_tags(attributes: _Pairs, types: _Pairs) -> list[JsonDict]:
    """Attributes sorted by key (Jaeger's query adjuster does so) and typed back from
    the stored type map, which lists only the attributes that are not strings."""
    type_of = dict(types) if types else {}
    return [_typed_tag(key, text, type_of.get(key, "string")) for key, text in sorted(attributes)]


def _typed_tag(key: str, text: str, otlp_type: str) -> JsonDict:
    """A tag with its OTLP type restored; arrays and maps stay JSON text as in Jaeger.

    A number that does not parse is sent as a string tag rather than failing the whole
    trace: the read path must show what was stored.
    """
    tag_type = _TAG_TYPES.get(otlp_type, "string")
    if tag_type in ("string", "binary"):
        return {"key": key, "type": tag_type, "value": text}
    if tag_type == "bool":
        return {"key": key, "type": tag_type, "value": text == "true"}
    try:
        number: int | float = int(text) if tag_type == "int64" else float(text)
    except ValueError:
        return _string_tag(key, text)
    if key in _IP_ATTRIBUTES and math.isfinite(number):
        return _string_tag(key, _ipv4(int(number)))
    return {"key": key, "type": tag_type, "value": _json_number(number)}


def _json_number(number: int | float) -> int | float | str:
    """Text for what JSON readers cannot hold: ints beyond JavaScript's safe range (as
    Jaeger does) and NaN or infinities (which JSON cannot express)."""
    if isinstance(number, int):
        return number if abs(number) <= _JS_MAX_SAFE_INTEGER else str(number)
    return number if math.isfinite(number) else str(number)


def _ipv4(number: int) -> str:
    """An IPv4 address packed into the low 32 bits, as Jaeger's IP adjuster renders it."""
    packed = number & 0xFFFFFFFF
    return ".".join(str((packed >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def _string_tag(key: str, value: str) -> JsonDict:
    return {"key": key, "type": "string", "value": value}

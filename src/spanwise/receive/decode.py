"""OTLP trace export requests (protobuf bytes) to columnar span batches.

ptars turns the serialized requests into nested Arrow arrays in Rust; everything after
that is Arrow/numpy column arithmetic, so the ingest path has no per-span or per-value
Python loop (DESIGN.md, "The hot path"). Only array/kvlist/bytes attribute values, which
are rare, are rendered one by one. `reference_decode` is the plain-Python twin the tests
compare this decoder with.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import orjson
import ptars
import pyarrow as pa
import pyarrow.compute as pc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from spanwise.errors import MalformedPayload
from spanwise.core.time_window import ANY_TIME, TimeWindow
from spanwise.core.spans import (
    ATTRIBUTE_MAP,
    ATTRIBUTE_ROWS_SCHEMA,
    DECODED_SCHEMA,
    SPAN_KIND_NAMES,
    STATUS_CODE_NAMES,
    TIMESTAMP,
    SpanBatch,
)

_HANDLER = ptars.HandlerPool([ExportTraceServiceRequest.DESCRIPTOR.file]).get_for_message(
    ExportTraceServiceRequest.DESCRIPTOR
)
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
UNKNOWN_SERVICE = "unknown_service"
_MAX_TIME = pa.scalar(2**63, pa.uint64())
_M = TypeVar("_M", bound=Message)

@dataclass(frozen=True)
class DecodedSpans:
    """Spans decoded from one or more requests, and what was rejected and why."""

    spans: pa.Table
    span_attributes: pa.Table
    rejected: int = 0
    reject_reason: str = ""

    @property
    def batch(self) -> SpanBatch:
        return SpanBatch(self.spans, self.span_attributes)


@dataclass(frozen=True)
class _Attributes:
    """Attribute lists rendered as a string map, a type map and flat rows."""

    values: pa.Array
    types: pa.Array
    rows: pa.Table


def decode_export_requests(bodies: list[bytes], window: TimeWindow = ANY_TIME) -> DecodedSpans:
    """Decode serialized `ExportTraceServiceRequest`s into one span batch.

    Raises `MalformedPayload` when a body is not a valid protobuf message. Spans with
    invalid ids, or starting outside `window`, are dropped and counted in `rejected`, the
    rest are kept.
    """
    record = record_batch(_HANDLER, bodies)
    resource_spans = record.column("resource_spans")
    rs = pc.list_flatten(resource_spans)
    resource = pc.struct_field(rs, "resource")
    scope_spans_lists = pc.struct_field(rs, "scope_spans")
    ss = pc.list_flatten(scope_spans_lists)
    ss_to_rs = pc.list_parent_indices(scope_spans_lists)
    span_lists = pc.struct_field(ss, "spans")
    spans = pc.list_flatten(span_lists)
    span_to_ss = pc.list_parent_indices(span_lists)
    span_to_rs = pc.take(ss_to_rs, span_to_ss)

    valid, reason = _valid_spans(spans, window)
    rejected = len(spans) - pc.sum(valid).as_py() if len(spans) else 0
    if rejected:
        spans = pc.filter(spans, valid)
        span_to_ss = pc.filter(span_to_ss, valid)
        span_to_rs = pc.filter(span_to_rs, valid)
    return DecodedSpans(*_span_table(spans, span_to_ss, span_to_rs, resource, ss), rejected, reason)


def service_names(resource_attributes: pa.MapArray) -> pa.Array:
    """Each resource's `service.name`; missing or empty is `unknown_service` (the OTel SDKs' default)."""
    service = pc.map_lookup(resource_attributes, "service.name", "first")
    return pc.fill_null(pc.if_else(pc.equal(service, ""), None, service), UNKNOWN_SERVICE)


def record_batch(handler: Any, bodies: list[bytes]) -> pa.RecordBatch:
    """Serialized export requests as one nested Arrow batch (ptars); a body that is not a
    valid protobuf message is a `MalformedPayload`."""
    try:
        return handler.list_to_record_batch(bodies)
    except (ValueError, RuntimeError) as exc:
        raise MalformedPayload(f"invalid OTLP protobuf payload: {exc}") from exc


def _span_table(
    spans: pa.StructArray,
    span_to_ss: pa.Array,
    span_to_rs: pa.Array,
    resource: pa.StructArray,
    scope_spans: pa.StructArray,
) -> tuple[pa.Table, pa.Table]:
    """Build the span columns from flattened span structs and their parents' indices."""
    res_attrs = attributes(pc.struct_field(resource, "attributes"))
    span_attrs = attributes(pc.struct_field(spans, "attributes"))
    scope = pc.struct_field(scope_spans, "scope")
    start = pc.cast(pc.struct_field(spans, "start_time_unix_nano"), pa.int64())
    end = pc.cast(pc.struct_field(spans, "end_time_unix_nano"), pa.int64())
    duration = pc.max_element_wise(pc.subtract(end, start), 0)
    status = pc.struct_field(spans, "status")
    service = service_names(res_attrs.values)
    events = _events(pc.struct_field(spans, "events"))
    links = _links(pc.struct_field(spans, "links"))
    columns = {
        "Timestamp": pc.cast(start, TIMESTAMP),
        "TraceId": hex_ids(pc.struct_field(spans, "trace_id"), 16),
        "SpanId": hex_ids(pc.struct_field(spans, "span_id"), 8),
        "ParentSpanId": hex_ids(pc.struct_field(spans, "parent_span_id"), 8),
        "TraceState": pc.struct_field(spans, "trace_state"),
        "SpanName": pc.struct_field(spans, "name"),
        "SpanKind": _enum_names(pc.struct_field(spans, "kind"), SPAN_KIND_NAMES),
        "ServiceName": pc.take(service, span_to_rs),
        "ResourceAttributes": pc.take(res_attrs.values, span_to_rs),
        "ScopeName": pc.take(pc.fill_null(pc.struct_field(scope, "name"), ""), span_to_ss),
        "ScopeVersion": pc.take(pc.fill_null(pc.struct_field(scope, "version"), ""), span_to_ss),
        "SpanAttributes": span_attrs.values,
        "Duration": pc.cast(duration, pa.uint64()),
        "StatusCode": _enum_names(pc.fill_null(pc.struct_field(status, "code"), 0), STATUS_CODE_NAMES),
        "StatusMessage": pc.fill_null(pc.struct_field(status, "message"), ""),
        **events,
        **links,
        "ResourceAttributeTypes": pc.take(res_attrs.types, span_to_rs),
        "SpanAttributeTypes": span_attrs.types,
    }
    table = pa.Table.from_pydict(columns).cast(DECODED_SCHEMA)
    return table, span_attrs.rows


def _valid_spans(spans: pa.StructArray, window: TimeWindow) -> tuple[pa.Array, str]:
    """Which spans have well-formed ids and storable times, and a message naming what was wrong."""
    trace_id = pc.struct_field(spans, "trace_id")
    span_id = pc.struct_field(spans, "span_id")
    parent_len = pc.binary_length(pc.struct_field(spans, "parent_span_id"))
    checks = (
        ("trace_id must be 16 bytes and not all zero",
         pc.and_(pc.equal(pc.binary_length(trace_id), 16), pc.not_equal(trace_id, b"\x00" * 16))),
        ("span_id must be 8 bytes and not all zero",
         pc.and_(pc.equal(pc.binary_length(span_id), 8), pc.not_equal(span_id, b"\x00" * 8))),
        ("parent_span_id must be empty or 8 bytes", pc.or_(pc.equal(parent_len, 0), pc.equal(parent_len, 8))),
        ("start and end times must be below 2^63 ns",
         pc.and_(pc.less(pc.struct_field(spans, "start_time_unix_nano"), _MAX_TIME),
                 pc.less(pc.struct_field(spans, "end_time_unix_nano"), _MAX_TIME))),
        window.check(pc.struct_field(spans, "start_time_unix_nano")),
    )
    return combine_checks(checks, len(spans))


def combine_checks(checks: tuple[tuple[str, pa.Array], ...], length: int) -> tuple[pa.Array, str]:
    """Rows that pass every (message, mask) check, and the messages of the checks some row failed."""
    valid = pa.array(np.ones(length, dtype=bool))
    problems = []
    for message, ok in checks:
        valid = pc.and_(valid, ok)
        if pc.all(ok).as_py() is False:
            problems.append(message)
    return valid, "; ".join(problems)


def hex_ids(ids: pa.Array, width: int) -> pa.Array:
    """Lower-case hex of fixed-width binary ids; empty ids become ''. Vectorized."""
    lengths = pc.binary_length(ids).to_numpy(zero_copy_only=False)
    padded = pc.if_else(pc.equal(pc.binary_length(ids), width), ids, b"\x00" * width)
    padded = padded.combine_chunks() if isinstance(padded, pa.ChunkedArray) else padded
    buffers = padded.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32)[padded.offset : padded.offset + len(padded) + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[0] : offsets[-1]] if len(padded) else np.zeros(0, np.uint8)
    digits = np.empty(data.size * 2, dtype=np.uint8)
    digits[0::2] = _HEX_DIGITS[data >> 4]
    digits[1::2] = _HEX_DIGITS[data & 0x0F]
    out_offsets = np.arange(0, len(ids) * 2 * width + 1, 2 * width, dtype=np.int32)
    text = pa.Array.from_buffers(
        pa.string(), len(ids), [None, pa.py_buffer(out_offsets), pa.py_buffer(digits.tobytes())]
    )
    return pc.if_else(pa.array(lengths == 0), "", text)


def _enum_names(codes: pa.Array, names: tuple[str, ...]) -> pa.Array:
    """Map OTLP enum numbers to names; unknown numbers take the first (unspecified) name."""
    codes = pc.cast(codes, pa.int64())
    in_range = pc.and_(pc.greater_equal(codes, 0), pc.less(codes, len(names)))
    return pc.take(pa.array(names), pc.if_else(in_range, codes, 0))


def attributes(lists: pa.Array) -> _Attributes:
    """Render OTLP KeyValue lists as string maps, type maps and flat attribute rows."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    kv = pc.list_flatten(lists)
    owner = pc.list_parent_indices(lists)
    keys = pc.struct_field(kv, "key")
    value = pc.struct_field(kv, "value")
    text, number, kind = render_values(value)
    list_offsets = _offsets(lists)
    values = pa.MapArray.from_arrays(list_offsets, keys, text)
    typed = pc.not_equal(kind, "string")
    typed_np = typed.to_numpy(zero_copy_only=False)
    cumulative = np.concatenate([[0], np.cumsum(typed_np, dtype=np.int32)]).astype(np.int32)
    types = pa.MapArray.from_arrays(
        pa.array(cumulative[list_offsets.to_numpy()]), pc.filter(keys, typed), pc.filter(kind, typed)
    )
    rows = pa.table([pc.cast(owner, pa.int64()), keys, text, number, kind], schema=ATTRIBUTE_ROWS_SCHEMA)
    return _Attributes(values, types, rows)


def _offsets(lists: pa.ListArray) -> pa.Array:
    """List offsets rebased to the flattened values (list arrays may be sliced)."""
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    return pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))


def render_values(value: pa.StructArray) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Text, numeric value and OTLP type name of each AnyValue."""
    string_value = pc.struct_field(value, "string_value")
    bool_value = pc.struct_field(value, "bool_value")
    int_value = pc.struct_field(value, "int_value")
    double_value = pc.struct_field(value, "double_value")
    bytes_value = pc.struct_field(value, "bytes_value")
    array_value = pc.struct_field(value, "array_value")
    kvlist_value = pc.struct_field(value, "kvlist_value")
    number = pc.coalesce(double_value, pc.cast(int_value, pa.float64(), safe=False))
    text = pc.coalesce(
        string_value,
        pc.cast(int_value, pa.string()),
        pc.cast(double_value, pa.string()),
        pc.if_else(bool_value, "true", "false"),
        _rare_values(bytes_value, array_value, kvlist_value),
        pa.scalar(""),
    )
    kind = pc.case_when(
        pc.make_struct(
            pc.is_valid(int_value),
            pc.is_valid(double_value),
            pc.is_valid(bool_value),
            pc.is_valid(bytes_value),
            pc.is_valid(array_value),
            pc.is_valid(kvlist_value),
        ),
        "int64",
        "float64",
        "bool",
        "binary",
        "array",
        "map",
        "string",
    )
    return text, number, kind


def _rare_values(bytes_value: pa.Array, array_value: pa.Array, kvlist_value: pa.Array) -> pa.Array:
    """Text of bytes (base64), arrays and kvlists (JSON): rare, so rendered one by one."""
    present = pc.or_(pc.or_(pc.is_valid(bytes_value), pc.is_valid(array_value)), pc.is_valid(kvlist_value))
    out: list[str | None] = [None] * len(bytes_value)
    if not pc.any(present).as_py():
        return pa.array(out, pa.string())
    for i in np.flatnonzero(present.to_numpy(zero_copy_only=False)):
        if bytes_value[i].is_valid:
            out[i] = base64.b64encode(bytes_value[i].as_py()).decode()
        elif array_value[i].is_valid:
            items = array_value[i].as_py()["values"]
            out[i] = orjson.dumps([any_value_to_python(_parse_any_value(b)) for b in items]).decode()
        else:
            items = kvlist_value[i].as_py()["values"]
            out[i] = orjson.dumps(_kvlist_to_dict(items)).decode()
    return pa.array(out, pa.string())


def _kvlist_to_dict(pairs: list[bytes] | list[dict[str, object]]) -> dict[str, object]:
    """Pairs arrive serialized (attribute values, where ptars stops recursing) or one
    level decoded (log bodies: `{"key", "value": serialized AnyValue}`)."""
    found: dict[str, object] = {}
    for pair in pairs:
        if isinstance(pair, dict):
            raw = pair.get("value")
            found[str(pair["key"])] = any_value_to_python(_parse_any_value(raw if isinstance(raw, bytes) else b""))
        else:
            kv = _parse(KeyValue, pair)
            found[kv.key] = any_value_to_python(kv.value)
    return found


def _parse_any_value(raw: bytes) -> AnyValue:
    return _parse(AnyValue, raw)


def _parse(message: type[_M], raw: bytes) -> _M:
    """A nested value ptars left serialized; garbage or nesting deeper than protobuf's
    limit (100) makes the whole request malformed, as a full protobuf parse would."""
    try:
        return message.FromString(raw)
    except (DecodeError, RecursionError) as exc:
        raise MalformedPayload(f"invalid OTLP protobuf payload: a nested attribute value: {exc}") from exc


def any_value_to_python(value: AnyValue) -> object:
    """A protobuf AnyValue as plain JSON-able Python (bytes as base64)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value_to_python(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value_to_python(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, which)


def _events(events: pa.ListArray) -> dict[str, pa.Array]:
    """Span events as the exporter's nested `Events.*` columns."""
    offsets = _offsets(events)
    flat = pc.list_flatten(events)
    rendered = attributes(pc.struct_field(flat, "attributes"))
    clamped = pc.min_element_wise(pc.struct_field(flat, "time_unix_nano"), pa.scalar(2**63 - 1, pa.uint64()))
    times = pc.cast(pc.cast(clamped, pa.int64()), TIMESTAMP)
    return {
        "Events.Timestamp": pa.ListArray.from_arrays(offsets, times),
        "Events.Name": pa.ListArray.from_arrays(offsets, pc.struct_field(flat, "name")),
        "Events.Attributes": pa.ListArray.from_arrays(offsets, rendered.values.cast(ATTRIBUTE_MAP)),
    }


def _links(links: pa.ListArray) -> dict[str, pa.Array]:
    """Span links as the exporter's nested `Links.*` columns."""
    offsets = _offsets(links)
    flat = pc.list_flatten(links)
    rendered = attributes(pc.struct_field(flat, "attributes"))
    return {
        "Links.TraceId": pa.ListArray.from_arrays(offsets, hex_ids(pc.struct_field(flat, "trace_id"), 16)),
        "Links.SpanId": pa.ListArray.from_arrays(offsets, hex_ids(pc.struct_field(flat, "span_id"), 8)),
        "Links.TraceState": pa.ListArray.from_arrays(offsets, pc.struct_field(flat, "trace_state")),
        "Links.Attributes": pa.ListArray.from_arrays(offsets, rendered.values.cast(ATTRIBUTE_MAP)),
    }

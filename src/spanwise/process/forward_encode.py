"""Processed span tables back to OTLP `ExportTraceServiceRequest` bytes, for forwarding.

The reverse of `spanwise.receive.decode`, and columnar for the same reason (DESIGN.md,
"The hot path"): column arithmetic lays the spans out in the nested Arrow shape ptars
reads (`ptars.get_schema(ExportTraceServiceRequest.DESCRIPTOR)`) and ptars serializes it
in Rust. Spans are grouped into one ResourceSpans per (ServiceName, resource attributes)
and one ScopeSpans per scope within it. Attribute values get back the OTLP type their
type map records (`ResourceAttributeTypes`, `SpanAttributeTypes`), so an int stays an
int downstream. Only bytes, array and map values (rare) are rebuilt one by one; a value
that no longer parses as its recorded type (say, redacted) is sent as a string. ptars
(0.0.25) writes no content for recursive messages (array and map values), so a request
that has any is parsed back and those values set in place (`_patch_nested`). When a map
repeats a key (OTLP forbids it), every occurrence takes the first recorded type.

A table with a `Project` column (the forwarder adds the project each batch was sent to)
may mix projects: resources are grouped by project too, and each resource of a project
other than the default one carries `spanwise.project` = its project (a value the sender
set is replaced), so a downstream collector can tell projects apart. Resources of the
default project are sent as they came, so a server without projects forwards what it
did before projects.

What cannot come back because the span table does not keep it: event and link attribute
types (sent as strings, as they are stored), span and link flags, scope attributes,
schema URLs and dropped-item counts.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import orjson
import ptars
import pyarrow as pa
import pyarrow.compute as pc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from spanwise.core.spans import DECODED_SCHEMA, SPAN_KIND_NAMES, STATUS_CODE_NAMES
from spanwise.request_context import DEFAULT_PROJECT

_HANDLER = ptars.HandlerPool([ExportTraceServiceRequest.DESCRIPTOR.file]).get_for_message(
    ExportTraceServiceRequest.DESCRIPTOR
)
_REQUEST_SCHEMA: pa.Schema = _HANDLER.schema()
_RESOURCE_SPANS: pa.ListType = _REQUEST_SCHEMA.field("resource_spans").type
_SCOPE_SPANS: pa.ListType = _RESOURCE_SPANS.value_type.field("scope_spans").type
_SPANS: pa.ListType = _SCOPE_SPANS.value_type.field("spans").type
_SPAN: pa.StructType = _SPANS.value_type
_KEY_VALUES: pa.ListType = _SPAN.field("attributes").type
_KEY_VALUE: pa.StructType = _KEY_VALUES.value_type
_ANY_VALUE: pa.StructType = _KEY_VALUE.field("value").type
_EVENTS: pa.ListType = _SPAN.field("events").type
_LINKS: pa.ListType = _SPAN.field("links").type

#: The span table columns forwarding needs (what a receiver decodes).
FORWARD_COLUMNS = tuple(DECODED_SCHEMA.names)
#: The optional column naming each span's project, and the resource attribute it becomes.
PROJECT_COLUMN = "Project"
PROJECT_ATTRIBUTE = "spanwise.project"
_INT64_RANGE = (-(2**63), 2**63 - 1)
_NIBBLES = np.zeros(256, dtype=np.uint8)  # hex digit (ASCII code) -> its value
_NIBBLES[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16)
_NIBBLES[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)


@dataclass(frozen=True)
class EncodedRequest:
    """One serialized export request and how many spans it carries."""

    body: bytes
    spans: int


def encode_requests(spans: pa.Table, max_spans: int, max_bytes: int) -> list[EncodedRequest]:
    """Serialized requests of at most `max_spans` spans each; a request over `max_bytes`
    is split in halves (down to one span) so large attributes cannot exceed a
    receiver's message limit."""
    out: list[EncodedRequest] = []
    for start in range(0, spans.num_rows, max_spans):
        _encode_within(spans.slice(start, max_spans), max_bytes, out)
    return out


def _encode_within(spans: pa.Table, max_bytes: int, out: list[EncodedRequest]) -> None:
    body = encode_request(spans)
    if len(body) <= max_bytes or spans.num_rows <= 1:
        out.append(EncodedRequest(body, spans.num_rows))
        return
    half = spans.num_rows // 2
    _encode_within(spans.slice(0, half), max_bytes, out)
    _encode_within(spans.slice(half), max_bytes, out)


def encode_request(spans: pa.Table) -> bytes:
    """One `ExportTraceServiceRequest` holding every span of the table (decoded columns,
    `DECODED_SCHEMA`; other columns are ignored)."""
    if spans.num_rows == 0:
        return b""
    layout = _Layout.of(spans)
    table = layout.spans
    span_attributes = key_values(_column(table, "SpanAttributes"), _column(table, "SpanAttributeTypes"))
    first_spans = layout.scope_starts[layout.resource_starts]
    resource_maps = _column(table, "ResourceAttributes").take(first_spans)
    resource_types = _column(table, "ResourceAttributeTypes").take(first_spans)
    if PROJECT_COLUMN in table.column_names:
        resource_maps, resource_types = _with_project(resource_maps, resource_types, _column(table, PROJECT_COLUMN).take(first_spans))
    resource_attributes = key_values(resource_maps, resource_types)
    resource_spans = _resource_spans(layout, resource_attributes.lists, _spans(table, span_attributes.lists))
    request = pa.RecordBatch.from_arrays(
        [_list(_RESOURCE_SPANS, np.array([0, len(resource_spans)]), resource_spans)], schema=_REQUEST_SCHEMA
    )
    body = bytes(_HANDLER.record_batch_to_array(request)[0].as_py())
    if span_attributes.nested or resource_attributes.nested:
        body = _patch_nested(body, layout, resource_attributes.nested, span_attributes.nested)
    return body


def _resource_spans(layout: _Layout, resource_attributes: pa.ListArray, spans: pa.StructArray) -> pa.StructArray:
    """ResourceSpans structs holding ScopeSpans structs holding the (ordered) spans."""
    table, scope_starts, resource_starts = layout.spans, layout.scope_starts, layout.resource_starts
    scope_type = _SCOPE_SPANS.value_type.field("scope").type
    scope_spans = _struct(
        _SCOPE_SPANS.value_type,
        len(scope_starts),
        scope=_struct(
            scope_type,
            len(scope_starts),
            name=pc.take(_column(table, "ScopeName"), scope_starts),
            version=pc.take(_column(table, "ScopeVersion"), scope_starts),
        ),
        spans=_list(_SPANS, _starts_to_offsets(scope_starts, table.num_rows), spans),
    )
    resource_type = _RESOURCE_SPANS.value_type.field("resource").type
    return _struct(
        _RESOURCE_SPANS.value_type,
        len(resource_starts),
        resource=_struct(resource_type, len(resource_starts), attributes=resource_attributes),
        scope_spans=_list(_SCOPE_SPANS, _starts_to_offsets(resource_starts, len(scope_starts)), scope_spans),
    )


@dataclass(frozen=True)
class _Layout:
    """Spans ordered by resource, then scope (stable, so spans keep their order within
    a scope), and where each scope group and each resource group starts."""

    spans: pa.Table
    scope_starts: np.ndarray  # span row where each ScopeSpans begins
    resource_starts: np.ndarray  # ScopeSpans index where each ResourceSpans begins

    @staticmethod
    def of(spans: pa.Table) -> _Layout:
        resource_key = _resource_keys(spans)
        resource_ids = pc.dictionary_encode(resource_key).indices
        scope_key = pc.binary_join_element_wise(
            resource_key, _column(spans, "ScopeName"), _column(spans, "ScopeVersion"), "\x1f"
        )
        scope_ids = pc.dictionary_encode(scope_key).indices
        order = pc.sort_indices(pa.table({"r": resource_ids, "s": scope_ids}), [("r", "ascending"), ("s", "ascending")])
        scope_starts = _group_starts(pc.take(scope_ids, order).to_numpy())
        resource_starts = _group_starts(pc.take(resource_ids, order).to_numpy()[scope_starts])
        columns = list(FORWARD_COLUMNS) + [PROJECT_COLUMN] * (PROJECT_COLUMN in spans.column_names)
        return _Layout(spans.select(columns).take(order).combine_chunks(), scope_starts, resource_starts)

    def span_path(self, row: int) -> tuple[int, int, int]:
        """(resource, scope within it, span within that) of a span row."""
        scope = int(np.searchsorted(self.scope_starts, row, side="right")) - 1
        resource = int(np.searchsorted(self.resource_starts, scope, side="right")) - 1
        return resource, scope - int(self.resource_starts[resource]), row - int(self.scope_starts[scope])


def _patch_nested(body: bytes, layout: _Layout, resource_values: list[_Nested], span_values: list[_Nested]) -> bytes:
    """Put array and map values in: ptars writes no content for their recursive
    messages, so the request is parsed (upb, fast) and those few values set in place."""
    request = ExportTraceServiceRequest.FromString(body)
    for nested in resource_values:
        request.resource_spans[nested.row].resource.attributes[nested.index].value.CopyFrom(nested.value)
    for nested in span_values:
        resource, scope, span = layout.span_path(nested.row)
        attributes = request.resource_spans[resource].scope_spans[scope].spans[span].attributes
        attributes[nested.index].value.CopyFrom(nested.value)
    return request.SerializeToString()


def _spans(spans: pa.Table, attributes: pa.ListArray) -> pa.StructArray:
    """The Span structs, in table order."""
    n = spans.num_rows
    start = pc.cast(_column(spans, "Timestamp"), pa.int64())
    end = pc.add(start, pc.cast(_column(spans, "Duration"), pa.int64()))
    return _struct(
        _SPAN,
        n,
        trace_id=binary_ids(_column(spans, "TraceId"), 16),
        span_id=binary_ids(_column(spans, "SpanId"), 8),
        trace_state=_column(spans, "TraceState"),
        parent_span_id=binary_ids(_column(spans, "ParentSpanId"), 8),
        name=_column(spans, "SpanName"),
        kind=_enum_numbers(_column(spans, "SpanKind"), SPAN_KIND_NAMES),
        start_time_unix_nano=pc.cast(start, pa.uint64()),
        end_time_unix_nano=pc.cast(end, pa.uint64()),
        attributes=attributes,
        events=_events(spans),
        links=_links(spans),
        status=_status(spans),
    )


def _status(spans: pa.Table) -> pa.StructArray:
    """Status structs, null (left out of the bytes) where code and message are unset."""
    message = _column(spans, "StatusMessage")
    code = _enum_numbers(_column(spans, "StatusCode"), STATUS_CODE_NAMES)
    unset = pc.and_(pc.equal(code, 0), pc.equal(message, ""))
    return pa.StructArray.from_arrays([message, code], fields=list(_SPAN.field("status").type), mask=unset)


def _events(spans: pa.Table) -> pa.ListArray:
    names = _column(spans, "Events.Name")
    flat_times = pc.list_flatten(_column(spans, "Events.Timestamp"))
    attrs = pc.list_flatten(_column(spans, "Events.Attributes"))
    event = _struct(
        _EVENTS.value_type,
        len(attrs),
        time_unix_nano=pc.cast(pc.cast(flat_times, pa.int64()), pa.uint64()),
        name=pc.list_flatten(names),
        attributes=key_values(attrs, None).lists,
    )
    return _list(_EVENTS, _list_offsets(names), event)


def _links(spans: pa.Table) -> pa.ListArray:
    trace_ids = _column(spans, "Links.TraceId")
    attrs = pc.list_flatten(_column(spans, "Links.Attributes"))
    link = _struct(
        _LINKS.value_type,
        len(attrs),
        trace_id=binary_ids(pc.list_flatten(trace_ids), 16),
        span_id=binary_ids(pc.list_flatten(_column(spans, "Links.SpanId")), 8),
        trace_state=pc.list_flatten(_column(spans, "Links.TraceState")),
        attributes=key_values(attrs, None).lists,
    )
    return _list(_LINKS, _list_offsets(trace_ids), link)


# --- attributes ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Nested:
    """An array or map value to set after serializing: attribute `index` of list `row`."""

    row: int
    index: int
    value: AnyValue


@dataclass(frozen=True)
class _KeyValues:
    lists: pa.ListArray
    nested: list[_Nested]


def key_values(maps: pa.MapArray, types: pa.MapArray | None) -> _KeyValues:
    """String attribute maps (and their type maps) as OTLP KeyValue lists, and the array
    and map values that must be set after serializing (see `_patch_nested`)."""
    offsets, keys, text = _map_entries(maps)
    kinds = _entry_kinds(offsets, keys, types)
    rare = _rare_values(text, kinds)
    kv = _struct(_KEY_VALUE, len(keys), key=keys, value=_any_values(text, kinds, rare))
    rows = np.searchsorted(offsets, [p for p, _ in rare.nested], side="right") - 1
    nested = [_Nested(int(row), int(p - offsets[row]), value) for row, (p, value) in zip(rows, rare.nested)]
    return _KeyValues(_list(_KEY_VALUES, offsets, kv), nested)


def _entry_kinds(offsets: np.ndarray, keys: pa.Array, types: pa.MapArray | None) -> pa.Array:
    """The recorded OTLP type of each map entry (null: a string), found by (row, key)."""
    if types is None:
        return pa.nulls(len(keys), pa.string())
    type_offsets, type_keys, type_names = _map_entries(types)
    if len(type_keys) == 0:
        return pa.nulls(len(keys), pa.string())
    wanted = _row_keyed(offsets, keys)
    known = _row_keyed(type_offsets, type_keys)
    return pc.take(type_names, pc.index_in(wanted, value_set=known))


def _row_keyed(offsets: np.ndarray, keys: pa.Array) -> pa.Array:
    rows = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    return pc.binary_join_element_wise(pc.cast(pa.array(rows), pa.string()), keys, "\x00")


def _any_values(text: pa.Array, kinds: pa.Array, rare: _Rare) -> pa.StructArray:
    """AnyValue structs: each text parsed as its recorded type, else kept as a string."""
    int_value = _parsed(text, pc.equal(kinds, "int64"), pa.int64(), _parse_int)
    double_value = _parsed(text, pc.equal(kinds, "float64"), pa.float64(), float)
    is_bool = pc.fill_null(pc.and_(pc.equal(kinds, "bool"), pc.is_in(text, pa.array(["true", "false"]))), False)
    bool_value = pc.if_else(is_bool, pc.equal(text, "true"), None)
    typed = pc.or_(pc.or_(pc.is_valid(int_value), pc.is_valid(double_value)), pc.or_(is_bool, rare.present))
    return _struct(
        _ANY_VALUE,
        len(text),
        string_value=pc.if_else(typed, None, text),
        bool_value=bool_value,
        int_value=int_value,
        double_value=double_value,
        array_value=rare.array_value,
        kvlist_value=rare.kvlist_value,
        bytes_value=rare.bytes_value,
    )


def _parsed(text: pa.Array, mask: pa.Array, kind: pa.DataType, parse: Callable[[str], Any]) -> pa.Array:
    """`text` cast to `kind` where `mask` holds; null where it does not or cannot parse."""
    mask = pc.fill_null(mask, False)
    candidates = pc.if_else(mask, text, None)
    try:
        return pc.cast(candidates, kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values: list[Any] = []
        for item in candidates.to_pylist():  # only when some value no longer parses: rare
            try:
                values.append(None if item is None else parse(item))
            except (ValueError, OverflowError):
                values.append(None)
        return pa.array(values, kind)


def _parse_int(text: str) -> int:
    value = int(text)
    if not _INT64_RANGE[0] <= value <= _INT64_RANGE[1]:
        raise OverflowError(text)
    return value


@dataclass(frozen=True)
class _Rare:
    """Which entries are bytes, arrays or maps (that still parse), their Arrow columns,
    and the arrays and maps as AnyValues by entry position."""

    present: pa.Array
    bytes_value: pa.Array
    array_value: pa.Array
    kvlist_value: pa.Array
    nested: list[tuple[int, AnyValue]]


_EMPTY_NESTED: dict[str, list[bytes]] = {"values": []}


def _rare_values(text: pa.Array, kinds: pa.Array) -> _Rare:
    """bytes (base64), array and map (JSON) values, rebuilt one by one: they are rare.
    Arrays and maps get an empty Arrow struct (so their type shows) and an AnyValue."""
    wanted = pc.fill_null(pc.is_in(kinds, pa.array(["binary", "array", "map"])), False)
    positions = np.flatnonzero(wanted.to_numpy(zero_copy_only=False))
    raw: list[bytes | None] = [None] * len(positions)
    arrays: list[dict[str, list[bytes]] | None] = [None] * len(positions)
    kvlists: list[dict[str, list[bytes]] | None] = [None] * len(positions)
    nested: list[tuple[int, AnyValue]] = []
    found = np.zeros(len(text), dtype=bool)
    for i, (value, kind) in enumerate(zip(text.take(positions).to_pylist(), kinds.take(positions).to_pylist())):
        try:
            if kind == "binary":
                raw[i] = base64.b64decode(value, validate=True)
            else:
                parsed = any_value(orjson.loads(value))
                if parsed.WhichOneof("value") != ("array_value" if kind == "array" else "kvlist_value"):
                    continue  # no longer its recorded type (say, redacted): sent as a string
                nested.append((int(positions[i]), parsed))
                (arrays if kind == "array" else kvlists)[i] = _EMPTY_NESTED
        except (binascii.Error, ValueError):
            continue
        found[positions[i]] = True
    scatter = np.full(len(text), -1, dtype=np.int64)
    scatter[positions] = np.arange(len(positions))
    index = pa.array(scatter, mask=scatter < 0)
    return _Rare(
        present=pa.array(found),
        bytes_value=pc.take(pa.array(raw, pa.binary()), index),
        array_value=pc.take(pa.array(arrays, _ANY_VALUE.field("array_value").type), index),
        kvlist_value=pc.take(pa.array(kvlists, _ANY_VALUE.field("kvlist_value").type), index),
        nested=nested,
    )


def any_value(item: Any) -> AnyValue:
    """A JSON value (as `spanwise.receive.decode.any_value_to_python` renders it) as an
    AnyValue; bytes inside arrays and maps were rendered as base64 text and stay text."""
    value = AnyValue()
    if isinstance(item, bool):
        value.bool_value = item
    elif isinstance(item, int) and _INT64_RANGE[0] <= item <= _INT64_RANGE[1]:
        value.int_value = item
    elif isinstance(item, (int, float)):
        value.double_value = float(item)
    elif isinstance(item, str):
        value.string_value = item
    elif isinstance(item, list):
        value.array_value.SetInParent()
        value.array_value.values.extend(any_value(x) for x in item)
    elif isinstance(item, dict):
        value.kvlist_value.SetInParent()
        value.kvlist_value.values.extend(KeyValue(key=str(k), value=any_value(x)) for k, x in item.items())
    return value


# --- Arrow helpers ------------------------------------------------------------------


def binary_ids(hex_ids: pa.Array, width: int) -> pa.Array:
    """Fixed-width binary ids from hex text (the reverse of `decode.hex_ids`); text that
    is not `2 * width` hex digits, such as '', becomes an empty id. Vectorized."""
    hex_ids = hex_ids.combine_chunks() if isinstance(hex_ids, pa.ChunkedArray) else hex_ids
    ok = pc.and_(pc.equal(pc.utf8_length(hex_ids), 2 * width), pc.match_substring_regex(hex_ids, "^[0-9a-fA-F]*$"))
    padded = pc.if_else(ok, hex_ids, "0" * 2 * width)
    data = np.frombuffer(padded.buffers()[2], dtype=np.uint8) if len(padded) else np.zeros(0, np.uint8)
    offsets = np.frombuffer(padded.buffers()[1], dtype=np.int32)[padded.offset : padded.offset + len(padded) + 1]
    digits = data[offsets[0] : offsets[-1]] if len(padded) else data
    raw = (_NIBBLES[digits[0::2]] << 4) | _NIBBLES[digits[1::2]]
    out_offsets = np.arange(0, len(padded) * width + 1, width, dtype=np.int32)
    ids = pa.Array.from_buffers(pa.binary(), len(padded), [None, pa.py_buffer(out_offsets), pa.py_buffer(raw.tobytes())])
    return pc.if_else(ok, ids, b"")


def _enum_numbers(names: pa.Array, known: tuple[str, ...]) -> pa.Array:
    return pc.cast(pc.fill_null(pc.index_in(names, value_set=pa.array(known)), 0), pa.int32())


def _resource_keys(spans: pa.Table) -> pa.Array:
    """One text per span naming its resource: service, attributes and their types (and
    project, when the table has one)."""
    parts = [_column(spans, "ServiceName"), _map_text(_column(spans, "ResourceAttributes")),
             _map_text(_column(spans, "ResourceAttributeTypes"))]
    if PROJECT_COLUMN in spans.column_names:
        parts.append(_column(spans, PROJECT_COLUMN))
    return pc.binary_join_element_wise(*parts, "\x1e")


def _with_project(maps: pa.MapArray, types: pa.MapArray, projects: pa.Array) -> tuple[pa.MapArray, pa.MapArray]:
    """Resource attribute maps (and type maps) with `spanwise.project` set to the resource's
    project, except in the default project; a sender's own value is replaced (its type
    entry dropped: the value is a string)."""
    stamp = pc.not_equal(projects, DEFAULT_PROJECT).to_numpy(zero_copy_only=False)
    if not stamp.any():
        return maps, types
    return _replace_entry(maps, stamp, projects.filter(pa.array(stamp))), _replace_entry(types, stamp, None)


def _replace_entry(maps: pa.MapArray, stamp: np.ndarray, values: pa.Array | None) -> pa.MapArray:
    """`maps` without the `spanwise.project` entries of the stamped rows, and with that key
    appended to them when `values` (one per stamped row, in order) are given."""
    offsets, keys, items = _map_entries(maps)
    entry_rows = np.repeat(np.arange(len(maps)), np.diff(offsets))
    keep = ~(pc.equal(keys, PROJECT_ATTRIBUTE).to_numpy(zero_copy_only=False) & stamp[entry_rows])
    rows, keys, items = entry_rows[keep], keys.filter(pa.array(keep)), items.filter(pa.array(keep))
    if values is not None:
        stamped = np.flatnonzero(stamp)
        rows = np.concatenate([rows, stamped])
        keys = pa.concat_arrays([keys, pa.repeat(pa.scalar(PROJECT_ATTRIBUTE), len(stamped))])
        items = pa.concat_arrays([items, values.cast(pa.string())])
    order = pa.array(np.argsort(rows, kind="stable"))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(maps)))]).astype(np.int32)
    return pa.MapArray.from_arrays(pa.array(offsets), keys.take(order), items.take(order), type=maps.type)


def _map_text(maps: pa.MapArray) -> pa.Array:
    offsets, keys, values = _map_entries(maps)
    entries = pc.binary_join_element_wise(keys, values, "\x1d")
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), entries), "\x1c")


def _map_entries(maps: pa.MapArray) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Rebased offsets, keys and values of a (possibly sliced) map array."""
    offsets = maps.offsets.to_numpy()
    low, high = int(offsets[0]), int(offsets[-1])
    return (offsets - low).astype(np.int32), maps.keys.slice(low, high - low), maps.items.slice(low, high - low)


def _list_offsets(lists: pa.ListArray) -> np.ndarray:
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)


def _group_starts(ids: np.ndarray) -> np.ndarray:
    """Positions where a run of equal ids begins."""
    return np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]])) if len(ids) else np.zeros(0, np.int64)


def _starts_to_offsets(starts: np.ndarray, total: int) -> np.ndarray:
    return np.concatenate([starts, [total]]).astype(np.int32)


def _column(table: pa.Table, name: str) -> pa.Array:
    column = table.column(name)
    return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)


def _list(list_type: pa.ListType, offsets: np.ndarray, values: pa.Array) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, type=list_type)


def _struct(struct_type: pa.StructType, length: int, **children: pa.Array) -> pa.StructArray:
    """A struct array of `struct_type`: given children cast to their field types, the
    rest filled with protobuf defaults (which ptars leaves out of the bytes)."""
    arrays = []
    for field in struct_type:
        child = children.pop(field.name, None)
        arrays.append(_default(field, length) if child is None else _cast(child, field.type))
    if children:
        raise KeyError(f"no field(s) {sorted(children)} in {struct_type}")
    return pa.StructArray.from_arrays(arrays, fields=list(struct_type))


def _cast(array: pa.Array, kind: pa.DataType) -> pa.Array:
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    return array if array.type == kind else array.cast(kind)


def _default(field: pa.Field, length: int) -> pa.Array:
    kind = field.type
    if field.nullable:
        return pa.nulls(length, kind)
    if pa.types.is_struct(kind):
        return _struct(kind, length)
    if pa.types.is_list(kind):
        return _list(kind, np.zeros(length + 1, np.int32), pa.array([], kind.value_type))
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        return pa.repeat(pa.scalar(b"" if pa.types.is_binary(kind) else "", kind), length)
    if pa.types.is_boolean(kind):
        return pa.repeat(pa.scalar(False), length)
    return pa.array(np.zeros(length, kind.to_pandas_dtype()), kind)

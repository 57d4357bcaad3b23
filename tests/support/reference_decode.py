"""The plain reference decoder the production OTLP decoder is tested against.

`reference_decode` walks the protobuf objects span by span with ordinary loops and
builds the same `DecodedSpans` as `spanwise.receive.decode.decode_export_requests`.
It is meant to be obviously right, not fast. The rules it implements:

* Spans are kept in request order (body, resource_spans, scope_spans, span). A span is
  rejected (dropped and counted) unless its trace_id is 16 bytes and not all zero, its
  span_id is 8 bytes and not all zero, and its parent_span_id is empty or 8 bytes.
* Ids are lower-case `bytes.hex()`; an empty id is "". Link ids are not validated: a
  link id of the wrong (non-zero) length becomes all-zero hex of the right width, as
  the production decoder does (it cannot represent it otherwise).
* Attribute values are text: strings as is, ints in decimal, doubles as Arrow's
  float64 -> string cast writes them (see `arrow_double_text`), bools "true"/"false",
  bytes base64, arrays and kvlists JSON (orjson of plain Python values, bytes inside
  them base64, an empty value null), an AnyValue with no value set "".
* Type maps hold only non-string attributes: 'int64', 'float64', 'bool', 'binary',
  'array', 'map' (an empty AnyValue counts as 'string').
* ServiceName is the text of the first `service.name` resource attribute; when there
  is none, or it is "", it is "unknown_service".
* SpanKind / StatusCode are names from spans.py; numbers outside the enum take the
  first (unspecified) name. Duration is max(end - start, 0).
"""

from __future__ import annotations

import base64
import math
from decimal import Decimal

import orjson
import pyarrow as pa
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from spanwise.core.spans import DECODED_SCHEMA, SPAN_KIND_NAMES, STATUS_CODE_NAMES
from spanwise.core.spans import ATTRIBUTE_ROWS_SCHEMA
from spanwise.receive.decode import DecodedSpans

UNKNOWN_SERVICE = "unknown_service"
_TRACE_PROBLEM = "trace_id must be 16 bytes and not all zero"
_SPAN_PROBLEM = "span_id must be 8 bytes and not all zero"
_PARENT_PROBLEM = "parent_span_id must be empty or 8 bytes"
_TIME_PROBLEM = "start and end times must be below 2^63 ns"


def arrow_double_text(x: float) -> str:
    """A double as `pc.cast(float64 -> string)` writes it (Arrow uses double-conversion).

    The digits are the shortest that round-trip, which are the digits Python's `repr`
    picks. Arrow writes them in plain decimal when the exponent of the leading digit
    is between -6 and 9 (3.0 -> "3", 1e-06 -> "0.000001", 1e9 -> "1000000000"), and
    otherwise as d.ddd, 'e', a sign and the exponent without padding (1e20 -> "1e+20",
    1e-07 -> "1e-7"). Special values: "nan", "inf", "-inf", and -0.0 -> "-0".
    No pyarrow call is needed.
    """
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    exact = Decimal(repr(abs(x))).normalize()  # shortest digits, trailing zeros dropped
    digits, exponent = exact.as_tuple().digits, exact.as_tuple().exponent
    leading = len(digits) - 1 + exponent  # scientific exponent of the first digit
    if -6 <= leading <= 9:
        return sign + f"{exact:f}"
    text = "".join(map(str, digits))
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{sign}{mantissa}e{'+' if leading >= 0 else '-'}{abs(leading)}"


def plain_value(value: AnyValue) -> object:
    """An AnyValue as JSON-able Python, for rendering arrays and kvlists."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if which == "array_value":
        return [plain_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: plain_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which)


def render(value: AnyValue) -> tuple[str, float | None, str]:
    """(text, number, type name) of one attribute value."""
    which = value.WhichOneof("value")
    if which == "int_value":
        return str(value.int_value), float(value.int_value), "int64"
    if which == "double_value":
        return arrow_double_text(value.double_value), value.double_value, "float64"
    if which == "bool_value":
        return ("true" if value.bool_value else "false"), None, "bool"
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode(), None, "binary"
    if which in ("array_value", "kvlist_value"):
        kind = "array" if which == "array_value" else "map"
        return orjson.dumps(plain_value(value)).decode(), None, kind
    if which == "string_value":
        return value.string_value, None, "string"
    return "", None, "string"  # no value set


def render_all(key_values) -> list[tuple[str, str, float | None, str]]:
    """(key, text, number, type) of each KeyValue, in order."""
    return [(kv.key, *render(kv.value)) for kv in key_values]


def string_map(rendered) -> list[tuple[str, str]]:
    return [(key, text) for key, text, _, _ in rendered]


def type_map(rendered) -> list[tuple[str, str]]:
    return [(key, kind) for key, _, _, kind in rendered if kind != "string"]


def hex_id(raw: bytes, width: int) -> str:
    if not raw:
        return ""
    return raw.hex() if len(raw) == width else "00" * width


def enum_name(number: int, names: tuple[str, ...]) -> str:
    return names[number] if 0 <= number < len(names) else names[0]


def id_problems(span) -> list[str]:
    problems = []
    if len(span.trace_id) != 16 or span.trace_id == bytes(16):
        problems.append(_TRACE_PROBLEM)
    if len(span.span_id) != 8 or span.span_id == bytes(8):
        problems.append(_SPAN_PROBLEM)
    if len(span.parent_span_id) not in (0, 8):
        problems.append(_PARENT_PROBLEM)
    if span.start_time_unix_nano >= 2**63 or span.end_time_unix_nano >= 2**63:
        problems.append(_TIME_PROBLEM)
    return problems


def reference_decode(bodies: list[bytes]) -> DecodedSpans:
    """Decode serialized ExportTraceServiceRequests one span at a time."""
    columns: dict[str, list] = {name: [] for name in DECODED_SCHEMA.names}
    rows: dict[str, list] = {name: [] for name in ATTRIBUTE_ROWS_SCHEMA.names}
    rejected = 0
    seen_problems: set[str] = set()
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resource = render_all(resource_spans.resource.attributes)
            names = [text for key, text, _, _ in resource if key == "service.name"]
            service = (names[0] if names else "") or UNKNOWN_SERVICE
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    problems = id_problems(span)
                    if problems:
                        rejected += 1
                        seen_problems.update(problems)
                        continue
                    row = len(columns["SpanId"])
                    attrs = render_all(span.attributes)
                    for key, text, number, kind in attrs:
                        for name, item in zip(ATTRIBUTE_ROWS_SCHEMA.names, (row, key, text, number, kind)):
                            rows[name].append(item)
                    start, end = span.start_time_unix_nano, span.end_time_unix_nano
                    events = list(span.events)
                    links = list(span.links)
                    span_columns = {
                        "Timestamp": start,
                        "TraceId": span.trace_id.hex(),
                        "SpanId": span.span_id.hex(),
                        "ParentSpanId": span.parent_span_id.hex(),
                        "TraceState": span.trace_state,
                        "SpanName": span.name,
                        "SpanKind": enum_name(span.kind, SPAN_KIND_NAMES),
                        "ServiceName": service,
                        "ResourceAttributes": string_map(resource),
                        "ScopeName": scope_spans.scope.name,
                        "ScopeVersion": scope_spans.scope.version,
                        "SpanAttributes": string_map(attrs),
                        "Duration": max(end - start, 0),
                        "StatusCode": enum_name(span.status.code, STATUS_CODE_NAMES),
                        "StatusMessage": span.status.message,
                        "Events.Timestamp": [min(e.time_unix_nano, 2**63 - 1) for e in events],
                        "Events.Name": [e.name for e in events],
                        "Events.Attributes": [string_map(render_all(e.attributes)) for e in events],
                        "Links.TraceId": [hex_id(link.trace_id, 16) for link in links],
                        "Links.SpanId": [hex_id(link.span_id, 8) for link in links],
                        "Links.TraceState": [link.trace_state for link in links],
                        "Links.Attributes": [string_map(render_all(link.attributes)) for link in links],
                        "ResourceAttributeTypes": type_map(resource),
                        "SpanAttributeTypes": type_map(attrs),
                    }
                    for name, item in span_columns.items():
                        columns[name].append(item)
    reason = "; ".join(p for p in (_TRACE_PROBLEM, _SPAN_PROBLEM, _PARENT_PROBLEM, _TIME_PROBLEM) if p in seen_problems)
    spans = pa.Table.from_pydict(columns, schema=DECODED_SCHEMA)
    span_attributes = pa.Table.from_pydict(rows, schema=ATTRIBUTE_ROWS_SCHEMA)
    return DecodedSpans(spans, span_attributes, rejected, reason)

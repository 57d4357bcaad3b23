"""OTLP/JSON trace requests to protobuf, so one decoder serves both encodings.

OTLP/JSON differs from protobuf's generic JSON mapping: trace and span ids are hex, not
base64 (OTLP specification, "JSON Protobuf Encoding"). Ids are converted here; everything
else is protobuf's own JSON parser (which accepts enum names or numbers, and 64-bit
integers as strings or numbers). When the request as a whole does not parse, each span
is parsed on its own so that good spans are kept and only bad ones are rejected.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope

from spanwise.errors import MalformedPayload

_ID_FIELDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
_INVALID_ID = b"\xff"  # wrong length on purpose: the decoder rejects the span


@dataclass(frozen=True)
class JsonRequest:
    """A JSON request as protobuf bytes, with the spans that could not be parsed."""

    protobuf: bytes
    rejected: int = 0
    message: str = ""


def json_to_protobuf(body: bytes) -> JsonRequest:
    """Parse an OTLP/JSON `ExportTraceServiceRequest`."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedPayload(f"invalid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise MalformedPayload("invalid OTLP/JSON: the body must be a JSON object")
    resource_spans = document.get("resourceSpans", document.get("resource_spans", []))
    if not isinstance(resource_spans, list):
        raise MalformedPayload("invalid OTLP/JSON: resourceSpans must be an array")
    for rs in resource_spans:
        for span in _spans_of(rs):
            _hex_ids_to_base64(span)
    try:
        request = json_format.ParseDict(document, ExportTraceServiceRequest(), ignore_unknown_fields=True)
        return JsonRequest(request.SerializeToString())
    except (json_format.ParseError, TypeError, ValueError, AttributeError):
        return _parse_span_by_span(resource_spans)


def _spans_of(resource_spans: Any) -> list[dict[str, Any]]:
    if not isinstance(resource_spans, dict):
        return []
    found: list[dict[str, Any]] = []
    for scope_spans in _list(resource_spans.get("scopeSpans", resource_spans.get("scope_spans"))):
        if isinstance(scope_spans, dict):
            found.extend(s for s in _list(scope_spans.get("spans")) if isinstance(s, dict))
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _hex_ids_to_base64(span: dict[str, Any]) -> None:
    """Rewrite hex ids in place as the base64 protobuf's JSON parser expects."""
    for holder in [span, *(link for link in _list(span.get("links")) if isinstance(link, dict))]:
        for name in _ID_FIELDS:
            value = holder.get(name)
            if isinstance(value, str):
                holder[name] = _b64(_hex_bytes(value))


def _hex_bytes(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        return _INVALID_ID


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _parse_span_by_span(resource_spans: list[Any]) -> JsonRequest:
    """Keep every span that parses; count and describe the ones that do not."""
    request = ExportTraceServiceRequest()
    rejected, first_error = 0, ""
    for rs in resource_spans:
        spans = _spans_of(rs)
        try:
            target = request.resource_spans.add()
            json_format.ParseDict(rs.get("resource", {}), target.resource, ignore_unknown_fields=True)
        except (json_format.ParseError, TypeError, ValueError, AttributeError) as exc:
            del request.resource_spans[-1]
            rejected += len(spans)
            first_error = first_error or f"resource: {_short(exc)}"
            continue
        for scope_spans in _list(rs.get("scopeSpans", rs.get("scope_spans"))):
            if not isinstance(scope_spans, dict):
                continue
            out = target.scope_spans.add()
            try:
                json_format.ParseDict(scope_spans.get("scope", {}), out.scope, ignore_unknown_fields=True)
            except (json_format.ParseError, TypeError, ValueError, AttributeError):
                out.scope.CopyFrom(InstrumentationScope())
            for span in _list(scope_spans.get("spans")):
                try:
                    json_format.ParseDict(span, out.spans.add(), ignore_unknown_fields=True)
                except (json_format.ParseError, TypeError, ValueError, AttributeError) as exc:
                    del out.spans[-1]
                    rejected += 1
                    first_error = first_error or _short(exc)
    return JsonRequest(request.SerializeToString(), rejected, f"invalid span JSON: {first_error}" if rejected else "")


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]


# ---------------------------------------------------------------------- logs


def logs_json_to_protobuf(body: bytes) -> JsonRequest:
    """Parse an OTLP/JSON `ExportLogsServiceRequest` (hex `traceId`/`spanId` as for spans);
    when the whole does not parse, records are parsed one by one and bad ones rejected."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedPayload(f"invalid JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("resourceLogs", []), list):
        raise MalformedPayload("invalid OTLP/JSON: the body must be an object with a resourceLogs array")
    records = [r for rl in _list(document.get("resourceLogs")) if isinstance(rl, dict)
               for sl in _list(rl.get("scopeLogs")) if isinstance(sl, dict)
               for r in _list(sl.get("logRecords")) if isinstance(r, dict)]
    for record in records:
        for name in ("traceId", "spanId"):
            if isinstance(record.get(name), str):
                record[name] = _b64(_hex_bytes(record[name]) if record[name] else b"")
    try:
        return JsonRequest(json_format.ParseDict(document, ExportLogsServiceRequest(), ignore_unknown_fields=True)
                           .SerializeToString())
    except (json_format.ParseError, TypeError, ValueError, AttributeError):
        pass
    request, rejected, first_error = ExportLogsServiceRequest(), 0, ""
    for rl in _list(document.get("resourceLogs")):
        if not isinstance(rl, dict):
            continue
        target = request.resource_logs.add()
        _parse_lenient(rl.get("resource", {}), target.resource)
        for sl in _list(rl.get("scopeLogs")):
            if not isinstance(sl, dict):
                continue
            out = target.scope_logs.add()
            _parse_lenient(sl.get("scope", {}), out.scope)
            for record in _list(sl.get("logRecords")):
                try:
                    json_format.ParseDict(record, out.log_records.add(), ignore_unknown_fields=True)
                except (json_format.ParseError, TypeError, ValueError, AttributeError) as exc:
                    del out.log_records[-1]
                    rejected += 1
                    first_error = first_error or _short(exc)
    return JsonRequest(request.SerializeToString(), rejected, f"invalid log record JSON: {first_error}" if rejected else "")


def _parse_lenient(document: Any, target: Any) -> None:
    """Parse a resource or scope; a malformed one is left empty rather than losing its records."""
    try:
        json_format.ParseDict(document, target, ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError, AttributeError):
        target.Clear()


def whole_json_to_protobuf(body: bytes, message: Message) -> JsonRequest:
    """Parse an OTLP/JSON metrics request as a whole; a malformed one is rejected with the
    parser's message. Exemplar ids stay unconverted: exemplars are not stored."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedPayload(f"invalid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise MalformedPayload("invalid OTLP/JSON: the body must be a JSON object")
    try:
        return JsonRequest(json_format.ParseDict(document, message, ignore_unknown_fields=True).SerializeToString())
    except (json_format.ParseError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedPayload(f"invalid OTLP/JSON: {_short(exc)}") from exc

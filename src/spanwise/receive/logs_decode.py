"""OTLP log export requests (protobuf bytes) to columnar log records (`LOG_SCHEMA`).

Same approach as the span decoder (`receive.decode`): ptars builds nested Arrow arrays
in Rust, and the rest is vectorized column arithmetic reusing the span decoder's
attribute and id rendering, so log attributes and ids look exactly like span ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import ptars
import pyarrow as pa
import pyarrow.compute as pc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from spanwise.core.logs import LOG_SCHEMA
from spanwise.core.spans import TIMESTAMP
from spanwise.receive.decode import attributes, combine_checks, hex_ids, record_batch, render_values, service_names
from spanwise.core.time_window import ANY_TIME, TimeWindow

_HANDLER = ptars.HandlerPool([ExportLogsServiceRequest.DESCRIPTOR.file]).get_for_message(
    ExportLogsServiceRequest.DESCRIPTOR
)
_MAX_TIME = pa.scalar(2**63, pa.uint64())


@dataclass(frozen=True)
class DecodedLogs:
    """Log records decoded from requests, and how many were rejected and why."""

    logs: pa.Table
    rejected: int = 0
    reject_reason: str = ""


def decode_logs_requests(bodies: list[bytes], window: TimeWindow = ANY_TIME) -> DecodedLogs:
    """Decode serialized `ExportLogsServiceRequest`s. Raises `MalformedPayload` when a body
    is not a valid protobuf message; records with malformed ids, or times outside
    `window`, are rejected."""
    record = record_batch(_HANDLER, bodies)
    rl = pc.list_flatten(record.column("resource_logs"))
    resource = pc.struct_field(rl, "resource")
    scope_lists = pc.struct_field(rl, "scope_logs")
    sl = pc.list_flatten(scope_lists)
    sl_to_rl = pc.list_parent_indices(scope_lists)
    record_lists = pc.struct_field(sl, "log_records")
    records = pc.list_flatten(record_lists)
    rec_to_sl = pc.list_parent_indices(record_lists)
    valid, reason = _valid(records, window)
    rejected = len(records) - pc.sum(valid).as_py() if len(records) else 0
    if rejected:
        records, rec_to_sl = pc.filter(records, valid), pc.filter(rec_to_sl, valid)
    rec_to_rl = pc.take(sl_to_rl, rec_to_sl)
    return DecodedLogs(_log_table(records, rec_to_sl, rec_to_rl, resource, sl), rejected, reason)


def _log_table(records: pa.StructArray, to_scope: pa.Array, to_resource: pa.Array,
               resource: pa.StructArray, scope_logs: pa.StructArray) -> pa.Table:
    res_attrs = attributes(pc.struct_field(resource, "attributes"))
    log_attrs = attributes(pc.struct_field(records, "attributes"))
    scope = pc.struct_field(scope_logs, "scope")
    service = service_names(res_attrs.values)
    columns = {
        "Timestamp": pc.cast(pc.cast(_timestamps(records), pa.int64()), TIMESTAMP),
        "TraceId": hex_ids(pc.struct_field(records, "trace_id"), 16),
        "SpanId": hex_ids(pc.struct_field(records, "span_id"), 8),
        "TraceFlags": pc.cast(pc.bit_wise_and(pc.struct_field(records, "flags"), 0xFF), pa.uint8()),
        "SeverityText": pc.fill_null(pc.struct_field(records, "severity_text"), ""),
        "SeverityNumber": pc.cast(pc.min_element_wise(pc.max_element_wise(
            pc.fill_null(pc.struct_field(records, "severity_number"), 0), 0), 24), pa.uint8()),
        "ServiceName": pc.take(service, to_resource),
        "Body": _body_text(pc.struct_field(records, "body")),
        "ResourceAttributes": pc.take(res_attrs.values, to_resource),
        "ScopeName": pc.take(pc.fill_null(pc.struct_field(scope, "name"), ""), to_scope),
        "ScopeVersion": pc.take(pc.fill_null(pc.struct_field(scope, "version"), ""), to_scope),
        "LogAttributes": log_attrs.values,
    }
    return pa.Table.from_pydict(columns).cast(LOG_SCHEMA)


def _timestamps(records: pa.StructArray) -> pa.Array:
    """The event time; else the observed time (OTLP allows either to be unset); else now
    (Unix ns, uint64)."""
    event = pc.struct_field(records, "time_unix_nano")
    observed = pc.struct_field(records, "observed_time_unix_nano")
    zero = pa.scalar(0, pa.uint64())
    chosen = pc.if_else(pc.not_equal(event, zero), event, observed)
    return pc.if_else(pc.not_equal(chosen, zero), chosen, pa.scalar(time.time_ns(), pa.uint64()))


def _body_text(body: pa.StructArray) -> pa.Array:
    """A body of any AnyValue type as text (maps and arrays as JSON); no body is ''."""
    text, _, _ = render_values(body)
    return pc.if_else(pc.is_valid(body), text, "")


def _valid(records: pa.StructArray, window: TimeWindow) -> tuple[pa.Array, str]:
    """Ids, when present, must have their OTLP lengths; times must fit in int64 ns, and
    the stored time must lie in `window`."""
    trace_len = pc.binary_length(pc.struct_field(records, "trace_id"))
    span_len = pc.binary_length(pc.struct_field(records, "span_id"))
    checks = (
        ("trace_id must be empty or 16 bytes", pc.or_(pc.equal(trace_len, 0), pc.equal(trace_len, 16))),
        ("span_id must be empty or 8 bytes", pc.or_(pc.equal(span_len, 0), pc.equal(span_len, 8))),
        ("times must be below 2^63 ns",
         pc.and_(pc.less(pc.struct_field(records, "time_unix_nano"), _MAX_TIME),
                 pc.less(pc.struct_field(records, "observed_time_unix_nano"), _MAX_TIME))),
        window.check(_timestamps(records)),
    )
    return combine_checks(checks, len(records))

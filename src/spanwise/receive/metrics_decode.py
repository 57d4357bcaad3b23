"""OTLP metric export requests (protobuf bytes) to columnar points, one table per kind.

Gauges, sums and explicit-bucket histograms (what OpenTelemetry SDKs send by default) are
decoded; exponential histograms and summaries are counted and reported as not stored
(partial success), not silently dropped. Same vectorized approach as the span decoder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import ptars
import pyarrow as pa
import pyarrow.compute as pc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from spanwise.core.otlp_metrics import GAUGE, HISTOGRAM, POINT_SCHEMAS, SUM
from spanwise.core.spans import TIMESTAMP
from spanwise.receive.decode import attributes, record_batch, service_names
from spanwise.core.time_window import ANY_TIME, TimeWindow

_HANDLER = ptars.HandlerPool([ExportMetricsServiceRequest.DESCRIPTOR.file]).get_for_message(
    ExportMetricsServiceRequest.DESCRIPTOR
)
_UNSUPPORTED = ("exponential_histogram", "summary")
_MAX_TIME = 2**63 - 1


@dataclass(frozen=True)
class DecodedMetrics:
    """Points per kind (`gauge`, `sum`, `histogram`), and what was not stored and why."""

    points: dict[str, pa.Table] = field(default_factory=dict)
    rejected: int = 0
    reject_reason: str = ""

    @property
    def accepted(self) -> int:
        return sum(table.num_rows for table in self.points.values())


def decode_metrics_requests(bodies: list[bytes], window: TimeWindow = ANY_TIME) -> DecodedMetrics:
    """Decode serialized `ExportMetricsServiceRequest`s; raises `MalformedPayload` when a
    body is not a valid protobuf message. Points timed outside `window` are rejected."""
    record = record_batch(_HANDLER, bodies)
    rm = pc.list_flatten(record.column("resource_metrics"))
    scope_lists = pc.struct_field(rm, "scope_metrics")
    sm = pc.list_flatten(scope_lists)
    metric_lists = pc.struct_field(sm, "metrics")
    metrics = pc.list_flatten(metric_lists)
    owners = _Owners(rm, sm, pc.list_parent_indices(scope_lists), pc.list_parent_indices(metric_lists))
    points = {kind: _points(metrics, kind, owners) for kind in (GAUGE, SUM, HISTOGRAM)}
    unsupported = {kind: _count_points(metrics, kind) for kind in _UNSUPPORTED}
    reasons = [f"{n} {kind.replace('_', ' ')} point(s) not stored (not supported yet)" for kind, n in unsupported.items() if n]
    rejected = sum(unsupported.values())
    for kind, table in points.items():
        message, inside = window.check(pc.cast(table.column("TimeUnix"), pa.int64()))
        outside = table.num_rows - pc.sum(inside).as_py() if table.num_rows else 0
        if outside:
            points[kind] = table.filter(inside)
            rejected += outside
            reasons.append(f"{outside} point(s): {message}")
    return DecodedMetrics({k: t for k, t in points.items() if t.num_rows}, rejected, "; ".join(reasons))


@dataclass(frozen=True)
class _Owners:
    """Resource and scope of every metric (by index)."""

    resource_metrics: pa.StructArray
    scope_metrics: pa.StructArray
    scope_to_resource: pa.Array
    metric_to_scope: pa.Array


def _count_points(metrics: pa.StructArray, kind: str) -> int:
    lists = pc.struct_field(pc.struct_field(metrics, kind), "data_points")
    return int(pc.sum(pc.fill_null(pc.list_value_length(lists), 0)).as_py() or 0)


def _points(metrics: pa.StructArray, kind: str, owners: _Owners) -> pa.Table:
    holder = pc.struct_field(metrics, kind)
    lists = pc.struct_field(holder, "data_points")
    points = pc.list_flatten(lists)
    to_metric = pc.list_parent_indices(lists)
    to_scope = pc.take(owners.metric_to_scope, to_metric)
    to_resource = pc.take(owners.scope_to_resource, to_scope)
    resource = attributes(pc.struct_field(pc.struct_field(owners.resource_metrics, "resource"), "attributes"))
    service = service_names(resource.values)
    scope = pc.struct_field(owners.scope_metrics, "scope")
    columns = {
        "ResourceAttributes": pc.take(resource.values, to_resource),
        "ServiceName": pc.take(service, to_resource),
        "ScopeName": pc.take(pc.fill_null(pc.struct_field(scope, "name"), ""), to_scope),
        "ScopeVersion": pc.take(pc.fill_null(pc.struct_field(scope, "version"), ""), to_scope),
        "MetricName": pc.take(pc.struct_field(metrics, "name"), to_metric),
        "MetricDescription": pc.take(pc.struct_field(metrics, "description"), to_metric),
        "MetricUnit": pc.take(pc.struct_field(metrics, "unit"), to_metric),
        "Attributes": attributes(pc.struct_field(points, "attributes")).values,
        "StartTimeUnix": _time(pc.struct_field(points, "start_time_unix_nano")),
        "TimeUnix": _time(pc.struct_field(points, "time_unix_nano"), default_now=True),
        "Flags": pc.struct_field(points, "flags"),
    }
    if kind in (GAUGE, SUM):
        columns["Value"] = pc.fill_null(pc.coalesce(pc.struct_field(points, "as_double"),
                                                    pc.cast(pc.struct_field(points, "as_int"), pa.float64(), safe=False)), 0.0)
    if kind in (SUM, HISTOGRAM):
        columns["AggregationTemporality"] = pc.take(pc.struct_field(holder, "aggregation_temporality"), to_metric)
    if kind == SUM:
        columns["IsMonotonic"] = pc.take(pc.struct_field(holder, "is_monotonic"), to_metric)
    if kind == HISTOGRAM:
        columns.update({
            "Count": pc.struct_field(points, "count"),
            "Sum": pc.fill_null(pc.struct_field(points, "sum"), 0.0),
            "BucketCounts": pc.struct_field(points, "bucket_counts"),
            "ExplicitBounds": pc.struct_field(points, "explicit_bounds"),
            "Min": pc.struct_field(points, "min"),
            "Max": pc.struct_field(points, "max"),
        })
    schema = POINT_SCHEMAS[kind]
    return pa.Table.from_pydict({name: columns[name] for name in schema.names}).cast(schema)


def _time(nanos: pa.Array, default_now: bool = False) -> pa.Array:
    """Nanoseconds as timestamps; a point's time is required by OTLP, so 0 means 'now'."""
    if default_now:
        nanos = pc.if_else(pc.equal(nanos, pa.scalar(0, pa.uint64())), pa.scalar(time.time_ns(), pa.uint64()), nanos)
    clamped = pc.min_element_wise(nanos, pa.scalar(_MAX_TIME, pa.uint64()))
    return pc.cast(pc.cast(clamped, pa.int64()), TIMESTAMP)

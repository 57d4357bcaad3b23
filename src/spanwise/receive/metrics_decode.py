"""OTLP metric export requests (protobuf bytes) to columnar points, one table per kind:
gauges, sums, explicit-bucket and exponential histograms, and summaries. Same vectorized
approach as the span decoder.

Points that could not be read back sensibly are rejected (partial success), counted and
named, not silently dropped: exponential histograms of a scale outside OTLP's [-10, 20],
with more than `MAX_EXPONENTIAL_BUCKETS` buckets on a side, or with bucket indexes past
float64's range (which also keeps every index within Int32); summaries with more than
`MAX_SUMMARY_QUANTILES` quantiles or one outside [0, 1].
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import ptars
import pyarrow as pa
import pyarrow.compute as pc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from spanwise.core.exponential_histogram import LOG2_RANGE, MAX_SCALE, MIN_SCALE
from spanwise.core.otlp_metrics import EXPONENTIAL_HISTOGRAM, GAUGE, HISTOGRAM, POINT_SCHEMAS, SUM, SUMMARY
from spanwise.core.spans import TIMESTAMP
from spanwise.receive.decode import attributes, record_batch, service_names
from spanwise.core.time_window import ANY_TIME, TimeWindow

_HANDLER = ptars.HandlerPool([ExportMetricsServiceRequest.DESCRIPTOR.file]).get_for_message(
    ExportMetricsServiceRequest.DESCRIPTOR
)
_MAX_TIME = 2**63 - 1
#: Buckets per side of one exponential histogram point (SDKs default to 160).
MAX_EXPONENTIAL_BUCKETS = 2048
#: Quantiles of one summary point (Prometheus clients report a handful).
MAX_SUMMARY_QUANTILES = 64


@dataclass(frozen=True)
class DecodedMetrics:
    """Points per kind (`POINT_SCHEMAS`), and what was not stored and why."""

    points: dict[str, pa.Table] = field(default_factory=dict)
    rejected: int = 0
    reject_reason: str = ""

    @property
    def accepted(self) -> int:
        return sum(table.num_rows for table in self.points.values())


def decode_metrics_requests(bodies: list[bytes], window: TimeWindow = ANY_TIME) -> DecodedMetrics:
    """Decode serialized `ExportMetricsServiceRequest`s; raises `MalformedPayload` when a
    body is not a valid protobuf message. Points that fail their kind's checks (`_CHECKS`)
    or are timed outside `window` are rejected."""
    record = record_batch(_HANDLER, bodies)
    rm = pc.list_flatten(record.column("resource_metrics"))
    scope_lists = pc.struct_field(rm, "scope_metrics")
    sm = pc.list_flatten(scope_lists)
    metric_lists = pc.struct_field(sm, "metrics")
    metrics = pc.list_flatten(metric_lists)
    owners = _Owners(rm, sm, pc.list_parent_indices(scope_lists), pc.list_parent_indices(metric_lists))
    points = {kind: _points(metrics, kind, owners) for kind in POINT_SCHEMAS}
    reasons: list[str] = []
    rejected = 0
    for kind, check in _CHECKS.items():
        if not points[kind].num_rows:
            continue
        message, valid = check(points[kind])
        invalid = points[kind].num_rows - pc.sum(valid).as_py()
        if invalid:
            points[kind] = points[kind].filter(valid)
            rejected += invalid
            reasons.append(f"{invalid} {kind.replace('_', ' ')} point(s): {message}")
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


def _points(metrics: pa.StructArray, kind: str, owners: _Owners) -> pa.Table:
    holder = pc.struct_field(metrics, kind)
    lists = pc.struct_field(holder, "data_points")
    points = pc.list_flatten(lists)
    if not len(points):  # most requests carry two or three of the five kinds
        return POINT_SCHEMAS[kind].empty_table()
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
    if kind in (SUM, HISTOGRAM, EXPONENTIAL_HISTOGRAM):
        columns["AggregationTemporality"] = pc.take(pc.struct_field(holder, "aggregation_temporality"), to_metric)
    if kind == SUM:
        columns["IsMonotonic"] = pc.take(pc.struct_field(holder, "is_monotonic"), to_metric)
    if kind in (HISTOGRAM, EXPONENTIAL_HISTOGRAM):
        columns.update({
            "Count": pc.struct_field(points, "count"),
            "Sum": pc.fill_null(pc.struct_field(points, "sum"), 0.0),
            "Min": pc.struct_field(points, "min"),
            "Max": pc.struct_field(points, "max"),
        })
    if kind == HISTOGRAM:
        columns["BucketCounts"] = pc.struct_field(points, "bucket_counts")
        columns["ExplicitBounds"] = pc.struct_field(points, "explicit_bounds")
    if kind == EXPONENTIAL_HISTOGRAM:
        columns["Scale"] = pc.struct_field(points, "scale")
        columns["ZeroCount"] = pc.struct_field(points, "zero_count")
        for side in ("positive", "negative"):
            buckets = pc.struct_field(points, side)  # null when the point has no such side
            columns[f"{side.title()}Offset"] = pc.fill_null(pc.struct_field(buckets, "offset"), 0)
            columns[f"{side.title()}BucketCounts"] = _filled(pc.struct_field(buckets, "bucket_counts"))
    if kind == SUMMARY:
        quantiles = pc.struct_field(points, "quantile_values")
        columns.update({
            "Count": pc.struct_field(points, "count"),
            "Sum": pc.struct_field(points, "sum"),
            "ValueAtQuantiles.Quantile": _list_field(quantiles, "quantile"),
            "ValueAtQuantiles.Value": _list_field(quantiles, "value"),
        })
    schema = POINT_SCHEMAS[kind]
    return pa.Table.from_pydict({name: columns[name] for name in schema.names}).cast(schema)


def _time(nanos: pa.Array, default_now: bool = False) -> pa.Array:
    """Nanoseconds as timestamps; a point's time is required by OTLP, so 0 means 'now'."""
    if default_now:
        nanos = pc.if_else(pc.equal(nanos, pa.scalar(0, pa.uint64())), pa.scalar(time.time_ns(), pa.uint64()), nanos)
    clamped = pc.min_element_wise(nanos, pa.scalar(_MAX_TIME, pa.uint64()))
    return pc.cast(pc.cast(clamped, pa.int64()), TIMESTAMP)


def _filled(lists: pa.Array) -> pa.Array:
    """A list column whose nulls (an absent message) are empty lists."""
    return pc.if_else(pc.is_null(lists), pa.scalar([], lists.type), lists)


def _list_field(lists: pa.Array, name: str) -> pa.Array:
    """Lists of structs as lists of one of their fields (same lengths)."""
    lengths = pc.list_value_length(lists)
    offsets = pa.array([0, *np.cumsum(lengths.to_numpy(zero_copy_only=False))], pa.int32())
    return pa.ListArray.from_arrays(offsets, pc.struct_field(pc.list_flatten(lists), name))


def _exponential_valid(points: pa.Table) -> tuple[str, pa.Array]:
    """Points whose buckets can be read back: see the module's docstring."""
    scale = points.column("Scale")
    valid = pc.and_(pc.greater_equal(scale, MIN_SCALE), pc.less_equal(scale, MAX_SCALE))
    # beyond +-LOG2_RANGE * 2^scale an index holds no float64 (+1: at negative scales indexes
    # are rounded down); 1.2e9 at most, which Int32 holds with room for any offset's buckets
    scaled = pc.power(2.0, pc.cast(pc.if_else(valid, scale, 0), pa.float64()))
    limit = pc.add(pc.multiply(scaled, float(LOG2_RANGE)), 1.0)
    for side in ("Positive", "Negative"):
        lengths = pc.list_value_length(points.column(f"{side}BucketCounts"))
        first = pc.cast(points.column(f"{side}Offset"), pa.float64())
        beyond = pc.add(first, pc.cast(lengths, pa.float64()))
        within = pc.and_(pc.greater_equal(first, pc.negate(limit)), pc.less_equal(beyond, limit))
        valid = pc.and_(valid, pc.and_(pc.less_equal(lengths, MAX_EXPONENTIAL_BUCKETS), within))
    return (f"scale must lie in [{MIN_SCALE}, {MAX_SCALE}], each side have at most {MAX_EXPONENTIAL_BUCKETS} "
            "buckets, and bucket indexes stay within float64's range", valid)


def _summary_valid(points: pa.Table) -> tuple[str, pa.Array]:
    """At most MAX_SUMMARY_QUANTILES quantiles per point, each in [0, 1] (NaN is not)."""
    quantiles = points.column("ValueAtQuantiles.Quantile").combine_chunks()
    lengths = pc.list_value_length(quantiles)
    flat = pc.list_flatten(quantiles)
    bad = pc.invert(pc.and_(pc.greater_equal(flat, 0.0), pc.less_equal(flat, 1.0)))  # NaN compares false
    per_point = np.bincount(pc.list_parent_indices(quantiles).to_numpy(), weights=bad.to_numpy(zero_copy_only=False),
                            minlength=points.num_rows)
    valid = pc.and_(pc.less_equal(lengths, MAX_SUMMARY_QUANTILES), pa.array(per_point == 0))
    return f"at most {MAX_SUMMARY_QUANTILES} quantiles, each between 0 and 1", valid


_CHECKS = {EXPONENTIAL_HISTOGRAM: _exponential_valid, SUMMARY: _summary_valid}

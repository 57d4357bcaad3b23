"""Exponential histograms and summaries decode into the exporter-shaped columns: each side's
offset and bucket counts (an absent side empty), scale, zero count, min/max and temporality;
a summary's quantile values split into the Nested column's two arrays."""

from __future__ import annotations

import time

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from spanwise.core.otlp_metrics import EXPONENTIAL_HISTOGRAM, POINT_SCHEMAS, SUMMARY
from spanwise.receive.metrics_decode import decode_metrics_requests

NOW = time.time_ns()


def test_exponential_histogram_and_summary_points_decode() -> None:
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    kv = resource.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "api"
    metrics = resource.scope_metrics.add().metrics
    latency = metrics.add(name="latency", unit="ms").exponential_histogram
    latency.aggregation_temporality = 1
    both = latency.data_points.add(time_unix_nano=NOW, count=6, sum=-3.5, scale=3, zero_count=1, min=-4.0, max=2.0)
    both.positive.offset, both.negative.offset = 7, -2
    both.positive.bucket_counts.extend([1, 2])
    both.negative.bucket_counts.extend([0, 2])
    latency.data_points.add(time_unix_nano=NOW, count=0, scale=-1)  # no sides, no sum
    rpc = metrics.add(name="rpc").summary.data_points.add(time_unix_nano=NOW, count=4, sum=10.0)
    for q, value in ((0.5, 2.0), (0.99, 4.0)):
        rpc.quantile_values.add(quantile=q, value=value)
    decoded = decode_metrics_requests([request.SerializeToString()])
    assert (decoded.accepted, decoded.rejected) == (3, 0)
    assert decoded.points[EXPONENTIAL_HISTOGRAM].schema == POINT_SCHEMAS[EXPONENTIAL_HISTOGRAM]
    columns = ("ServiceName", "MetricUnit", "Count", "Sum", "Scale", "ZeroCount", "PositiveOffset",
               "PositiveBucketCounts", "NegativeOffset", "NegativeBucketCounts", "Min", "Max", "AggregationTemporality")
    rows = [tuple(row[c] for c in columns) for row in decoded.points[EXPONENTIAL_HISTOGRAM].to_pylist()]
    assert rows == [("api", "ms", 6, -3.5, 3, 1, 7, [1, 2], -2, [0, 2], -4.0, 2.0, 1),
                    ("api", "ms", 0, 0.0, -1, 0, 0, [], 0, [], None, None, 1)]
    summary = decoded.points[SUMMARY].to_pylist()
    assert [(r["MetricName"], r["Count"], r["Sum"], r["ValueAtQuantiles.Quantile"], r["ValueAtQuantiles.Value"])
            for r in summary] == [("rpc", 4, 10.0, [0.5, 0.99], [2.0, 4.0])]

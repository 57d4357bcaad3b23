#!/usr/bin/env python3
"""Forwarding encoder throughput: processed span tables back to OTLP request bytes.

usage: forward_encode.py [--requests N] [--batch TRACES] [--repeat R]

Builds the load generator's requests (otlp_load.build: 5-span AI inference traces),
decodes them and runs ml_fields as the server does, then times
`spanwise.process.forward_encode.encode_requests` (4096-span requests, as the forwarder
sends) on tables of 1, 4 and N requests. For scale it also times a plain per-span Python
encoder (protobuf objects built from `Table.to_pylist()`, attribute types restored),
the design the vectorized encoder replaces.
Prints one line per table size: spans, vectorized spans/s, per-span Python spans/s.
"""
import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from otlp_load import build  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402

from spanwise.process.forward import MAX_REQUEST_BYTES, MAX_REQUEST_SPANS  # noqa: E402
from spanwise.process.forward_encode import encode_requests  # noqa: E402
from spanwise.process.ml_fields import MlFieldsProcessor  # noqa: E402
from spanwise.receive.decode import decode_export_requests  # noqa: E402

KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")


def per_span_python(table) -> bytes:
    """The straightforward encoder: one protobuf Span per row (string/int/double/bool only)."""
    request = ExportTraceServiceRequest()
    scopes = {}
    for row in table.to_pylist():
        key = (row["ServiceName"], tuple(row["ResourceAttributes"]), row["ScopeName"], row["ScopeVersion"])
        scope = scopes.get(key)
        if scope is None:
            rs = request.resource_spans.add()
            set_attributes(rs.resource.attributes, row["ResourceAttributes"], dict(row["ResourceAttributeTypes"]))
            scope = scopes[key] = rs.scope_spans.add()
            scope.scope.name, scope.scope.version = row["ScopeName"], row["ScopeVersion"]
        span = scope.spans.add()
        span.trace_id, span.span_id = bytes.fromhex(row["TraceId"]), bytes.fromhex(row["SpanId"])
        span.parent_span_id = bytes.fromhex(row["ParentSpanId"])
        span.name, span.kind = row["SpanName"], KINDS.index(row["SpanKind"])
        span.start_time_unix_nano = row["Timestamp"].value
        span.end_time_unix_nano = row["Timestamp"].value + row["Duration"]
        set_attributes(span.attributes, row["SpanAttributes"], dict(row["SpanAttributeTypes"]))
        if row["StatusCode"] != "Unset":
            span.status.code, span.status.message = ("Unset", "Ok", "Error").index(row["StatusCode"]), row["StatusMessage"]
    return request.SerializeToString()


def set_attributes(target, items, types) -> None:
    for key, text in items:
        kv = target.add()
        kv.key = key
        kind = types.get(key)
        if kind == "int64":
            kv.value.int_value = int(text)
        elif kind == "float64":
            kv.value.double_value = float(text)
        elif kind == "bool":
            kv.value.bool_value = text == "true"
        else:
            kv.value.string_value = text


def best_rate(work, spans: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return spans / best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--batch", type=int, default=200, help="traces per request (5 spans each)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    t0 = time.time_ns() - 3600 * 10**9
    bodies = [build(args.batch, random.Random(1000 + i), t0) for i in range(args.requests)]
    for count in sorted({1, min(4, args.requests), args.requests}):
        table = MlFieldsProcessor().process(decode_export_requests(bodies[:count]).batch).spans
        fast = best_rate(lambda: encode_requests(table, MAX_REQUEST_SPANS, MAX_REQUEST_BYTES), table.num_rows, args.repeat)
        slow = best_rate(lambda: per_span_python(table), table.num_rows, max(1, args.repeat // 2))
        print(f"spans={table.num_rows} vectorized_spans_per_s={fast:,.0f} per_span_python_spans_per_s={slow:,.0f}")


if __name__ == "__main__":
    main()

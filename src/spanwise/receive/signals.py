"""The OTLP signals Spanwise receives, described once for both receivers.

A signal is its HTTP path, its gRPC service, the service that ingests its serialized
export requests, its OTLP/JSON parser and its export response: the gRPC and HTTP
receivers are the same code for traces, logs and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from spanwise.receive.ingest import ExportOutcome
from spanwise.receive.otlp_json import JsonRequest, json_to_protobuf, logs_json_to_protobuf, whole_json_to_protobuf


class Exporter(Protocol):
    async def export_protobuf(self, body: bytes, extra_rejected: int = 0, extra_message: str = "") -> ExportOutcome:
        """Ingest one serialized export request; return once it is durable."""
        ...


@dataclass(frozen=True)
class OtlpSignal:
    http_path: str
    grpc_service: str
    exporter: Exporter
    from_json: Callable[[bytes], JsonRequest]
    response: Callable[[ExportOutcome], Message]


def _response(message: type[Message], rejected_field: str) -> Callable[[ExportOutcome], Message]:
    """The signal's export response; partial success names what was rejected and why."""

    def build(outcome: ExportOutcome) -> Message:
        response = message()
        if outcome.rejected:
            partial = getattr(response, "partial_success")  # every OTLP export response has one
            setattr(partial, rejected_field, outcome.rejected)
            partial.error_message = outcome.message
        return response

    return build


def traces_signal(exporter: Exporter) -> OtlpSignal:
    return OtlpSignal("/v1/traces", "opentelemetry.proto.collector.trace.v1.TraceService",
                      exporter, json_to_protobuf, _response(ExportTraceServiceResponse, "rejected_spans"))


def logs_signal(exporter: Exporter) -> OtlpSignal:
    return OtlpSignal("/v1/logs", "opentelemetry.proto.collector.logs.v1.LogsService",
                      exporter, logs_json_to_protobuf, _response(ExportLogsServiceResponse, "rejected_log_records"))


def metrics_signal(exporter: Exporter) -> OtlpSignal:
    return OtlpSignal("/v1/metrics", "opentelemetry.proto.collector.metrics.v1.MetricsService",
                      exporter, lambda body: whole_json_to_protobuf(body, ExportMetricsServiceRequest()),
                      _response(ExportMetricsServiceResponse, "rejected_data_points"))
